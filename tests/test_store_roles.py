"""A learner's own role on a shared PostgreSQL store (course/store/roles.py) opens their answers and nothing
else, whatever SQL the learner runs with it: a real PostgreSQL server, with passwords checked."""
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from course.store import roles, watch
from course.store.answers import CURRENT, MAX_LEARNER_BYTES, MAX_VALUE_BYTES, AnswerStore, OverLimit, UnknownLearner


@pytest.fixture
def store(pg_cluster):
    owner = pg_cluster.database()
    with AnswerStore(owner) as shared:
        shared.add_learner("ben", "Ben")
        shared.save("ben", "m01", "m01-r1", "Ben's private reflection.")
        shared.record_submission("ben", "m01", "/exchange/ben+m01")
    return owner


def test_a_learners_role_reads_and_writes_their_own_answers_only(store):
    ana = roles.learner_url(store, "ana")  # a learner not yet on the roster is added
    with AnswerStore(ana) as mine:
        mine.save("ana", "m01", "m01-r1", "Ana's answer.")
        mine.save("ana", "m01", "m01-r1", "Ana's answer, revised.")
        mine.record_submission("ana", "m01", "/exchange/ana+m01")
        assert mine.load("ana", "m01") == {"m01-r1": "Ana's answer, revised."}
        assert [r.value for r in mine.history("ana", "m01", "m01-r1")] == ["Ana's answer.", "Ana's answer, revised."]
        assert mine.load("ben", "m01") == {}  # Ben's rows are not there for Ana's role
        assert mine.history("ben", "m01", "m01-r1") == []
        with pytest.raises(UnknownLearner):
            mine.save("ben", "m01", "m01-r1", "Ana writing as Ben.")
    with AnswerStore(store) as owner:  # the owner sees the whole cohort, Ben's answer unchanged
        assert owner.load("ben", "m01") == {"m01-r1": "Ben's private reflection."}
        assert owner.load("ana", "m01") == {"m01-r1": "Ana's answer, revised."}


@pytest.mark.parametrize("attempt", [
    "SELECT count(*) FROM answers WHERE learner = 'ben'",
    "SELECT count(*) FROM learners WHERE id = 'ben'",
    "SELECT count(*) FROM submissions WHERE learner <> 'ana'",
])
def test_sql_run_with_a_learners_url_sees_no_other_learner(store, attempt):
    ana = roles.learner_url(store, "ana")
    with psycopg.connect(ana) as conn:
        assert conn.execute(attempt).fetchone()[0] == 0


@pytest.mark.parametrize("attempt", [
    "SELECT * FROM allies_learner_roles",
    "INSERT INTO answers VALUES ('ben', 'm01', 'm01-r1', 9, 'x', '2026-01-01')",
    "INSERT INTO learners (id, display_name, role, code_kdf, code_salt, code_hash, created_at) "
    "VALUES ('eve', 'Eve', 'instructor', '', '', '', '')",
    "UPDATE learners SET display_name = 'changed'",
    "UPDATE latest SET learner = 'ben'",
    "DELETE FROM answers",
    "DROP TABLE answers",
    "ALTER TABLE answers DISABLE ROW LEVEL SECURITY",
    "CREATE TABLE mine (x int)",
    "SET ROLE allies",
])
def test_a_learners_url_cannot_change_others_or_the_store(store, attempt):
    ana = roles.learner_url(store, "ana")
    with AnswerStore(ana) as mine:
        mine.save("ana", "m01", "m01-r1", "Ana's answer.")
    with psycopg.connect(ana) as conn:
        if attempt.split()[0] in ("DROP", "ALTER", "CREATE", "SET", "SELECT"):  # refused outright, or it worked
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attempt)
        else:
            try:
                changed = conn.execute(attempt).rowcount
            except psycopg.Error:
                changed = 0  # refused outright
            assert changed == 0, attempt
    with AnswerStore(store) as owner:
        assert owner.load("ben", "m01") == {"m01-r1": "Ben's private reflection."}
        assert owner.load("ana", "m01") == {"m01-r1": "Ana's answer."}
        assert [p.learner_id for p in owner.learners()] == ["ana", "ben"]


def test_a_learners_own_sql_is_held_to_their_storage_limit(store):
    ana = roles.learner_url(store, "ana")
    big = b"x" * MAX_VALUE_BYTES
    with psycopg.connect(ana, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="learner storage limit"):
            for n in range(1, MAX_LEARNER_BYTES // MAX_VALUE_BYTES + 2):  # straight into the table, no store code
                conn.execute("INSERT INTO answers VALUES ('ana', 'm01', 'm01-r9', %s, %s, '2026-01-01')", (n, big))
        for attempt in ("UPDATE learner_usage SET stored_bytes = 0", "DELETE FROM learner_usage",
                        "SELECT * FROM learner_usage"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attempt)
    with AnswerStore(ana) as mine, pytest.raises(OverLimit):
        mine.save("ana", "m01", "m01-r1", "z" * MAX_VALUE_BYTES)  # less than that is left
    with AnswerStore(store) as owner:
        owner.save("ben", "m01", "m01-r1", "Ben is not held to Ana's limit.")


def _grant(owner_url: str, learner_url: str, right: str) -> None:
    """As the owner, give the learner's role `right` ("TEMPORARY ON DATABASE", "CREATE ON SCHEMA")."""
    with psycopg.connect(learner_url) as conn:
        role, database, schema = conn.execute("SELECT session_user, current_database(), current_schema()").fetchone()
    target = database if right.endswith("DATABASE") else schema
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(f'GRANT {right} "{target}" TO "{role}"')


def test_a_learner_can_make_no_temporary_table_nor_anything_in_the_stores_schema(store):
    with psycopg.connect(store, autocommit=True) as conn:  # as PostgreSQL up to 14 had it for `public`
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        conn.execute(f'GRANT CREATE ON SCHEMA "{schema}" TO PUBLIC')
    ana = roles.learner_url(store, "ana")
    with psycopg.connect(ana, autocommit=True) as conn:
        for attempt in ("CREATE TEMP TABLE learner_usage (learner TEXT, stored_bytes BIGINT)",
                        "CREATE FUNCTION allies_count(who TEXT, added INTEGER) RETURNS VOID LANGUAGE sql AS ''"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attempt)


def test_a_learners_temporary_tables_cannot_stand_in_for_the_stores(store):
    """Were a learner given temporary tables: PostgreSQL looks in them first, and the functions that name the
    learner and count what they keep must not (their search_path ends with pg_temp)."""
    ana = roles.learner_url(store, "ana")
    _grant(store, ana, "TEMPORARY ON DATABASE")
    with psycopg.connect(ana, autocommit=True) as conn:
        for table in ("allies_learner_roles (role TEXT, learner TEXT)", "learners (id TEXT, stored_bytes BIGINT)",
                      "learner_usage (learner TEXT PRIMARY KEY, stored_bytes BIGINT)",
                      "submissions (learner TEXT, module TEXT)"):
            conn.execute(f"CREATE TEMP TABLE {table}")
        conn.execute("INSERT INTO allies_learner_roles VALUES (session_user, 'ben')")
        conn.execute("INSERT INTO learner_usage VALUES ('ana', -1000000000000)")  # a count that never fills
        assert conn.execute("SELECT allies_learner()").fetchone()[0] == "ana"
        assert conn.execute("SELECT count(*) FROM answers WHERE learner = 'ben'").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="learner storage limit"):
            for n in range(1, MAX_LEARNER_BYTES // MAX_VALUE_BYTES + 2):
                conn.execute("INSERT INTO answers VALUES ('ana', 'm01', 'm01-r9', %s, %s, '2026-01-01')",
                             (n, b"x" * MAX_VALUE_BYTES))
    with AnswerStore(store) as owner:
        assert owner.load("ben", "m01") == {"m01-r1": "Ben's private reflection."}


def test_a_learners_own_function_is_not_called_in_place_of_the_count(store):
    """Were a learner given CREATE in the store's schema: the count is called with its exact types, so an
    overload of theirs that PostgreSQL would prefer (no cast needed) is never chosen."""
    ana = roles.learner_url(store, "ana")
    _grant(store, ana, "CREATE ON SCHEMA")
    with psycopg.connect(ana, autocommit=True) as conn:
        for types in ("TEXT, INTEGER", "TEXT, BIGINT"):
            try:
                conn.execute(f"CREATE FUNCTION allies_count(who {types.split(', ')[0]}, added {types.split(', ')[1]}) "
                             "RETURNS VOID LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'planted'; END $$")
            except psycopg.errors.DuplicateFunction:  # (the store's own, which they cannot replace)
                pass
        conn.execute("INSERT INTO answers VALUES ('ana', 'm01', 'm01-r9', 1, 'x', '2026-01-01')")  # not 'planted'


@pytest.mark.parametrize("attempt", [
    "INSERT INTO answers VALUES ('ana', 'm01', 'm01-r1', 7, 'x', repeat('9', 100000))",
    "INSERT INTO answers VALUES ('ana', repeat('m', 5000), 'm01-r1', 7, 'x', '2026-01-01')",
    "INSERT INTO answers VALUES ('ana', 'm01', 'bad id!', 7, 'x', '2026-01-01')",
    "INSERT INTO answers VALUES ('ana', 'm01', 'm01-r1', 7, convert_to(repeat('x', 2097153), 'UTF8'), '2026-01-01')",
    "INSERT INTO submissions (learner, module, path, submitted_at, recorded_at) "
    "VALUES ('ana', 'm01', convert_to(repeat('p', 5000), 'UTF8'), '2026-01-01', '2026-01-01')",
    "INSERT INTO submissions (learner, module, path, submitted_at, recorded_at) "
    "VALUES ('ana', 'm01', 'p', repeat('9', 100000), '2026-01-01')",
    "INSERT INTO submissions (learner, module, path, submitted_at, recorded_at) "
    "VALUES ('ana', repeat('m', 500), 'p', '2026-01-01', '2026-01-01')",
])
def test_a_learners_own_sql_cannot_store_what_the_count_leaves_out(store, attempt):
    ana = roles.learner_url(store, "ana")
    with psycopg.connect(ana, autocommit=True) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(attempt)


def test_a_learners_hand_ins_are_counted_one_at_a_time(store):
    """A count from an old snapshot would miss hand-ins another connection has just added: a hand-in is
    recorded at READ COMMITTED only, after the learner's other hand-ins."""
    ana = roles.learner_url(store, "ana")
    with psycopg.connect(ana) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        with pytest.raises(psycopg.errors.RaiseException, match="READ COMMITTED"):
            conn.execute("INSERT INTO submissions (learner, module, path, submitted_at, recorded_at) "
                         "VALUES ('ana', 'm01', 'p', '2026-01-01', '2026-01-01')")


# The advisory locks the store took before schema version 5, (space, key of a learner id or "" for the schema),
# which PostgreSQL lets every role take.
_OLD_SPACE = 0x416C6C79


def _old_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=4).digest(), "big", signed=True)


