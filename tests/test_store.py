"""The learners' answer store: exact values, kept history, roster with hashed codes, no lost update under
concurrent threads and processes, and no acknowledged save lost to kill -9. Every test that takes `db` runs
on both back ends: a SQLite file, and a database on a real PostgreSQL server the suite starts
(tests/helpers/postgres.py)."""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import multiprocessing
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from conftest import ROOT, STORE_BACKENDS, store_location
from course.store import answers
from course.store.answers import (MAX_LEARNER_BYTES, MAX_SUBMISSIONS, MAX_VALUE_BYTES, ROW_BYTES, AnswerStore,
                                  Learner, LearnerExists, OverLimit, StoreBusy, Submission, TooLarge, UnknownLearner,
                                  is_url)

WORKER = Path(__file__).parent / "helpers" / "store_worker.py"
sys.path.insert(0, str(WORKER.parent))
import store_worker  # noqa: E402

HOSTILE = {
    "one_megabyte": "answer " * (1024 * 1024 // 7),
    "nul": "before\x00after\x00",
    "lone_high_surrogate": "a\ud800b",
    "lone_low_surrogate": "\udfffz",
    "reversed_surrogate_pair": "\udc00\ud800",
    "surrogate_pair_as_two_code_points": "\ud83d\ude00",
    "bidi_override": "\u202egnp.exe\u202c and \u2066isolate\u2069",
    "html": "<img src=x onerror=alert(1)><script>alert('x')</script>&amp;",
    "emoji": "\U0001F469\u200d\U0001F4BB\U0001F3F3\ufe0f\u200d\U0001F308 \U0001F600",
    "empty": "",
    "whitespace_only": " \t\r\n",
    "crlf_and_bom": "\ufeffline1\r\nline2\rline3\n",
    "noncharacters": "\uffff\ufffe\U0010ffff",
    "sql": "'); DROP TABLE answers; --",
    "exactly_the_cap": "\u20ac" * (MAX_VALUE_BYTES // 3) + "x" * (MAX_VALUE_BYTES % 3),
}


@pytest.fixture(params=STORE_BACKENDS)
def db(request, tmp_path) -> Path | str:
    """A new, empty store's location: a SQLite file's path or a PostgreSQL database's URL."""
    return store_location(request, tmp_path)


@pytest.fixture
def store(db):
    with AnswerStore(db) as s:
        s.add_learner("ana", "Ana")
        s.add_learner("ben", "Ben")
        yield s


@pytest.fixture(scope="module", params=STORE_BACKENDS)
def shared_store(request, tmp_path_factory):
    with AnswerStore(store_location(request, tmp_path_factory.mktemp("store"))) as s:
        s.add_learner("ana", "Ana")
        yield s


# -- values kept exactly ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_values_round_trip_exactly(store, db, name):
    value = HOSTILE[name]
    store.save("ana", "m01", "reflection", value)
    assert store.load("ana", "m01") == {"reflection": value}
    assert store.history("ana", "m01", "reflection")[-1].value == value
    with AnswerStore(db) as reopened:  # and from the file, not from any cache
        assert reopened.load("ana", "m01")["reflection"] == value


_counter = itertools.count()
# Any text, lone surrogates included. Neither st.characters(exclude_categories=()) nor st.text() over a
# one_of() alphabet ever yields a surrogate (hypothesis 6.170), so surrogates are drawn explicitly and the
# characters joined outside st.text(); test_text_strategy_really_includes_lone_surrogates guards this.
ANY_TEXT = st.lists(st.one_of(st.characters(exclude_categories=()), st.characters(categories=["Cs"]))).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=ANY_TEXT)
def test_any_text_round_trips_exactly(shared_store, value):
    item = f"q{next(_counter)}"
    shared_store.save("ana", "prop", item, value)
    assert shared_store.load("ana", "prop")[item] == value
    assert [r.value for r in shared_store.history("ana", "prop", item)] == [value]


def test_text_strategy_really_includes_lone_surrogates():
    found = find(ANY_TEXT, lambda s: any(0xD800 <= ord(c) <= 0xDFFF for c in s),
                 settings=settings(database=None))
    assert 0xD800 <= ord(found) <= 0xDFFF


# -- history, latest, isolation ------------------------------------------------------------------

def test_every_save_is_kept_and_latest_wins(store):
    acks = [store.save("ana", "m01", "plan", v) for v in ("I will", "I will listen", "I will listen more")]
    assert [a.revision for a in acks] == [1, 2, 3]
    history = store.history("ana", "m01", "plan")
    assert [(r.revision, r.value) for r in history] == [(1, "I will"), (2, "I will listen"), (3, "I will listen more")]
    assert [r.saved_at for r in history] == [a.saved_at for a in acks]
    assert store.load("ana", "m01") == {"plan": "I will listen more"}


def test_saving_the_same_value_again_still_appends_a_revision(store):
    store.save("ana", "m01", "kc1", "B")
    assert store.save("ana", "m01", "kc1", "B").revision == 2
    assert len(store.history("ana", "m01", "kc1")) == 2


def test_saved_times_are_utc_and_in_save_order(store):
    before = dt.datetime.now(dt.timezone.utc)
    acks = [store.save("ana", "m01", f"i{n % 3}", str(n)) for n in range(20)]
    after = dt.datetime.now(dt.timezone.utc)
    times = [a.saved_at for a in acks]
    assert all(t.utcoffset() == dt.timedelta(0) for t in times)
    assert before <= times[0] and times == sorted(times) and times[-1] <= after


def test_learners_are_isolated(store):
    store.save("ana", "m01", "kc1", "A")
    store.save("ana", "m01", "ana-only", "secret of ana")
    store.save("ben", "m01", "kc1", "C")
    store.save("ana", "m02", "kc1", "D")
    assert store.load("ana", "m01") == {"kc1": "A", "ana-only": "secret of ana"}
    assert store.load("ben", "m01") == {"kc1": "C"}
    assert store.load("ben", "m02") == {}
    assert store.history("ben", "m01", "ana-only") == []
    assert [r.value for r in store.history("ben", "m01", "kc1")] == ["C"]


def test_load_of_nothing_saved_is_empty(store):
    assert store.load("ana", "m09") == {}
    assert store.history("ana", "m09", "kc1") == []
    assert store.load("nobody", "m01") == {}


def test_unknown_learner_cannot_save(store):
    with pytest.raises(UnknownLearner, match="'zoe' is not on the roster"):
        store.save("zoe", "m01", "kc1", "A")
    with pytest.raises(UnknownLearner):
        store.record_submission("zoe", "m01", "/x.ipynb")


# -- roster and access codes ----------------------------------------------------------------------

def test_access_code_verifies_only_for_its_learner(db):
    with AnswerStore(db) as s:
        ana_code = s.add_learner("ana", "Ana Ruiz")
        ben_code = s.add_learner("ben", "Ben Okafor", role="instructor")
        assert s.verify("ana", ana_code) == Learner("ana", "Ana Ruiz", "learner")
        assert s.verify("ben", ben_code) == Learner("ben", "Ben Okafor", "instructor")
        assert s.verify("ana", ben_code) is None  # another learner's code
        assert s.verify("ben", ana_code) is None
        assert s.verify("ana", ana_code[:-1] + ("2" if ana_code[-1] != "2" else "3")) is None
        assert s.verify("ana", "") is None
        assert s.verify("zoe", ana_code) is None  # not on the roster
        assert s.verify("../ana", ana_code) is None  # invalid id: refused, not an exception
        assert s.verify("ana", None) is None  # type: ignore[arg-type]
        # As typed by a person: upper case, spaces instead of hyphens, no separators.
        assert s.verify("ana", ana_code.upper()) is not None
        assert s.verify("ana", f"  {ana_code.replace('-', ' ')} ") is not None
        assert s.verify("ana", ana_code.replace("-", "")) is not None


def test_access_codes_are_readable_and_distinct(store):
    codes = {store.add_learner(f"l{i}", f"Learner {i}") for i in range(5)}
    assert len(codes) == 5
    for code in codes:
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4]
        assert set(code.replace("-", "")) <= set("23456789abcdefghjkmnpqrstuvwxyz")


def test_reset_code_replaces_the_old_code(store):
    old = store.add_learner("cleo", "Cleo")
    new = store.reset_code("cleo")
    assert new != old
    assert store.verify("cleo", old) is None
    assert store.verify("cleo", new) == Learner("cleo", "Cleo", "learner")
    with pytest.raises(UnknownLearner):
        store.reset_code("zoe")


def test_sessions_end_with_a_new_code_a_withdrawal_or_on_request(store):
    code = store.add_learner("cleo", "Cleo")
    first = store.session("cleo")
    assert store.session_ended("cleo") == ""
    store.end_sessions("cleo")
    assert (store.session("cleo"), store.session_ended("cleo")) == (first + 1, answers.SIGNED_OUT)
    store.reset_code("cleo")
    assert (store.session("cleo"), store.session_ended("cleo")) == (first + 2, answers.NEW_CODE)
    store.withdraw("cleo")
    assert (store.session("cleo"), store.session_ended("cleo")) == (first + 3, answers.WITHDRAWN)
    assert store.session_ended("zoe") is None
    assert store.verify("cleo", code) is None and store.verify("cleo", "") is None
    assert store.session("zoe") is None and store.session("../cleo") is None


def test_roster_lists_learners_with_roles(store):
    store.add_learner("ines", "Inés García-Ló", role="instructor")
    assert store.learners() == [Learner("ana", "Ana", "learner"), Learner("ben", "Ben", "learner"),
                                Learner("ines", "Inés García-Ló", "instructor")]


def test_roster_refuses_duplicates_bad_roles_and_bad_names(store):
    with pytest.raises(LearnerExists, match="'ana' is already on the roster"):
        store.add_learner("ana", "Another Ana")
    with pytest.raises(ValueError, match="role must be one of learner, instructor"):
        store.add_learner("carl", "Carl", role="admin")
    for name in ("", "   ", "x" * 201, "bad\nname", "nul\x00", "lone \ud800"):
        with pytest.raises(ValueError, match="display name"):
            store.add_learner("carl", name)
    assert [learner.learner_id for learner in store.learners()] == ["ana", "ben"]


