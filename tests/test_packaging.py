"""The project's own files install and describe the same environment."""
import re
import tomllib
from pathlib import Path

from conftest import ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return project["dependencies"] + extras["test"] + extras["hub"]


def _spec(requirement: str) -> str:
    """The version bounds; pip's extras (psycopg[binary]) have no conda spelling and are left out."""
    return re.sub(r"^\[[^\]]*\]", "", requirement.strip()[len(_name(requirement)):].replace(" ", ""))


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    wanted = {_name(r): _spec(r) for r in _declared()}
    deps = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    # conda-forge's packages, and those pip installs (`pip:`) that conda-forge does not have
    listed = {_name(m): _spec(m) for m in re.findall(r"^  (?:    )?- ([A-Za-z][^\s#:]*)", deps, re.M)}
    listed = {k: v for k, v in listed.items() if k not in ("python", "pip", "nodejs")}
    assert listed == wanted


def test_every_dependency_is_bounded_below_the_next_major_version():
    for requirement in _declared():
        assert ">=" in requirement and ",<" in requirement, f"{requirement}: give a lower and an upper bound"


def _imported_top_level_names() -> dict[str, set[str]]:
    """Top-level names of the modules imported in course/, tests/ and bench/, each with its files."""
    import ast
    import sys

    local = {"course", "bench"} | {p.stem for d in ("tests", "tests/helpers", "bench") for p in (ROOT / d).glob("*.py")}
    found: dict[str, set[str]] = {}
    for folder in ("course", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in local and top != "__future__":
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_module_imported_is_a_declared_dependency():
    from importlib.metadata import packages_distributions

    distributions = packages_distributions()
    declared = {_name(r) for r in _declared()}
    undeclared = {}
    for top, files in _imported_top_level_names().items():
        names = {_name(d) for d in distributions.get(top, [])}
        assert names, f"{top} (imported in {sorted(files)}) is not installed"
        if not names & declared:
            undeclared[top] = sorted(files)
    assert not undeclared, f"imported but not declared in pyproject.toml and environment.yml: {undeclared}"


def test_the_page_bundles_the_widget_javascript_of_the_installed_ipywidgets():
    """frontend/ bundles @jupyter-widgets/* from npm; the kernel speaks the installed ipywidgets' protocol.
    The versions in the npm lock must be the ones the installed ipywidgets ships (its JupyterLab manager)."""
    import json
    import sys

    manager = json.loads((Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter-widgets"
                          / "jupyterlab-manager" / "package.json").read_text())
    shipped = {name: spec.lstrip("^~") for name, spec in manager["dependencies"].items()
               if name.startswith("@jupyter-widgets/")}
    lock = json.loads((ROOT / "frontend" / "package-lock.json").read_text())["packages"]
    locked = {path.split("node_modules/", 1)[1]: entry["version"] for path, entry in lock.items()
              if path.startswith("node_modules/@jupyter-widgets/")}
    assert locked, "no @jupyter-widgets packages in frontend/package-lock.json"
    for name, version in locked.items():
        assert name in shipped, f"{name} is locked but the installed ipywidgets ships no such package"
        assert version == shipped[name], (f"frontend/package-lock.json has {name} {version}; the installed "
                                          f"ipywidgets ships {shipped[name]}")


def test_installed_versions_are_past_known_advisories():
    from importlib.metadata import version

    def v(name):
        return tuple(int(p) for p in re.findall(r"\d+", version(name))[:3])

    assert v("voila") >= (0, 5, 6)
    assert v("jupyter_server") >= (2, 20, 0)
    assert v("nbconvert") >= (7, 17, 1)


def test_ci_runs_the_documented_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()


def test_code_has_no_unused_names_or_syntax_errors():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F,E9", "course", "tests"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_the_suite_keeps_its_chart_cache_out_of_the_repository():
    """A warm instance/cache hid a 160 s cold start; each test session draws into its own folder."""
    from course.paths import folder

    assert not folder("cache").resolve().is_relative_to(ROOT)