@pytest.mark.parametrize("attempt", [
    "UPDATE latest SET revision = revision",
    "INSERT INTO latest VALUES ('ana', 'm01', 'm01-r1', 1)",
    "LOCK TABLE latest IN ACCESS EXCLUSIVE MODE",
    "LOCK TABLE answers IN SHARE MODE",
    "LOCK TABLE allies_schema IN SHARE ROW EXCLUSIVE MODE",
])
def test_a_learners_role_can_take_no_lock_that_holds_up_others(store, attempt):
    ana = roles.learner_url(store, "ana")
    with psycopg.connect(ana, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        with conn.transaction():
            conn.execute(attempt)


def test_what_a_learners_role_may_lock_and_hold_stalls_no_one_else(store):
    """Ana's role holds, in a transaction left open, every advisory lock the store once took and each table
    lock her rights allow; the cohort goes on: Ben saves and hands in, a store opens, a learner is added and
    given their role, the reader's role is made. (Before schema version 5 Ben's save waited on his advisory lock,
    and every store open on the schema's, until StoreBusy.)"""
    ana = roles.learner_url(store, "ana")
    roles.reader_url(store)
    with psycopg.connect(ana) as holder:  # (not autocommit: one transaction, never ended)
        for name in ("ben", "ana", "cy", ""):
            holder.execute("SELECT pg_advisory_lock(%s, %s)", (_OLD_SPACE, _old_key(name)))
        holder.execute("SELECT pg_advisory_lock(%s, %s)", (_OLD_SPACE, 0x6E6577))  # (a new store's, for a while)
        holder.execute("LOCK TABLE answers IN ROW EXCLUSIVE MODE")
        holder.execute("INSERT INTO submissions (learner, module, path, submitted_at, recorded_at) "
                       "VALUES ('ana', 'm01', '/exchange/ana+m01', 't', 't')")  # (as a hand-in does; never ended)
        holder.execute("LOCK TABLE learners, latest, allies_schema IN ACCESS SHARE MODE")
        holder.execute("SELECT count(*) FROM answers")

        def the_cohort() -> str:
            with AnswerStore(store) as owner:
                owner.save("ben", "m01", "m01-r1", "Ben, while Ana holds what she can.")
                owner.record_submission("ben", "m01", "/exchange/ben+m01-2")
                owner.add_learner("cy", "Cy")
                owner.reset_code("ben")
            with AnswerStore(roles.learner_url(store, "cy")) as cy:
                cy.save("cy", "m01", "m01-r1", "Cy's first answer.")
            roles.reader_url(store)
            with AnswerStore(store) as owner:
                return owner.load("ben", "m01")["m01-r1"]

        pool = ThreadPoolExecutor(1)
        try:
            assert pool.submit(the_cohort).result(timeout=45) == "Ben, while Ana holds what she can."
        finally:
            holder.close()  # (a stalled cohort then goes on, and the test ends)
            pool.shutdown()


@pytest.mark.parametrize("hold, queue", [
    # on a store table, behind her own open transaction: every save and hand-in queued behind it
    ("SELECT 1 FROM answers LIMIT 1", "CREATE RULE stall AS ON INSERT TO answers DO NOTHING"),
    # on the server's roles: every new connection, to any database, queued behind it
    ("LOCK TABLE pg_catalog.pg_roles IN ACCESS SHARE MODE",
     "CREATE RULE stall AS ON INSERT TO pg_catalog.pg_authid DO NOTHING"),
])
def test_a_learner_queued_for_a_lock_she_will_be_refused_is_ended_and_the_cohort_goes_on(store, hold, queue):
    """`CREATE RULE` waits in the table's lock queue behind Ana's own open transaction (it is refused only once
    it has the lock), and what others do with the table queues behind it: Ben's saves failed after a minute.
    The hub's watch (course/store/watch.py) ends her stalling sessions, and not Cy's, which wait in the same
    queue."""
    ana, cy = roles.learner_url(store, "ana"), roles.learner_url(store, "cy")
    stop = threading.Event()
    watcher = threading.Thread(target=watch.watch, args=(store, stop), daemon=True)
    watcher.start()
    holder, queued = psycopg.connect(ana), psycopg.connect(ana, autocommit=True)
    looking = psycopg.connect(store, autocommit=True)  # (opened first: new connections may queue too)
    ana_role = holder.execute("SELECT oid FROM pg_roles WHERE rolname = session_user").fetchone()[0]
    pool = ThreadPoolExecutor(3)
    try:
        holder.execute(hold)  # (its transaction left open)
        rule = pool.submit(queued.execute, queue)
        end = time.monotonic() + 30
        while not looking.execute("SELECT count(*) FROM pg_stat_get_activity(NULL) WHERE usesysid = %s AND "
                                  "wait_event_type = 'Lock'", (ana_role,)).fetchone()[0]:
            assert time.monotonic() < end, "Ana's statement never waited on its lock"
            time.sleep(0.05)

        def save(url: str, learner: str) -> str:
            with AnswerStore(url) as s:
                s.save(learner, "m01", "m01-r1", f"{learner}, while Ana's rule waits.")
                return s.load(learner, "m01")["m01-r1"]

        ben, cy_saved = pool.submit(save, store, "ben"), pool.submit(save, cy, "cy")
        assert ben.result(timeout=40) == "ben, while Ana's rule waits."
        assert cy_saved.result(timeout=40) == "cy, while Ana's rule waits."
        # Ended by the watch, or refused: the watch ends her holding session and her waiting one in one pass, and
        # the waiting one may be granted the lock, and refused it, before its own end reaches it (CI, 2026-12-03).
        with pytest.raises((psycopg.OperationalError, psycopg.errors.InsufficientPrivilege)):
            rule.result(timeout=10)
        with pytest.raises(psycopg.OperationalError):
            holder.execute("SELECT 1")
    finally:
        stop.set()
        for conn in (holder, queued, looking):
            conn.close()
        pool.shutdown()
        watcher.join(10)


def test_the_watch_leaves_alone_a_learner_who_holds_no_one_up_and_ends_her_when_she_does(store, monkeypatch):
    """A transaction Ana leaves open (psycopg's default, in her own notebook) harms no one, until an upgrade's
    table lock waits behind it."""
    monkeypatch.setattr(watch, "WAIT_SECONDS", 0)  # (each wait counts at once: no waiting for the watch's clock)
    ana = roles.learner_url(store, "ana")
    holder = psycopg.connect(ana)
    holder.execute("SELECT count(*) FROM answers")  # (a read lock, its transaction left open)
    with psycopg.connect(store, autocommit=True) as conn, ThreadPoolExecutor(1) as pool:
        learners = watch.learner_roles(conn)
        assert watch.end_stalling(conn, learners) == []
        assert holder.execute("SELECT 1").fetchone() == (1,)

        def upgrade() -> None:
            with psycopg.connect(store) as owner:
                owner.execute("LOCK TABLE answers IN ACCESS EXCLUSIVE MODE")

        upgrading = pool.submit(upgrade)
        end = time.monotonic() + 30
        while not watch.end_stalling(conn, learners):
            assert time.monotonic() < end, "the upgrade never waited on Ana's lock"
        upgrading.result(timeout=30)
    with pytest.raises(psycopg.OperationalError):
        holder.execute("SELECT 1")
    holder.close()


def test_the_watch_ends_a_learner_filling_the_servers_lock_table(store):
    """The lock table is the whole server's: full, every new connection and every save failed ("out of shared
    memory"). From another database on the server, which she may reach too, Ana keeps 1,500 locks."""
    ana = roles.learner_url(store, "ana")
    other = psycopg.conninfo.make_conninfo(ana, dbname="postgres")
    with psycopg.connect(other, autocommit=True) as hoarder, psycopg.connect(store, autocommit=True) as conn:
        hoarder.execute("SELECT count(pg_advisory_lock(g)) FROM generate_series(1, 1500) AS g")
        assert watch.end_stalling(conn, watch.learner_roles(conn)) != []
        with pytest.raises(psycopg.OperationalError):
            hoarder.execute("SELECT 1")


def test_a_learner_queueing_one_refused_lock_after_another_never_gets_another_learners_session_ended(store):
    """Ana keeps a transaction running and queues CREATE RULE after CREATE RULE from new sessions, each again as
    soon as the watch ends it: a save of Ben's waiting between two of them was named by pg_blocking_pids as
    holding up the later one, and the watch ended it (12 of 15 of his calls failed). Each now goes through."""
    ana, ben = roles.learner_url(store, "ana"), roles.learner_url(store, "ben")
    stop, ended = threading.Event(), []

    def again_and_again(*statements: str) -> None:
        while not stop.wait(0.3):
            try:
                with psycopg.connect(ana) as conn:
                    for statement in statements:
                        conn.execute(statement)
            except psycopg.errors.AdminShutdown:
                ended.append(statements[-1])
            except psycopg.Error:
                pass

    threads = [threading.Thread(target=watch.watch, args=(store, stop), daemon=True),
               threading.Thread(target=again_and_again, args=("SELECT 1 FROM answers LIMIT 1", "SELECT pg_sleep(60)"),
                                daemon=True)]
    threads += [threading.Thread(target=again_and_again, args=("CREATE RULE stall AS ON INSERT TO answers DO NOTHING",),
                                 daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        with AnswerStore(ben) as mine:
            (pid,) = mine._conn().execute("SELECT pg_backend_pid()").fetchone()
            n, end = 0, time.monotonic() + 120
            while sum("CREATE RULE" in statement for statement in ended) < 4:  # (the watch ended 4 of her rules)
                assert time.monotonic() < end, "the watch ended none of Ana's queued rules"
                mine.save("ben", "m01", "m01-r1", f"Ben's answer, version {n}.")
                assert mine.load("ben", "m01") == {"m01-r1": f"Ben's answer, version {n}."}
                n += 1
            assert mine._conn().execute("SELECT pg_backend_pid()").fetchone() == (pid,)  # (never ended, not retried)
    finally:
        stop.set()
        with psycopg.connect(store, autocommit=True) as conn:  # (Ana's sessions, ended at once)
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = "
                         "(SELECT role FROM allies_learner_roles WHERE learner = 'ana')")
        for thread in threads:
            thread.join(10)


def test_a_learners_temporary_files_are_bounded_and_she_cannot_lift_the_bound(store):
    """A sort of her own making spilled 265 MB to disk in 3 s, on the disk every learner's answers are on."""
    ana = roles.learner_url(store, "ana")
    with psycopg.connect(ana, autocommit=True) as conn:
        assert conn.execute("SHOW temp_file_limit").fetchone()[0] == roles.TEMP_FILE_LIMIT
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET temp_file_limit = -1")
        with pytest.raises(psycopg.errors.ConfigurationLimitExceeded, match="temp_file_limit"):
            conn.execute("SELECT md5(g::text) FROM generate_series(1, 3000000) g ORDER BY 1").fetchone()


def test_a_learner_cannot_take_the_row_ids_the_next_hand_ins_are_due(store):
    """With INSERT on the whole table, `OVERRIDING SYSTEM VALUE` let Ana fill the ids the hand-ins' sequence
    would give next: every other hand-in then failed on the key, for a minute, then for good."""
    ana = roles.learner_url(store, "ana")
    with psycopg.connect(ana, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("INSERT INTO submissions (rowid, learner, module, path, submitted_at, recorded_at) "
                     "OVERRIDING SYSTEM VALUE VALUES (1000, 'ana', 'm01', '', 't', 't')")
    with AnswerStore(ana) as mine:
        mine.record_submission("ana", "m01", "/exchange/ana+m01")
        assert [s.path for s in mine.submissions("ana", "m01")] == ["/exchange/ana+m01"]


def test_a_learners_role_made_before_schema_5_loses_its_rights_to_latest_and_row_ids(store):
    ana = roles.learner_url(store, "ana")
    with psycopg.connect(ana) as conn:
        role = conn.execute("SELECT session_user").fetchone()[0]
    with psycopg.connect(store, autocommit=True) as conn:  # as the store was at version 4
        conn.execute(f'GRANT INSERT, UPDATE ON latest TO "{role}"')
        conn.execute(f'GRANT INSERT ON submissions TO "{role}"')
        conn.execute("DROP TRIGGER answers_latest ON answers")
        conn.execute("DROP FUNCTION allies_latest()")
        conn.execute("UPDATE allies_schema SET version = 4")
    AnswerStore(store).close()  # migrated
    with psycopg.connect(store) as conn:
        assert conn.execute("SELECT has_table_privilege(%s, 'latest', 'UPDATE'), "
                            "has_table_privilege(%s, 'latest', 'INSERT'), "
                            "has_column_privilege(%s, 'submissions', 'rowid', 'INSERT')",
                            (role, role, role)).fetchone() == (False, False, False)
    with AnswerStore(ana) as mine:
        assert mine.save("ana", "m01", "m01-r1", "Saved through the trigger.").revision == 1
        assert mine.load("ana", "m01") == {"m01-r1": "Saved through the trigger."}


def test_a_new_url_locks_out_the_old_one_and_a_wrong_password_is_refused(store):
    first = roles.learner_url(store, "ana")
    second = roles.learner_url(store, "ana")
    with AnswerStore(second) as mine:
        mine.save("ana", "m01", "m01-r1", "Saved with the new URL.")
    for old in (first, second.replace(second.split(":")[2].split("@")[0], "wrong")):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(old).close()


def test_roles_need_a_postgres_store(tmp_path):
    for make in (lambda store: roles.learner_url(store, "ana"), roles.reader_url):
        with pytest.raises(ValueError, match="PostgreSQL"):
            make(str(tmp_path / "answers.sqlite3"))


def test_the_readers_role_reads_the_whole_cohort(store):
    with AnswerStore(roles.learner_url(store, "ana")) as mine:  # row-level security is on
        mine.save("ana", "m01", "m01-r1", "Ana's answer.")
    with AnswerStore(roles.reader_url(store)) as reader:
        assert [p.learner_id for p in reader.learners()] == ["ana", "ben"]
        assert reader.load("ben", "m01") == {"m01-r1": "Ben's private reflection."}
        assert reader.read(lambda db: db.execute(f"SELECT learner FROM {CURRENT} AS c ORDER BY learner")
                           .fetchall()) == [("ana",), ("ben",)]
        assert [s.path for s in reader.submissions("ben", "m01")] == ["/exchange/ben+m01"]


@pytest.mark.parametrize("attempt", [
    "SELECT code_hash FROM learners",
    "SELECT * FROM learners",
    "SELECT * FROM allies_learner_roles",
    "INSERT INTO answers VALUES ('ben', 'm01', 'm01-r1', 9, 'x', '2026-01-01')",
    "UPDATE learners SET display_name = 'changed'",
    "UPDATE learners SET session = session + 1",
    "DELETE FROM answers",
    "DELETE FROM submissions",
    "DROP TABLE answers",
    "CREATE TABLE mine (x int)",
    "SET ROLE allies",
])
def test_the_readers_url_reads_no_code_and_changes_nothing(store, attempt):
    with psycopg.connect(roles.reader_url(store)) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(attempt)
    with AnswerStore(store) as owner:
        assert owner.load("ben", "m01") == {"m01-r1": "Ben's private reflection."}
        assert owner.session("ben") == 0 and [p.display_name for p in owner.learners()] == ["Ben"]


def test_a_new_readers_url_locks_out_the_old_one(store):
    first, second = roles.reader_url(store), roles.reader_url(store)
    AnswerStore(second).close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(first).close()
