"""Where code runs: a learner's kernel never loads the grading or server stack, and the layers hold."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course import contract
from course.store.answers import AnswerStore
from conftest import ROOT, STORE_BACKENDS, store_location

SERVER_SIDE = ("nbgrader", "jupyter_server", "sqlalchemy", "voila")

# What a learner's kernel on the site does: show every module's widgets, save answers, press Submit.
KERNEL = r"""
import importlib, json, pkgutil, re, sys
import course.lesson.figures, course.lesson.widgets, course.lesson.self_assessment
for info in pkgutil.iter_modules(course.lesson.figures.__path__):
    importlib.import_module(f"course.lesson.figures.{info.name}")
from course.lesson import session, submissions
from course.paths import folder
module = sorted(p.stem for p in folder("modules").glob("01-*.ipynb"))[0]
cells = submissions.answer_cells(submissions.read(folder("modules") / f"{module}.ipynb"))
current = session.current()
for item, kind in cells.items():
    current._store().save(current.learner, module, item, "a" if kind == "code" else "My reflection.")
path = current.submit(module)
with open("/proc/self/status") as fh:  # VmHWM: this process's peak RSS (getrusage's survives exec)
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", fh.read()).group(1))
print(json.dumps({"submitted": str(path), "loaded": sorted({name.split(".")[0] for name in sys.modules}),
                  "modules": len(sys.modules), "max_rss_kb": peak}))
"""


@pytest.fixture(params=STORE_BACKENDS)
def store(request, tmp_path) -> str:
    return str(store_location(request, tmp_path))


def test_submitting_from_a_learner_kernel_loads_no_grading_or_server_stack(store, tmp_path):
    """On either back end; psycopg is loaded only by a kernel whose store is on PostgreSQL."""
    env = {**os.environ, contract.STORE_ENV: store,
           contract.EXCHANGE_ENV: str(tmp_path / "exchange"), contract.LEARNER_ENV: "ana",
           contract.folder_env("cache"): str(tmp_path / "cache")}
    env.pop("VOILA_PREHEAT", None)
    AnswerStore(store).add_learner("ana", "Ana")
    run = subprocess.run([sys.executable, "-c", KERNEL], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["submitted"].startswith(str(tmp_path / "exchange" / contract.COURSE_ID / "inbound"))
    assert not set(SERVER_SIDE) & set(result["loaded"]), "a learner's kernel loaded the server or grading stack"
    assert ("psycopg" in result["loaded"]) == store.startswith("postgresql://")
    backend = "postgresql" if store.startswith("postgresql://") else "sqlite"
    print(f"kernel on {backend}: {result['modules']} modules, peak RSS {result['max_rss_kb'] / 1024:.0f} MB")


def test_every_answer_cell_in_the_solutions_follows_the_item_id_grammar():
    kinds = {contract.CHECK_ID: 0, contract.CHECK_TEST_ID: 0, contract.REFLECTION_ID: 0}
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]-*.ipynb")):
        number = path.name[:2]
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            grading = cell.get("metadata", {}).get("nbgrader", {})
            grade_id = grading.get("grade_id", "")
            if grading.get("solution") or grading.get("grade"):
                matched = [p for p in kinds if p.match(grade_id)]
                assert matched, f"{path.name}: {grade_id!r} is not a check, check test or reflection id"
                kinds[matched[0]] += 1
                assert contract.module_number(grade_id) == number, f"{path.name}: {grade_id!r}"
    assert all(kinds.values()), kinds


def test_item_ids_name_their_module_and_nothing_else_passes():
    assert contract.module_number("m01-q1") == "01"
    assert contract.module_number("m06-plan-sponsor") == "06"
    assert contract.CHECK_TEST_ID.match("m01-q1-check") and not contract.CHECK_ID.match("m01-q1-check")
    for bad in ("01-q1", "m1-q1", "m01", "m01-Q1", "../m01-q1", "m01-q1\n"):
        assert not contract.ITEM_ID.fullmatch(bad)
        try:
            contract.module_number(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was taken for an item id")


def test_the_layers_hold():
    """pyproject.toml's [tool.importlinter] contracts: kernel code imports no grading or server code."""
    lint = Path(sys.executable).parent / "lint-imports"  # installed with the test extra
    run = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout
