"""The project's own files install and describe the same environment."""
import re
import tomllib

from conftest import ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    deps = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    listed = {_name(m) for m in re.findall(r"^  - ([A-Za-z][\w\-.]*)", deps, re.M)} - {"python", "pip", "nodejs"}
    assert listed == wanted


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