def _store_files(db) -> list[Path]:
    """Every file that holds the store: the SQLite file with its -wal and -shm, or the whole PostgreSQL
    cluster's data folder (tables, and the write-ahead log in pg_wal/)."""
    if is_url(db):
        import psycopg

        with psycopg.connect(db) as conn:
            (oid,) = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()
        data = Path(db.split("host=")[1].split("&")[0]).parent / "data"
        return [p for folder in (data / "base" / str(oid), data / "pg_wal") for p in folder.iterdir() if p.is_file()]
    return [p for p in db.parent.iterdir() if p.name.startswith(db.name)]


def _contents(files: list[Path]) -> bytes:
    """The bytes of every file still there: PostgreSQL renames and recycles WAL segments as it goes (the test
    checks below that what it read holds the stored hashes, so it cannot pass blind)."""
    found = []
    for path in files:
        try:
            found.append(path.read_bytes())
        except FileNotFoundError:
            pass
    return b"".join(found)


def test_database_never_contains_access_codes_in_plain_text(db):
    s = AnswerStore(db)
    codes = [s.add_learner(f"l{i}", f"Learner {i}") for i in range(3)]
    codes.append(s.reset_code("l0"))
    for i, code in enumerate(codes[1:3], start=1):
        assert s.verify(f"l{i}", code)
    files = _store_files(db)
    # The write-ahead log is checked too, before a checkpoint; the test sees the hashes it is looking in.
    assert any(p.name.endswith("-wal") or p.parent.name == "pg_wal" for p in files)
    blob = _contents(files)
    assert s._conn().execute("SELECT code_hash FROM learners WHERE id = 'l1'").fetchone()[0] in blob
    s.close()
    blob += _contents(_store_files(db))
    for code in codes:
        for form in (code, code.replace("-", ""), code.upper(), code.replace("-", "").upper()):
            assert form.encode() not in blob
            assert form.encode("utf-16-le") not in blob


# -- submissions ---------------------------------------------------------------------------------

def test_submissions_are_recorded_with_history(store):
    first = dt.datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    second = dt.datetime(2025, 3, 2, 18, 0, tzinfo=dt.timezone.utc)
    store.record_submission("ana", "m01", "/srv/exchange/ana/m01/one.ipynb", first)
    store.record_submission("ana", "m01", Path("/srv/exchange/ana/m01/two.ipynb"), second)
    store.record_submission("ben", "m01", "/srv/exchange/ben/m01/x.ipynb", second)
    subs = store.submissions("ana", "m01")
    assert subs == [Submission("/srv/exchange/ana/m01/one.ipynb", first),
                    Submission("/srv/exchange/ana/m01/two.ipynb", second)]
    assert subs[0].submitted_at.tzinfo == dt.timezone.utc and subs[0].submitted_at.hour == 7
    assert store.submissions("ana", "m02") == []
    now = store.record_submission("ana", "m02", "/x.ipynb")
    assert store.submissions("ana", "m02") == [now]


def test_submission_time_must_be_timezone_aware(store):
    with pytest.raises(ValueError, match="timezone-aware"):
        store.record_submission("ana", "m01", "/x.ipynb", dt.datetime(2025, 1, 1))


# -- refused input ---------------------------------------------------------------------------------

