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
