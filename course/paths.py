"""Where the course's folders are, overridable by environment for hosted and test set-ups."""
import os
from pathlib import Path

from course.contract import folder_env, module_number

ROOT = Path(__file__).resolve().parent.parent
# Folders that are not named like their key; the rest are ROOT / name.
DEFAULTS = {"cache": ROOT / "instance" / "cache"}


def folder(name: str) -> Path:
    """The course folder `name` (data, modules, solutions, cache), or ALLIES_<NAME>_DIR if set."""
    override = os.environ.get(folder_env(name))
    return Path(override) if override else DEFAULTS.get(name, ROOT / name)


def module_of(item: str) -> str:
    """The module an item belongs to: item 'm01-q1' belongs to module '01-…' (its notebook in modules/)."""
    number = module_number(item)
    matches = sorted(p.stem for p in folder("modules").glob(f"{number}-*.ipynb"))
    if not matches:
        raise ValueError(f"No module for item {item!r}")
    return matches[0]
