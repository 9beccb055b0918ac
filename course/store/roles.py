"""PostgreSQL login roles that hold a learner to their own answers, for an answer store that many learners'
servers share (JupyterHub: `deploy/jupyterhub/`).

A learner's server runs the learner's own code, so whatever store URL it holds, the learner holds. The
store's owner (the URL the hub and the instructors use) gives each learner a role of their own
(`learner_url`): it may read and add rows, never change the tables, and row-level security shows and takes
only rows of the learner it stands for. The owner is not subject to these policies: the hub and the grading
commands see the whole cohort through it. The hub's cohort dashboard reads the whole cohort with a role that
may only read (`reader_url`).
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import urllib.parse

from course.store.answers import BUSY_TIMEOUT_MS, AnswerStore, StoreBusy, is_url

ROLE_TABLE = "allies_learner_roles"
# Each store table, the column that names its learner, and what a learner's role may do with its own rows. No
# UPDATE or DELETE anywhere: with either, a role may `LOCK TABLE` and stall every learner (a trigger keeps
# `latest`). The store itself takes no lock a learner's role could take and hold (course/store/answers.py).
OWN_ROWS = {
    "learners": ("id", "SELECT"),
    "answers": ("learner", "SELECT, INSERT"),
    "latest": ("learner", "SELECT"),
    # (not the row id: with it, `OVERRIDING SYSTEM VALUE` took the ids the next hand-ins were due)
    "submissions": ("learner", "SELECT, INSERT (learner, module, path, submitted_at, recorded_at)"),
}


CONNECTIONS = 20  # at most, a learner's role: a server and its kernels use a few
# Temporary files one session of a learner's role may write (a sort or a hash of their own making spills to
# them): unbounded, one query wrote 265 MB in 3 s, on the disk every learner's answers are on. A setting only a
# superuser, or a role granted SET on it (PostgreSQL 15+), may set for a role; the learner cannot change it.
TEMP_FILE_LIMIT = "64MB"
log = logging.getLogger("allies.store.roles")


def role_of(learner: str, store: str) -> str:
    """The login role for `learner` in `store` (its database and schema; roles are the whole server's): a
    fixed prefix and a digest, so that no learner id is ever an identifier."""
    return "allies_learner_" + hashlib.sha256(f"{store}\0{learner}".encode("utf-8")).hexdigest()[:24]


def learner_url(owner_url: str, learner: str) -> str:
    """A store URL for `learner` alone: their role (made now if new), with a new password each call, so a
    server started earlier loses its way in; the learner is put on the store's roster if not there yet."""
    _check_postgres(owner_url, "learner roles need")
    from psycopg import sql

    with AnswerStore(owner_url) as store:  # creates or migrates the tables first
        if learner not in {person.learner_id for person in store.learners()}:
            store.add_learner(learner, learner)
    password = secrets.token_urlsafe(24)
    with _owner(owner_url) as conn:
        database, schema = conn.execute("SELECT current_database(), current_schema()").fetchone()
        role = role_of(learner, f"{database}.{schema}")
        _secure(conn, sql)
        _login_role(conn, sql, role, password, schema)
        _limit_temporary_files(conn, sql, role)
        conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION allies_learner() TO {}").format(sql.Identifier(role)))
        for table, (_, rights) in OWN_ROWS.items():  # (what a role made by an earlier version had, taken back)
            conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), sql.Identifier(role)))
            conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(sql.SQL(rights), sql.Identifier(table),
                                                                 sql.Identifier(role)))
        conn.execute(f"INSERT INTO {ROLE_TABLE} (role, learner) VALUES (%s, %s) ON CONFLICT (role) DO NOTHING",
                     (role, learner))
    return _url(owner_url, role, password)


# What the cohort's reader may select, table by table: every row, every column ([]) but the roster's codes.
READER_COLUMNS = {"learners": ["id", "display_name", "role", "created_at", "session"], "answers": [], "latest": [],
                  "submissions": []}


def reader_url(owner_url: str) -> str:
    """A store URL that reads the whole cohort and changes nothing (the hub's cohort dashboard): one role for
    the store, a new password each call; it reads no access code and no table of roles."""
    _check_postgres(owner_url, "a reader's role needs")
    AnswerStore(owner_url).close()  # creates or migrates the tables first
    from psycopg import sql

    password = secrets.token_urlsafe(24)
    with _owner(owner_url) as conn:
        database, schema = conn.execute("SELECT current_database(), current_schema()").fetchone()
        role = "allies_reader_" + hashlib.sha256(f"{database}.{schema}".encode("utf-8")).hexdigest()[:24]
        _secure(conn, sql)
        _login_role(conn, sql, role, password, schema)
        for table, columns in READER_COLUMNS.items():
            rights = sql.SQL("SELECT ({})").format(sql.SQL(", ").join(map(sql.Identifier, columns))) if columns \
                else sql.SQL("SELECT")
            conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), sql.Identifier(role)))
            conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(rights, sql.Identifier(table), sql.Identifier(role)))
            if _lacks_policy(conn, table, "allies_read_all"):
                conn.execute(sql.SQL("DROP POLICY IF EXISTS allies_read_all ON {}").format(sql.Identifier(table)))
                conn.execute(sql.SQL("CREATE POLICY allies_read_all ON {} FOR SELECT TO {} USING (true)").format(
                    sql.Identifier(table), sql.Identifier(role)))
    return _url(owner_url, role, password)


