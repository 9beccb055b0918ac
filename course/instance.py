"""A site's private folder: the answer store, the sign-in secret and nbgrader's exchange.

It lives outside everything the website serves; `instance/` in the repository is git-ignored.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from course.paths import ROOT

DEFAULT = ROOT / "instance"


class Instance:
    def __init__(self, root: str | Path = DEFAULT):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    @property
    def store(self) -> Path:
        return self.root / "answers.sqlite3"

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    def cookie_secret(self, name: str = "cookie_secret") -> bytes:
        """A site's sign-in secret, kept across restarts in the file `name`, so sign-ins survive them."""
        path = self.root / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        return path.read_bytes()