BAD_IDS = ["", "../x", "..", ".", "a/b", "a\\b", "a b", "a\n", "x" * 101, "caf\u00e9", "a;b", "\x00", "<b>"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_invalid_ids_are_refused_with_a_clear_message(store, bad):
    message = r"must be 1-100 characters from A-Z a-z 0-9 \. _ @ -"
    calls = [
        ("learner id", lambda: store.save(bad, "m01", "kc1", "A")),
        ("module id", lambda: store.save("ana", bad, "kc1", "A")),
        ("item id", lambda: store.save("ana", "m01", bad, "A")),
        ("learner id", lambda: store.load(bad, "m01")),
        ("module id", lambda: store.load("ana", bad)),
        ("item id", lambda: store.history("ana", "m01", bad)),
        ("learner id", lambda: store.add_learner(bad, "X")),
        ("module id", lambda: store.record_submission("ana", bad, "/x")),
        ("learner id", lambda: store.submissions(bad, "m01")),
    ]
    for what, call in calls:
        with pytest.raises(ValueError, match=f"{what} {message}"):
            call()
    assert store.load("ana", "m01") == {}


def test_valid_ids_cover_emails_and_module_slugs(store):
    store.add_learner("ana.ruiz@example.org", "Ana")
    store.save("ana.ruiz@example.org", "01-why-men-why-now", "m01-c05_v2", "A")
    assert store.load("ana.ruiz@example.org", "01-why-men-why-now") == {"m01-c05_v2": "A"}
    store.add_learner("x" * 100, "Long id")


def test_over_cap_values_are_refused_and_nothing_is_saved(store):
    # Fewer characters than the cap, more bytes: one byte over.
    with pytest.raises(TooLarge, match=r"reflection is 2,097,153 bytes as UTF-8; the answer store keeps at most "
                                       r"2,097,152 bytes \(2 MiB\) per answer. Nothing was saved."):
        store.save("ana", "m01", "reflection", "\u00e9" * (MAX_VALUE_BYTES // 2) + "x")
    with pytest.raises(TooLarge, match="bytes as UTF-8"):
        store.save("ana", "m01", "reflection", "\U0001F600" * (MAX_VALUE_BYTES // 4 + 1))
    with pytest.raises(TooLarge, match="is 20,971,520 characters, over 2,097,152 bytes"):  # refused before encoding
        store.save("ana", "m01", "reflection", "y" * (10 * MAX_VALUE_BYTES))
    assert issubclass(TooLarge, ValueError)
    assert store.history("ana", "m01", "reflection") == []
    with pytest.raises(TypeError, match="must be a str"):
        store.save("ana", "m01", "reflection", b"bytes")  # type: ignore[arg-type]


def test_a_learner_can_keep_up_to_their_limit_and_not_a_byte_more(store):
    big = "x" * MAX_VALUE_BYTES
    fits = MAX_LEARNER_BYTES // (MAX_VALUE_BYTES + ROW_BYTES)
    for n in range(fits):
        store.save("ana", "m06", "m06-r1", big)
    left = MAX_LEARNER_BYTES - fits * (MAX_VALUE_BYTES + ROW_BYTES)
    store.save("ana", "m06", "m06-r2", "y" * (left - ROW_BYTES))  # exactly the limit
    for value in ("", big):
        with pytest.raises(OverLimit, match=r"reached the 64 MiB one learner can keep on this site, so nothing new "
                                            r"was saved. Your text is still on this page: copy it somewhere safe, "
                                            r"and tell your facilitator.$"):
            store.save("ana", "m06", "m06-r1", value)
    assert len(store.history("ana", "m06", "m06-r1")) == fits  # nothing was added, and nothing was taken away
    assert store.load("ana", "m06")["m06-r2"] == "y" * (left - ROW_BYTES)
    store.save("ben", "m06", "m06-r1", big)  # another learner's limit is their own
    assert store.load("ben", "m06") == {"m06-r1": big}


def test_a_learner_can_hand_in_each_module_up_to_the_limit(store):
    for n in range(MAX_SUBMISSIONS):
        store.check_can_submit("ana", "m01")
        store.record_submission("ana", "m01", f"/exchange/ana+m01+{n}")
    for attempt in (lambda: store.check_can_submit("ana", "m01"),
                    lambda: store.record_submission("ana", "m01", "/exchange/one-more")):
        with pytest.raises(OverLimit, match=f"handed in this module {MAX_SUBMISSIONS} times, the most this site "
                                            "keeps. Your latest hand-in is the one that is graded"):
            attempt()
    assert len(store.submissions("ana", "m01")) == MAX_SUBMISSIONS
    store.record_submission("ana", "m02", "/exchange/ana+m02")  # each module has its own count
    store.record_submission("ben", "m01", "/exchange/ben+m01")  # and each learner


@contextlib.contextmanager
def _tables_as_at(monkeypatch, version: int):
    """A store opened meanwhile gets its tables as they were at schema `version`."""
    with monkeypatch.context() as old:
        old.setattr(answers, "SCHEMA_VERSION", version)
        old.setattr(answers, "_SQLITE_MIGRATIONS", answers._SQLITE_MIGRATIONS[:version])
        old.setattr(answers, "_POSTGRES_MIGRATIONS", answers._POSTGRES_MIGRATIONS[:version])
        yield


def test_a_store_made_before_the_limits_counts_what_each_learner_kept(db, monkeypatch):
    with _tables_as_at(monkeypatch, 3):
        with AnswerStore(db) as before:
            before.add_learner("ana", "Ana")
            for _ in range(MAX_LEARNER_BYTES // MAX_VALUE_BYTES - 1):
                before.save("ana", "m06", "m06-r1", "x" * MAX_VALUE_BYTES)
            for n in range(MAX_SUBMISSIONS + 1):  # more hand-ins than the limit allows, made before it
                before.record_submission("ana", "m06", f"/exchange/{n:03d}")
    with AnswerStore(db) as after:  # migrated on open: what Ana already keeps counts
        used = ((MAX_LEARNER_BYTES // MAX_VALUE_BYTES - 1) * (MAX_VALUE_BYTES + ROW_BYTES)
                + (MAX_SUBMISSIONS + 1) * (len("/exchange/000") + ROW_BYTES))
        after.save("ana", "m06", "m06-r2", "y" * (MAX_LEARNER_BYTES - used - ROW_BYTES))
        with pytest.raises(OverLimit):
            after.save("ana", "m06", "m06-r2", "")
        with pytest.raises(OverLimit):
            after.record_submission("ana", "m06", "/exchange/one-more")
        # the dashboard's snapshot (on PostgreSQL a copy with the limits' tables) holds what was there before
        assert after.read(lambda conn: conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]) \
            == MAX_SUBMISSIONS + 1


def _insert_answer(store, revision: int, value: bytes) -> None:
    """Straight into the table, as a learner's own SQL may on PostgreSQL (the store's save() is not used)."""
    store._run(lambda conn: conn.execute(
        "INSERT INTO answers (learner, module, item, revision, value, saved_at) VALUES ('ana', 'm01', 'kc1', ?, ?, ?)",
        (revision, value, answers._stamp(answers._now()))), write=True)


def test_latest_is_each_items_highest_revision_however_it_was_added(db, monkeypatch):
    """`latest` is kept by the database, from the answers added (a learner's role needs no right to change it),
    and a store made before that has it set to each item's highest revision when it is migrated."""
    with _tables_as_at(monkeypatch, 4):
        with AnswerStore(db) as before:
            before.add_learner("ana", "Ana")
            _insert_answer(before, 1, b"first")
            _insert_answer(before, 2, b"second")
            before._run(lambda conn: conn.execute(  # left pointing at the first (a learner could, with UPDATE)
                "INSERT INTO latest VALUES ('ana', 'm01', 'kc1', 1)"), write=True)
    with AnswerStore(db) as after:
        assert after.load("ana", "m01") == {"kc1": "second"}
        _insert_answer(after, 7, b"seventh")
        assert after.load("ana", "m01") == {"kc1": "seventh"}
        _insert_answer(after, 5, b"fifth, added later")  # (not the highest: latest stays)
        assert after.load("ana", "m01") == {"kc1": "seventh"}
        assert after.save("ana", "m01", "kc1", "saved").revision == 8
        assert after.load("ana", "m01") == {"kc1": "saved"}


def test_hand_ins_count_towards_the_limit(store):
    left = MAX_LEARNER_BYTES - (MAX_LEARNER_BYTES // (MAX_VALUE_BYTES + ROW_BYTES)) * (MAX_VALUE_BYTES + ROW_BYTES)
    for _ in range(MAX_LEARNER_BYTES // (MAX_VALUE_BYTES + ROW_BYTES)):
        store.save("ana", "m06", "m06-r1", "x" * MAX_VALUE_BYTES)
    store.save("ana", "m06", "m06-r2", "y" * (left - 2 * ROW_BYTES - len("/exchange/a")))
    store.record_submission("ana", "m06", "/exchange/a")  # exactly the limit
    with pytest.raises(OverLimit, match="reached the 64 MiB"):
        store.record_submission("ana", "m06", "/exchange/b")
    assert [s.path for s in store.submissions("ana", "m06")] == ["/exchange/a"]


# -- aggregate reads ---------------------------------------------------------------------------------

def test_read_counts_in_sql_with_functions_that_get_exact_text(store):
    """AnswerStore.read: one read transaction over CURRENT (latest answers with roles); registered functions
    get each value as the str that was saved (a lone surrogate included)."""
    store.add_learner("ines", "Ines", "instructor")
    store.save("ana", "m01", "q1", "first")
    store.save("ana", "m01", "q1", "a\ud800")
    store.save("ben", "m01", "q1", "b")
    store.save("ines", "m01", "q1", "c")
    seen = []

    def units(value: str) -> int:
        seen.append(value)
        return len(value)

    rows = store.read(lambda conn: conn.execute(
        f"SELECT role, COUNT(*), SUM(units(value)) FROM {answers.CURRENT} GROUP BY role ORDER BY role"
    ).fetchall(), {"units": units})
    assert rows == [("instructor", 1, 1), ("learner", 2, 3)]
    assert sorted(seen) == ["a\ud800", "b", "c"]


# -- the file --------------------------------------------------------------------------------------

@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_file_is_owner_only_and_in_wal_mode_with_full_sync(store, db):
    store.save("ana", "m01", "kc1", "A")
    conn = store._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 3000
    assert conn.execute("PRAGMA user_version").fetchone()[0] == answers.SCHEMA_VERSION
    for suffix in ("", "-wal", "-shm"):
        assert stat.S_IMODE(os.stat(f"{db}{suffix}").st_mode) == 0o600


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_postgres_commits_are_synced_and_lock_waits_bounded(store, db):
    """On PostgreSQL the server syncs its log at each commit: the store's connections run with the defaults
    that do so (synchronous_commit=on, fsync=on), and wait at most BUSY_TIMEOUT_MS per attempt for a lock."""
    store.save("ana", "m01", "kc1", "A")
    conn = store._conn()
    settings = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("synchronous_commit", "fsync", "lock_timeout", "wal_sync_method")}
    assert settings["synchronous_commit"] == "on" and settings["fsync"] == "on"
    assert settings["lock_timeout"] == f"{answers.BUSY_TIMEOUT_MS // 1000}s"
    assert settings["wal_sync_method"] in ("fdatasync", "fsync", "open_datasync", "open_sync")
    assert conn.execute("SELECT version FROM allies_schema").fetchone()[0] == answers.SCHEMA_VERSION


def _set_schema_version(db, version: int) -> None:
    if is_url(db):
        import psycopg

        with psycopg.connect(db, autocommit=True) as raw:
            raw.execute("UPDATE allies_schema SET version = %s", (version,))
        return
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA user_version = {version:d}")
    raw.close()


def test_reopening_keeps_everything_and_a_newer_schema_is_refused(store, db):
    store.save("ana", "m01", "kc1", "A")
    store.close()
    with AnswerStore(db) as again:
        assert again.load("ana", "m01") == {"kc1": "A"}
        assert [learner.learner_id for learner in again.learners()] == ["ana", "ben"]
    _set_schema_version(db, answers.SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError, match="newer than this code knows"):
        AnswerStore(db)


def test_each_thread_gets_its_own_connection(store):
    seen = []

    def work():
        conn = store._conn()
        store.save("ana", "m01", "kc1", "A")
        assert store._conn() is conn  # reused within the thread
        seen.append(conn)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 4 and all(c is not store._conn() for c in seen)
    assert len(store.history("ana", "m01", "kc1")) == 4


SET_ROLE = """import sys
from course.store.answers import AnswerStore
with AnswerStore(sys.argv[1]) as store:
    store._run(lambda c: c.execute("UPDATE learners SET role = ? WHERE id = 'ana'", (sys.argv[2],)), write=True)
"""


def test_a_second_store_on_the_same_file_in_one_process_leaves_the_first_reading_fresh_rows(store, db):
    """A server holds the sign-in's store and opens others on the same file (per request, or for a job of
    its own). Each change made meanwhile by another process (`cohort reset-code`, a role taken away) must
    be what the first store reads next: opening the second must not drop the first one's file locks, or the
    other process takes it for gone and deletes the WAL index it reads from."""
    store.learners()  # the first store holds its connection open
    for n in range(3):
        with AnswerStore(db) as second:
            second.learners()
        role = ("instructor", "learner")[n % 2]
        subprocess.run([sys.executable, "-c", SET_ROLE, str(db), role], cwd=ROOT, check=True)
        assert {p.learner_id: p.role for p in store.learners()}["ana"] == role, f"stale read after change {n}"


def test_forked_child_opens_its_own_connection(store, db):
    store.save("ana", "m01", "kc1", "parent")  # parent has an open connection before the fork
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()

    def child():
        q.put(store.save("ana", "m01", "kc1", "child").revision)

    p = ctx.Process(target=child)
    p.start()
    p.join(30)
    assert p.exitcode == 0 and q.get(timeout=5) == 2
    assert store.save("ana", "m01", "kc1", "parent again").revision == 3
    assert [r.value for r in store.history("ana", "m01", "kc1")] == ["parent", "child", "parent again"]


# -- concurrency -----------------------------------------------------------------------------------

class _Locker:
    """Another client holding the store's write lock: SQLite's file lock (BEGIN IMMEDIATE), or on PostgreSQL
    an exclusive lock on the roster, which every write reads first."""

    def __init__(self, db) -> None:
        if is_url(db):
            import psycopg

            self.conn = psycopg.connect(db, autocommit=True)
            self.conn.execute("BEGIN")
            self.conn.execute("LOCK TABLE learners IN ACCESS EXCLUSIVE MODE")
        else:
            self.conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
            self.conn.execute("BEGIN IMMEDIATE")

        self.releasing = threading.Event()

    def release(self, how: str = "COMMIT") -> None:
        self.releasing.set()  # before the lock goes, so nothing that waited on it can finish first
        self.conn.execute(how)
        self.conn.close()


def test_locked_file_is_waited_for_not_surfaced(store, db, monkeypatch):
    monkeypatch.setattr(answers, "BUSY_TIMEOUT_MS", 20)  # so our retry loop, not the database, does the waiting
    monkeypatch.setattr(answers, "RETRY_FOR_SECONDS", 10.0)
    locker = _Locker(db)
    fresh = AnswerStore(db)  # a new connection, so the patched timeout applies
    threading.Timer(0.5, locker.release).start()
    assert fresh.save("ana", "m01", "kc1", "waited").revision == 1
    assert locker.releasing.is_set(), "the save finished while another client held the lock"
    fresh.close()


def test_store_busy_after_the_retry_deadline_with_nothing_saved(store, db, monkeypatch):
    monkeypatch.setattr(answers, "BUSY_TIMEOUT_MS", 20)
    monkeypatch.setattr(answers, "RETRY_FOR_SECONDS", 0.3)
    fresh = AnswerStore(db)
    locker = _Locker(db)
    try:
        with pytest.raises(StoreBusy, match="stayed locked"):
            fresh.save("ana", "m01", "kc1", "never")
    finally:
        locker.release("ROLLBACK")
    assert fresh.history("ana", "m01", "kc1") == []
    fresh.close()


def test_concurrent_threads_lose_no_update(store):
    errors = []

    def writer(n: int) -> None:
        try:
            for i in range(100):
                store.save("ana", "m01", f"own{n}", f"{n}:{i}")
                store.save("ben", "m01", "common", f"{n}:{i}")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for n in range(8):
        assert [r.value for r in store.history("ana", "m01", f"own{n}")] == [f"{n}:{i}" for i in range(100)]
    common = store.history("ben", "m01", "common")
    assert [r.revision for r in common] == list(range(1, 801))
    assert sorted(r.value for r in common) == sorted(f"{n}:{i}" for n in range(8) for i in range(100))


def test_concurrent_processes_lose_no_update_and_never_see_locked(db):
    # 8 processes create the file, migrate it and join the roster at once, then 200 saves each:
    # half to their own item, half to one item they all share.
    reports = store_worker.run_hammers(str(db), workers=8, count=200)
    with AnswerStore(db) as s:
        for n in range(8):
            own = s.history(f"w{n}", store_worker.MODULE, "own")
            assert [(r.revision, r.value) for r in own] == [(k + 1, f"w{n}:{i}") for k, i in enumerate(range(0, 200, 2))]
        common = s.history("shared", store_worker.MODULE, "common")
        assert [r.revision for r in common] == list(range(1, 801))
        stored = {r.revision: r.value for r in common}
        acked = [tuple(a) for rep in reports for a in rep["acks"]]
        shared_acks = [(rev, value) for learner, _, rev, value in acked if learner == "shared"]
        assert len(shared_acks) == 800 and len({rev for rev, _ in shared_acks}) == 800
        assert all(stored[rev] == value for rev, value in shared_acks)
        assert sorted(w.learner_id for w in s.learners()) == ["shared"] + [f"w{n}" for n in range(8)]
    _assert_intact(db)


def _assert_intact(db) -> None:
    """SQLite's own consistency checks of the file (PostgreSQL enforces its constraints on every write)."""
    if is_url(db):
        return
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()


# -- crash -------------------------------------------------------------------------------------------

def test_acknowledged_saves_survive_kill_9(db):
    """A killed writer loses no acknowledged save and leaves a file the next process opens.

    A kill -9 alone cannot tell synchronous=FULL from OFF: a killed process's writes are already in the
    operating system's cache, and only a machine crash or power cut loses them. So the killed writer reports
    the setting its saving connection runs with, and this test fails unless that is FULL in WAL mode;
    test_every_acknowledged_save_is_synced_before_it_returns shows that FULL syncs each save. On PostgreSQL
    the writer is the client, and the server keeps what it committed: the writer reports the server's
    synchronous_commit and fsync (both must be on), and
    test_postgres_syncs_its_log_before_each_acknowledged_save traces the server's syncs."""
    expected = b"synchronous_commit=on fsync=on\n" if is_url(db) else b"synchronous=2 journal_mode=wal\n"
    acked: dict[tuple[str, int], str] = {}
    for round_ in range(3):  # each round reopens the file the last kill left behind
        child = subprocess.Popen([sys.executable, str(WORKER), "crash", str(db), "crasher"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        header = child.stdout.readline()
        if header != expected:
            child.kill()
            pytest.fail(f"the writer saves with {header!r}, not {expected!r}: "
                        f"{child.communicate()[1].decode()[-2000:]}")
        seen = []
        while len(seen) < 300:
            line = child.stdout.readline()
            assert line.endswith(b"\n"), child.stderr.read().decode()
            seen.append(line)
        os.kill(child.pid, signal.SIGKILL)  # mid-burst: it is still saving
        # Read the rest through the same buffered reader: communicate() reads the raw pipe and would skip
        # whatever readline() had already buffered, leaving a cut line.
        out = child.stdout.read()
        child.stderr.read()
        assert child.wait() == -signal.SIGKILL
        # Only complete lines were acknowledged; a line cut by the kill was not.
        text = b"".join(seen).decode() + out.decode()
        for line in text[: text.rfind("\n") + 1].splitlines():
            item, rev, digest = line.split()
            acked[(item, int(rev))] = digest
    _assert_intact(db)
    with AnswerStore(db) as s:
        stored = {}
        for item in {item for item, _ in acked}:
            history = s.history("crasher", store_worker.MODULE, item)
            assert [r.revision for r in history] == list(range(1, len(history) + 1))  # no gaps
            for r in history:
                stored[(item, r.revision)] = hashlib.sha256(r.value.encode("utf-8", "surrogatepass")).hexdigest()
    assert len(acked) >= 900
    missing = [key for key, digest in acked.items() if stored.get(key) != digest]
    assert missing == []


STRACE = shutil.which("strace")


@pytest.mark.skipif(STRACE is None, reason="needs strace (`make test` installs it)")
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_every_acknowledged_save_is_synced_before_it_returns(db, tmp_path):
    """What a power cut would test: the writer's system calls, traced. Between one acknowledged save and the
    next, the writer calls fsync or fdatasync (WAL with synchronous=FULL syncs the log on every commit); with
    synchronous=NORMAL or OFF the saves return unsynced and this fails."""
    trace = tmp_path / "trace.txt"
    saves = 40
    run = subprocess.run([STRACE, "-f", "-qq", "-e", "trace=fsync,fdatasync,write", "-e", "signal=none",
                          "-o", str(trace), sys.executable, str(WORKER), "crash", str(db), "syncer", str(saves)],
                         capture_output=True, timeout=300)
    if run.returncode != 0 and b"ptrace" in run.stderr:
        pytest.skip(f"strace cannot trace here: {run.stderr.decode()[-300:]}")
    assert run.returncode == 0, run.stderr.decode()
    calls = []  # "sync", or "ack" for each line the writer wrote to stdout after a save returned
    for line in trace.read_text(errors="replace").splitlines():
        call = line.split(None, 1)[1] if line[:1].isdigit() else line
        if call.startswith(("fsync(", "fdatasync(")):
            calls.append("sync")
        elif call.startswith("write(1, ") and "item" in call:
            calls.append("ack")
    assert calls.count("ack") == saves, calls
    acks = [i for i, call in enumerate(calls) if call == "ack"]
    unsynced = [n for n, i in enumerate(acks, 1) if i == 0 or calls[i - 1] != "sync"]
    assert unsynced == [], f"saves {unsynced} of {saves} returned without a sync since the one before"


def _traced_pg_saves(db: str, cluster, directory: Path, saves: int) -> list[int]:
    """Trace the PostgreSQL server's syncs of its write-ahead log (every server process, with timestamps)
    while a writer saves `saves` times; return the numbers of the saves whose acknowledgement came with no
    log sync since the acknowledgement before it."""
    server_trace, client_trace = directory / "server.txt", directory / "client.txt"
    pids = cluster.server_pids()
    tracer = subprocess.Popen([STRACE, "-f", "-ttt", "-y", "-e", "trace=fsync,fdatasync", "-e", "signal=none",
                               "-o", str(server_trace)] + [f"-p{pid}" for pid in pids],
                              stderr=subprocess.PIPE, text=True)
    try:
        attached = 0
        while attached < len(pids):  # each attached process is announced on stderr
            line = tracer.stderr.readline()
            if not line:
                pytest.skip(f"strace cannot trace the server here: {tracer.stderr.read()[-300:]}")
            attached += " attached" in line
        run = subprocess.run([STRACE, "-f", "-qq", "-ttt", "-e", "trace=write", "-e", "signal=none", "-o",
                              str(client_trace), sys.executable, str(WORKER), "crash", db, "syncer", str(saves)],
                             capture_output=True, timeout=300)
        assert run.returncode == 0, run.stderr.decode()
    finally:
        tracer.terminate()
        tracer.wait(30)
    syncs = []
    for line in server_trace.read_text(errors="replace").splitlines():
        _, stamp, call = line.split(None, 2)
        if call.startswith(("fsync(", "fdatasync(")) and "/pg_wal/" in call:
            syncs.append(float(stamp))
    acks = []
    for line in client_trace.read_text(errors="replace").splitlines():
        _, stamp, call = line.split(None, 2)
        if call.startswith("write(1, ") and "item" in call:
            acks.append(float(stamp))
    assert len(acks) == saves, acks
    return [n for n, (before, ack) in enumerate(zip([0.0] + acks, acks), 1)
            if not any(before < sync < ack for sync in syncs)]


@pytest.mark.skipif(STRACE is None, reason="needs strace (`make test` installs it)")
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_postgres_syncs_its_log_before_each_acknowledged_save(db, pg_cluster, tmp_path):
    """What a power cut of the database server would test, on PostgreSQL: the client cannot sync the
    server's disk, so the server's processes are traced. Between one acknowledged save and the next, some
    server process syncs the write-ahead log (at commit, with synchronous_commit=on). The same trace of a
    writer with synchronous_commit=off shows saves acknowledged before their log was synced: the check can
    fail."""
    AnswerStore(db).close()  # create the tables first, so the traced saves are only saves
    assert _traced_pg_saves(db, pg_cluster, tmp_path, 40) == []
    (tmp_path / "off").mkdir()
    unsynced = _traced_pg_saves(db + "%20-csynchronous_commit%3Doff", pg_cluster, tmp_path / "off", 40)
    assert len(unsynced) >= 20, unsynced


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_connection_the_server_ended_is_replaced_without_losing_a_save(store, db):
    """A PostgreSQL restart, or a proxy that drops idle connections, ends the connection a kernel holds: the
    next call opens a new one and succeeds, since nothing of it had reached the server."""
    import psycopg

    store.save("ana", "m01", "kc1", "before")
    (pid,) = store._conn().execute("SELECT pg_backend_pid()").fetchone()
    with psycopg.connect(db, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    assert store.save("ana", "m01", "kc1", "after").revision == 2
    assert store._conn().execute("SELECT pg_backend_pid()").fetchone()[0] != pid
    assert [r.value for r in store.history("ana", "m01", "kc1")] == ["before", "after"]


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_save_whose_connection_is_ended_before_it_commits_is_made_again_once(store, db):
    """The hub's store watch, an administrator or a restart may end a connection in the middle of a save: nothing
    of it was kept, so it is made again on a new connection (before, the learner was told "Not saved")."""
    import psycopg

    store.save("ana", "m01", "kc1", "before")
    locker = _Locker(db)  # (the save waits on it, its transaction begun)
    with psycopg.connect(db, autocommit=True) as admin, ThreadPoolExecutor(1) as pool:
        saving = pool.submit(store.save, "ana", "m01", "kc1", "after")
        end, waiting = time.monotonic() + 30, None
        while not waiting:
            assert time.monotonic() < end, "the save never waited"
            waiting = admin.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                                    "datname = current_database()").fetchone()
        assert admin.execute("SELECT pg_terminate_backend(%s)", waiting).fetchone()[0]
        locker.release()
        assert saving.result(timeout=30).revision == 2
    assert [r.value for r in store.history("ana", "m01", "kc1")] == ["before", "after"]


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_opening_a_current_postgres_store_changes_no_schema(store, db):
    """Every server, kernel and command opens the store; once its tables are current, opening only reads (a
    role without the right to create tables can use it)."""
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE ROLE rows_only NOLOGIN")
        try:
            schema = conn.execute("SELECT current_schema()").fetchone()[0]
            conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO rows_only')
            conn.execute(f'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "{schema}" TO rows_only')
            conn.execute(f'REVOKE CREATE ON SCHEMA "{schema}" FROM PUBLIC')
            with AnswerStore(db + "%20-crole%3Drows_only") as limited:
                assert limited._conn().execute("SELECT current_user").fetchone()[0] == "rows_only"
                assert limited.save("ana", "m01", "kc1", "A").revision == 1
        finally:
            conn.execute("DROP OWNED BY rows_only")
            conn.execute("DROP ROLE rows_only")