@contextlib.contextmanager
def _owner(owner_url: str):
    """A transaction as the store's owner that waits BUSY_TIMEOUT_MS at most for a lock, then raises StoreBusy.
    (A learner's role can hold a lock on its tables for as long as it likes: waiting for it, a change to them
    would queue every other learner's reads and writes behind it.)"""
    import psycopg

    try:
        with psycopg.connect(owner_url, autocommit=True) as conn, conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = {BUSY_TIMEOUT_MS:d}")
            yield conn
    except psycopg.errors.LockNotAvailable as error:
        raise StoreBusy("the answer store's tables stayed locked (a session left open?); nothing was changed, "
                        "try again") from error


def _lacks_policy(conn, table: str, policy: str) -> bool:
    """Whether `table` (in the current schema) has no policy `policy`, or row-level security off."""
    return not conn.execute(
        "SELECT c.relrowsecurity AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s) "
        "FROM pg_class c WHERE c.oid = to_regclass(quote_ident(%s))", (policy, table)).fetchone()[0]


def _check_postgres(owner_url: str, what: str) -> None:
    if not is_url(owner_url):
        raise ValueError(f"{what} an answer store on PostgreSQL (a postgresql:// URL)")


def _login_role(conn, sql, role: str, password: str, schema: str) -> None:
    """Make `role` (or change its password), able to sign in and to open the store's schema and version."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    conn.execute(sql.SQL("{} ROLE {} LOGIN NOINHERIT CONNECTION LIMIT {} PASSWORD {}").format(
        sql.SQL("ALTER" if exists else "CREATE"), sql.Identifier(role), sql.Literal(CONNECTIONS),
        sql.Literal(password)))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
    conn.execute(sql.SQL("GRANT SELECT ON allies_schema TO {}").format(sql.Identifier(role)))


def _limit_temporary_files(conn, sql, role: str) -> None:
    """TEMP_FILE_LIMIT for `role`, if the owner may set it (else a warning says what to grant)."""
    import psycopg

    try:
        with conn.transaction():  # (a savepoint: if refused, the rest goes on)
            conn.execute(sql.SQL("ALTER ROLE {} SET temp_file_limit = {}").format(sql.Identifier(role),
                                                                                 sql.Literal(TEMP_FILE_LIMIT)))
    except psycopg.errors.InsufficientPrivilege:
        log.warning("the store's owner may not limit learners' temporary files: as a superuser, GRANT SET ON "
                    "PARAMETER temp_file_limit TO the owner (PostgreSQL 15 and later)")


def _url(owner_url: str, role: str, password: str) -> str:
    """The owner's URL with `role` and its password in place of the owner's."""
    parts = urllib.parse.urlsplit(owner_url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{urllib.parse.quote(role, safe='')}:{urllib.parse.quote(password, safe='')}@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _secure(conn, sql) -> None:
    """Row-level security on every table a learner's role reaches (idempotent): a row is theirs when its
    learner is the one `allies_learner()` names for the role connected. No role but the owner may create
    anything in the store's schema (PostgreSQL up to 14 lets everyone create in `public`), nor temporary
    tables in its database: a learner's function or table could otherwise stand in for the store's inside
    the functions that run as the owner, and temporary tables would fill the disk past their limit."""
    database, schema = conn.execute("SELECT current_database(), current_schema()").fetchone()
    conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
    conn.execute(f"CREATE TABLE IF NOT EXISTS {ROLE_TABLE} (role TEXT PRIMARY KEY, "
                 'learner TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES learners(id))')
    # SECURITY DEFINER: learners' roles get no right to read the table of roles, only this answer. Its
    # search_path ends with pg_temp, so that no temporary table can stand in for the table.
    conn.execute(sql.SQL("""CREATE OR REPLACE FUNCTION allies_learner() RETURNS TEXT LANGUAGE sql STABLE
                            SECURITY DEFINER SET search_path = {}, pg_temp
                            AS $$ SELECT learner FROM {} WHERE role = session_user $$""").format(
        sql.Identifier(schema), sql.Identifier(ROLE_TABLE)))
    conn.execute("REVOKE ALL ON FUNCTION allies_learner() FROM PUBLIC")
    for table, (column, _) in OWN_ROWS.items():  # (in place already, the usual case: no table is locked)
        if not _lacks_policy(conn, table, "allies_own_rows"):
            continue
        conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(sql.Identifier(table)))
        conn.execute(sql.SQL("DROP POLICY IF EXISTS allies_own_rows ON {}").format(sql.Identifier(table)))
        conn.execute(sql.SQL("CREATE POLICY allies_own_rows ON {} USING ({} = allies_learner()) "
                             "WITH CHECK ({} = allies_learner())").format(
            sql.Identifier(table), sql.Identifier(column), sql.Identifier(column)))

