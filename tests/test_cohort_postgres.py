"""The cohort site with its answer store on PostgreSQL (`cohort serve --store-url`), in real Chromium against a
real server the suite starts: a learner signs in, saves, sees their progress, and finds their answers again
after the site restarts; the answers are in PostgreSQL, and no SQLite file was made."""
import json

import psycopg
import pytest
from conftest import start_cohort
from test_cohort_answers import PAGE, MODULE, answer, open_module, shown, sign_in

from course.store.answers import AnswerStore


@pytest.fixture
def pg_site(tmp_path, pg_cluster):
    url = pg_cluster.database("cohort")
    server, codes = start_cohort(tmp_path, "--pool-size", "0", store_url=url)
    yield server, codes, url
    server.stop()


def in_postgres(url: str, learner: str) -> dict[str, bytes]:
    """The learner's latest answers to Module 1, read from PostgreSQL's tables directly."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT item, value FROM latest JOIN answers USING (learner, module, item, revision) "
                            "WHERE learner = %s AND module = %s", (learner, MODULE)).fetchall()
    return dict(rows)


def test_a_learner_saves_on_postgres_and_finds_the_answers_after_a_restart(pg_site, browser):
    server, codes, url = pg_site
    typed = "Ich frage, wer noch im Raum war. — \u00e9\u00e8 <b>bold?</b> \U0001F600"
    context = browser.new_context()
    try:
        page = sign_in(context, server.url, "ana", codes["ana"])
        assert answer(page, "m01-q1", "b").startswith("Saved at")
        assert answer(page, "m01-r1", typed).startswith("Saved at")
        assert in_postgres(url, "ana") == {"m01-q1": b"b", "m01-r1": typed.encode("utf-8")}
        assert not (server.instance / "answers.sqlite3").exists()  # the instance keeps no answers of its own
        progress = json.loads(page.evaluate("fetch('/allies/progress').then(r => r.text())"))
        module = next(m for m in progress["modules"] if m["path"] == f"{MODULE}.ipynb")
        assert module["answered"] == 2 and progress["continue"] == f"{MODULE}.ipynb"

        server.stop()
        server.args = [arg for arg in server.args if arg != url and arg != "--store-url"]  # the instance remembers
        server.start()
        page = open_module(context, server.url)
        assert page.url == server.url + PAGE
        assert shown(page, "m01-q1") == "b" and shown(page, "m01-r1") == typed
        with AnswerStore(url) as store:
            assert store.load("ana", MODULE) == {"m01-q1": "b", "m01-r1": typed}
            assert [r.value for r in store.history("ana", MODULE, "m01-r1")] == [typed]
        assert not (server.instance / "answers.sqlite3").exists()
    finally:
        context.close()


def test_the_store_url_is_checked_kept_private_and_remembered(tmp_path, monkeypatch):
    from course.contract import STORE_URL_ENV
    from course.instance import Instance

    monkeypatch.delenv(STORE_URL_ENV, raising=False)
    assert Instance(tmp_path / "plain").store == tmp_path / "plain" / "answers.sqlite3"  # the default
    url = "postgresql://allies:s3cret@db.example.org/allies"
    assert Instance(tmp_path / "pg", store_url=url).store == url
    assert Instance(tmp_path / "pg").store == url  # later commands on the instance find it
    assert (tmp_path / "pg" / "store-url").stat().st_mode & 0o077 == 0  # it may hold a password
    monkeypatch.setenv(STORE_URL_ENV, "postgres://other@db2/allies")
    assert Instance(tmp_path / "pg").store == "postgres://other@db2/allies"  # the environment wins
    for bad in ("mysql://u:hunter2@h/d", "sqlite:///answers.db", "/srv/answers.sqlite3", " postgresql://x/y"):
        with pytest.raises(ValueError, match="must be a PostgreSQL URL") as refused:
            Instance(tmp_path / "bad", store_url=bad)
        assert "hunter2" not in str(refused.value)
        monkeypatch.setenv(STORE_URL_ENV, bad)
        with pytest.raises(ValueError, match=f"{STORE_URL_ENV} must be a PostgreSQL URL"):
            Instance(tmp_path / "plain").store
    assert not (tmp_path / "bad" / "store-url").exists()


def test_the_command_line_refuses_a_store_url_that_is_not_postgres(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    run = subprocess.run([sys.executable, "-m", "course", "cohort", "reset-code", "ana", "--instance",
                          str(tmp_path / "i"), "--store-url", "mysql://u:hunter2@h/d"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--store-url must be a PostgreSQL URL" in run.stderr
    assert "hunter2" not in run.stderr and "Traceback" not in run.stderr
