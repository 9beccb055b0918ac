"""The learners' answer store for the hosted cohort site: every answer a learner gives, with its history,
the roster with hashed access codes, and submission times. One interface, two back ends:

- SQLite (the default, embedded): one file, whose path the caller gives; it must live outside anything the
  website serves. It is created readable by its owner only, in WAL mode with synchronous=FULL: a save that
  has returned is on disk and survives a killed process. Writers queue on SQLite's lock, and a "database
  is locked" that still gets through is retried here, so callers never see it.
- PostgreSQL, when the location is a `postgresql://` URL (psycopg 3, imported only then): for a cohort
  served from more than one machine. A save returns once the server has committed it, and the server
  syncs its log on commit (its default, synchronous_commit=on with fsync=on). Writes take no lock of their
  own (a learner's own SQL could hold any lock the store took, and stall others): two saves of one item at
  once meet on its revision's unique key, and the later is run again, so revisions stay 1, 2, 3, ... without
  gaps; a row lock waited for past BUSY_TIMEOUT_MS is retried here like SQLite's lock.

Any number of threads and processes may use one store at once: each thread has its own connection.
Values are kept exactly, code point for code point (NUL, lone surrogates, bidi controls included):
they are stored as `value.encode("utf-8", "surrogatepass")` bytes (BLOB, BYTEA). Escaping them for display
is the site's job.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import os
import random
import re
import secrets
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = ["AnswerStore", "CURRENT", "Saved", "Revision", "Learner", "Submission", "TooLarge", "UnknownLearner",
           "LearnerExists", "StoreBusy", "OverLimit", "MAX_VALUE_BYTES", "MAX_LEARNER_BYTES", "MAX_SUBMISSIONS", "ROLES", "SIGNED_OUT", "NEW_CODE", "WITHDRAWN"]

MAX_VALUE_BYTES = 2 * 1024 * 1024  # per answer, UTF-8 encoded
MAX_ID_CHARS = 100
MAX_NAME_CHARS = 200
# What one learner may keep, enforced by the database itself (triggers), so that on PostgreSQL it holds for a
# learner's own SQL on JupyterHub too: every saved version of every answer and every hand-in's record counts,
# each as its bytes plus ROW_BYTES for the row; and at most MAX_SUBMISSIONS hand-ins of each module. Far above real use (a 20,000-character reflection
# saved 1,000 times is 20 MB), they stop one learner filling the disk that every learner's answers are on.
# Changing them takes a new migration.
MAX_LEARNER_BYTES = 64 * 1024 * 1024
ROW_BYTES = 1024  # a row's ids, times, tuple header and index entries, with room to spare
MAX_SUBMISSIONS = 50
_OVER_QUOTA, _OVER_SUBMISSIONS = "allies: learner storage limit", "allies: hand-in limit"
STAMP_BYTES = 40  # a time stamp as the store writes it (`_stamp`) is 32
MAX_PATH_BYTES = 4096  # a hand-in's path
_ID_SQL = "^[A-Za-z0-9._@-]{1,%d}$" % MAX_ID_CHARS  # `_ID`, as PostgreSQL's CHECK reads it
# Migration 5 sets each item's latest revision to its highest.
_LATEST_FROM_ANSWERS = (
    "INSERT INTO latest (learner, module, item, revision) SELECT learner, module, item, MAX(revision) "
    "FROM answers WHERE true GROUP BY learner, module, item "
    "ON CONFLICT (learner, module, item) DO UPDATE SET revision = excluded.revision")
# Migration 4 counts what each learner already keeps (`length`: the back end's byte length of a BLOB).
_COUNT_WHAT_IS_KEPT = (
    "INSERT INTO learner_usage (learner, stored_bytes) SELECT learner, SUM(bytes) FROM ("
    "SELECT learner, {length}(value) + %d AS bytes FROM answers UNION ALL "
    "SELECT learner, {length}(path) + %d FROM submissions) AS kept GROUP BY learner" % (ROW_BYTES, ROW_BYTES))
ROLES = ("learner", "instructor")
SIGNED_OUT, NEW_CODE, WITHDRAWN = "signed-out", "new-code", "withdrawn"  # why a learner's sessions ended
BUSY_TIMEOUT_MS = 5_000  # SQLite's own wait for the write lock, per attempt
RETRY_FOR_SECONDS = 60.0  # then our retries of "database is locked" give up with StoreBusy

_ID = re.compile(r"[A-Za-z0-9._@-]{1,%d}" % MAX_ID_CHARS)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Access codes: 16 characters from an alphabet without look-alikes (0/o, 1/l/i), shown as xxxx-xxxx-xxxx-xxxx;
# 31**16 is about 2**79.
_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
_CODE_GROUPS, _CODE_GROUP_LEN = 4, 4
_KDF = "scrypt:16384:8:1"  # n, r, p; stored with each hash so the cost can be raised later
_SALT_BYTES = 16

T = TypeVar("T")


class TooLarge(ValueError):
    """An answer over MAX_VALUE_BYTES (UTF-8 encoded); nothing was saved."""


class OverLimit(ValueError):
    """The learner has used what one learner may keep (MAX_LEARNER_BYTES, MAX_SUBMISSIONS); nothing was saved."""


class UnknownLearner(LookupError):
    """A learner id that is not on the roster."""


class LearnerExists(ValueError):
    """add_learner with an id already on the roster."""


class StoreBusy(RuntimeError):
    """The file stayed locked by other writers for RETRY_FOR_SECONDS; nothing was saved."""


@dataclass(frozen=True)
class Saved:
    """One acknowledged save: its revision (1, 2, ... per learner, module and item) and UTC time."""
    revision: int
    saved_at: dt.datetime


@dataclass(frozen=True)
class Revision(Saved):
    """A saved revision with the value it stored."""
    value: str


@dataclass(frozen=True)
class Learner:
    """A roster entry; `role` is "learner" or "instructor"."""
    learner_id: str
    display_name: str
    role: str


@dataclass(frozen=True)
class Submission:
    """One submission of a module: the submitted file's path and when it was submitted (UTC)."""
    path: str
    submitted_at: dt.datetime


def _sqlite_counted(table: str, column: str) -> list[str]:
    """SQLite triggers that refuse a row of `table` past its learner's MAX_LEARNER_BYTES, and count it."""
    cost = f"length(NEW.{column}) + {ROW_BYTES}"
    return [f"""CREATE TRIGGER {table}_within_bytes BEFORE INSERT ON {table}
                WHEN COALESCE((SELECT stored_bytes FROM learner_usage WHERE learner = NEW.learner), 0) + {cost}
                     > {MAX_LEARNER_BYTES}
                BEGIN SELECT RAISE(ABORT, '{_OVER_QUOTA}'); END""",
            f"""CREATE TRIGGER {table}_counted AFTER INSERT ON {table} BEGIN
                  INSERT OR IGNORE INTO learner_usage (learner, stored_bytes) VALUES (NEW.learner, 0);
                  UPDATE learner_usage SET stored_bytes = stored_bytes + {cost} WHERE learner = NEW.learner; END"""]


# Schema migrations: MIGRATIONS[back end][n] takes schema version n to n + 1, the same steps on both back ends.
# Append only; never edit a shipped one. Text columns compare code point by code point on both ("C").
_SQLITE_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE learners (
               id TEXT PRIMARY KEY NOT NULL,
               display_name TEXT NOT NULL,
               role TEXT NOT NULL CHECK (role IN ('learner', 'instructor')),
               code_kdf TEXT NOT NULL,
               code_salt BLOB NOT NULL,
               code_hash BLOB NOT NULL,
               created_at TEXT NOT NULL)""",
        """CREATE TABLE answers (
               learner TEXT NOT NULL REFERENCES learners(id),
               module TEXT NOT NULL,
               item TEXT NOT NULL,
               revision INTEGER NOT NULL CHECK (revision >= 1),
               value BLOB NOT NULL CHECK (typeof(value) = 'blob'),
               saved_at TEXT NOT NULL,
               UNIQUE (learner, module, item, revision))""",
        # The latest revision of each item, kept in step by save(), so load() does not scan the history.
        """CREATE TABLE latest (
               learner TEXT NOT NULL,
               module TEXT NOT NULL,
               item TEXT NOT NULL,
               revision INTEGER NOT NULL,
               PRIMARY KEY (learner, module, item),
               FOREIGN KEY (learner, module, item, revision) REFERENCES answers (learner, module, item, revision)
           ) WITHOUT ROWID""",
        """CREATE TABLE submissions (
               learner TEXT NOT NULL REFERENCES learners(id),
               module TEXT NOT NULL,
               path BLOB NOT NULL CHECK (typeof(path) = 'blob'),
               submitted_at TEXT NOT NULL,
               recorded_at TEXT NOT NULL)""",
        "CREATE INDEX submissions_by_module ON submissions (learner, module, submitted_at)",
    ],
    # Sign-in cookies carry the learner's session number; raising it ends every session they have.
    ["ALTER TABLE learners ADD COLUMN session INTEGER NOT NULL DEFAULT 0"],
    # Why their last session ended (SIGNED_OUT, NEW_CODE or WITHDRAWN; '' if none has), for its pages to say.
    ["ALTER TABLE learners ADD COLUMN session_ended TEXT NOT NULL DEFAULT ''"],
    # What each learner keeps (MAX_LEARNER_BYTES, MAX_SUBMISSIONS), counted in its own table by triggers.
    [
        """CREATE TABLE learner_usage (
               learner TEXT PRIMARY KEY NOT NULL REFERENCES learners(id),
               stored_bytes INTEGER NOT NULL) WITHOUT ROWID""",
        _COUNT_WHAT_IS_KEPT.format(length="length"),
        *_sqlite_counted("answers", "value"),
        f"""CREATE TRIGGER submissions_within_limit BEFORE INSERT ON submissions
            WHEN (SELECT COUNT(*) FROM submissions WHERE learner = NEW.learner AND module = NEW.module)
                 >= {MAX_SUBMISSIONS}
            BEGIN SELECT RAISE(ABORT, '{_OVER_SUBMISSIONS}'); END""",
        *_sqlite_counted("submissions", "path"),
    ],
    # `latest` is kept by a trigger on answers, not by save(): on PostgreSQL, so that a learner's role needs no
    # right to change it. It is first set to each item's highest revision, whatever a learner's SQL made of it.
    [
        _LATEST_FROM_ANSWERS,
        """CREATE TRIGGER answers_latest AFTER INSERT ON answers BEGIN
             INSERT INTO latest (learner, module, item, revision)
             VALUES (NEW.learner, NEW.module, NEW.item, NEW.revision)
             ON CONFLICT (learner, module, item) DO UPDATE SET revision = excluded.revision
             WHERE excluded.revision > latest.revision; END""",
    ],
]
# The same tables on PostgreSQL; times stay fixed-width ISO text, as on SQLite, so both sort them alike.
_POSTGRES_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE learners (
               id TEXT COLLATE "C" PRIMARY KEY,
               display_name TEXT NOT NULL,
               role TEXT NOT NULL CHECK (role IN ('learner', 'instructor')),
               code_kdf TEXT NOT NULL,
               code_salt BYTEA NOT NULL,
               code_hash BYTEA NOT NULL,
               created_at TEXT NOT NULL)""",
        """CREATE TABLE answers (
               learner TEXT COLLATE "C" NOT NULL REFERENCES learners(id),
               module TEXT COLLATE "C" NOT NULL,
               item TEXT COLLATE "C" NOT NULL,
               revision INTEGER NOT NULL CHECK (revision >= 1),
               value BYTEA NOT NULL,
               saved_at TEXT NOT NULL,
               UNIQUE (learner, module, item, revision))""",
        """CREATE TABLE latest (
               learner TEXT COLLATE "C" NOT NULL,
               module TEXT COLLATE "C" NOT NULL,
               item TEXT COLLATE "C" NOT NULL,
               revision INTEGER NOT NULL,
               PRIMARY KEY (learner, module, item),
               FOREIGN KEY (learner, module, item, revision) REFERENCES answers (learner, module, item, revision))""",
        """CREATE TABLE submissions (
               rowid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
               learner TEXT COLLATE "C" NOT NULL REFERENCES learners(id),
               module TEXT COLLATE "C" NOT NULL,
               path BYTEA NOT NULL,
               submitted_at TEXT NOT NULL,
               recorded_at TEXT NOT NULL)""",
        "CREATE INDEX submissions_by_module ON submissions (learner, module, submitted_at)",
    ],
    ["ALTER TABLE learners ADD COLUMN session INTEGER NOT NULL DEFAULT 0"],
    ["ALTER TABLE learners ADD COLUMN session_ended TEXT NOT NULL DEFAULT ''"],
    # The learner's own role (course/store/roles.py) has no right to learner_usage: the triggers, SECURITY
    # DEFINER, count for it. They run AFTER INSERT, so after row-level security has passed the row, and only for
    # rows really added. Their search_path is this schema, then pg_temp: a learner's temporary table cannot
    # stand in for a store table. Each check and count is one statement on the learner's usage row, which
    # also queues one learner's hand-ins; every column a learner can fill is bounded (CHECK).
    [
        """CREATE TABLE learner_usage (
               learner TEXT COLLATE "C" PRIMARY KEY REFERENCES learners(id),
               stored_bytes BIGINT NOT NULL)""",
        _COUNT_WHAT_IS_KEPT.format(length="octet_length"),
        f"""ALTER TABLE answers ADD CONSTRAINT answers_bounded CHECK (
               octet_length(value) <= {MAX_VALUE_BYTES} AND octet_length(saved_at) <= {STAMP_BYTES}
               AND module ~ '{_ID_SQL}' AND item ~ '{_ID_SQL}') NOT VALID""",
        f"""ALTER TABLE submissions ADD CONSTRAINT submissions_bounded CHECK (
               octet_length(path) <= {MAX_PATH_BYTES} AND octet_length(submitted_at) <= {STAMP_BYTES}
               AND octet_length(recorded_at) <= {STAMP_BYTES} AND module ~ '{_ID_SQL}') NOT VALID""",
        f"""CREATE FUNCTION allies_count(who TEXT, added BIGINT) RETURNS VOID LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO learner_usage AS kept (learner, stored_bytes) VALUES (who, added + {ROW_BYTES})
              ON CONFLICT (learner)
              DO UPDATE SET stored_bytes = kept.stored_bytes + excluded.stored_bytes
              WHERE kept.stored_bytes + excluded.stored_bytes <= {MAX_LEARNER_BYTES};
              IF NOT FOUND THEN
                RAISE EXCEPTION '{_OVER_QUOTA}' USING ERRCODE = 'program_limit_exceeded';
              END IF;
            END $$""",
        """CREATE FUNCTION allies_count_answer() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
            BEGIN
              PERFORM allies_count(NEW.learner, octet_length(NEW.value)::BIGINT);  -- (the exact type: no overload)
              RETURN NULL;
            END $$""",
        f"""CREATE FUNCTION allies_count_submission() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
            BEGIN
              IF current_setting('transaction_isolation') <> 'read committed' THEN  -- (a count from an old
                RAISE EXCEPTION 'allies: record hand-ins at READ COMMITTED';          --  snapshot would miss some)
              END IF;
              PERFORM allies_count(NEW.learner, octet_length(NEW.path)::BIGINT);  -- (and waits for their other hand-ins)
              IF (SELECT COUNT(*) FROM submissions WHERE learner = NEW.learner AND module = NEW.module)
                 > {MAX_SUBMISSIONS} THEN
                RAISE EXCEPTION '{_OVER_SUBMISSIONS}' USING ERRCODE = 'program_limit_exceeded';
              END IF;
              RETURN NULL;
            END $$""",
        """DO $$ BEGIN
             EXECUTE 'ALTER FUNCTION allies_count(TEXT, BIGINT) SET search_path = '
                     || quote_ident(current_schema()) || ', pg_temp';
             EXECUTE 'ALTER FUNCTION allies_count_answer() SET search_path = '
                     || quote_ident(current_schema()) || ', pg_temp';
             EXECUTE 'ALTER FUNCTION allies_count_submission() SET search_path = '
                     || quote_ident(current_schema()) || ', pg_temp';
           END $$""",
        "CREATE TRIGGER answers_counted AFTER INSERT ON answers FOR EACH ROW EXECUTE FUNCTION allies_count_answer()",
        "CREATE TRIGGER submissions_counted AFTER INSERT ON submissions FOR EACH ROW "
        "EXECUTE FUNCTION allies_count_submission()",
        "REVOKE ALL ON FUNCTION allies_count(TEXT, BIGINT), allies_count_answer(), allies_count_submission() "
        "FROM PUBLIC",
    ],
    # A learner's role (course/store/roles.py) keeps only SELECT on `latest`: with UPDATE it could also
    # `LOCK TABLE latest` and stall every other learner's save. Nor may it set a hand-in's row id.
    [
        _LATEST_FROM_ANSWERS,
        """CREATE FUNCTION allies_latest() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
            BEGIN
              INSERT INTO latest AS kept (learner, module, item, revision)
              VALUES (NEW.learner, NEW.module, NEW.item, NEW.revision)
              ON CONFLICT (learner, module, item) DO UPDATE SET revision = excluded.revision
              WHERE excluded.revision > kept.revision;
              RETURN NULL;
            END $$""",
        """DO $$ DECLARE learner_role RECORD; BEGIN
             EXECUTE 'ALTER FUNCTION allies_latest() SET search_path = ' || quote_ident(current_schema()) || ', pg_temp';
             IF to_regclass('allies_learner_roles') IS NOT NULL THEN  -- (made by roles.py once a learner has a role)
               FOR learner_role IN SELECT role FROM allies_learner_roles JOIN pg_roles ON rolname = role LOOP
                 EXECUTE format('REVOKE INSERT, UPDATE ON latest FROM %I', learner_role.role);
                 EXECUTE format('REVOKE INSERT ON submissions FROM %I', learner_role.role);
                 EXECUTE format('GRANT INSERT (learner, module, path, submitted_at, recorded_at) ON submissions '
                                'TO %I', learner_role.role);
               END LOOP;
             END IF;
           END $$""",
        "CREATE TRIGGER answers_latest AFTER INSERT ON answers FOR EACH ROW EXECUTE FUNCTION allies_latest()",
        "REVOKE ALL ON FUNCTION allies_latest() FROM PUBLIC",
    ],
]
assert len(_SQLITE_MIGRATIONS) == len(_POSTGRES_MIGRATIONS)
SCHEMA_VERSION = len(_SQLITE_MIGRATIONS)

# For read(): every person's latest answer to each item, with their role (learner or instructor).
CURRENT = ("(SELECT latest.learner, latest.module, latest.item, latest.revision, answers.value, learners.role "
           "FROM latest JOIN answers USING (learner, module, item, revision) "
           "JOIN learners ON learners.id = latest.learner)")

# Connections inherited across fork() are never used or closed in the child (SQLite forbids it, and closing
# a PostgreSQL one would end the parent's session); they are parked here so garbage collection leaves them.
_INHERITED: list[object] = []


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _stamp(moment: dt.datetime) -> str:
    """Fixed-width UTC ISO 8601, so text order is time order."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def _unstamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def check_id(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not _ID.fullmatch(value) or not value.strip("."):
        shown = repr(value) if len(value) <= 60 else repr(value[:60]) + f"... ({len(value)} characters)"
        raise ValueError(f"{what} must be 1-{MAX_ID_CHARS} characters from A-Z a-z 0-9 . _ @ - "
                         f"and not only dots; got {shown}")
    return value


def _encode(value: str, where: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{where} must be a str, not {type(value).__name__}")
    if len(value) > MAX_VALUE_BYTES:  # every code point is at least one byte: refuse before encoding
        raise TooLarge(f"{where} is {len(value):,} characters, over {MAX_VALUE_BYTES:,} bytes as UTF-8; "
                       f"the answer store keeps at most {MAX_VALUE_BYTES:,} bytes (2 MiB) per answer. "
                       "Nothing was saved.")
    data = value.encode("utf-8", "surrogatepass")
    if len(data) > MAX_VALUE_BYTES:
        raise TooLarge(f"{where} is {len(data):,} bytes as UTF-8; the answer store keeps at most "
                       f"{MAX_VALUE_BYTES:,} bytes (2 MiB) per answer. Nothing was saved.")
    return data


def _decode(data: bytes) -> str:
    return bytes(data).decode("utf-8", "surrogatepass")


def _text_arguments(function: Callable[..., object]) -> Callable[..., object]:
    """`function` for SQLite: BLOB arguments (answer values) arrive decoded to str."""
    def call(*args: object) -> object:
        return function(*(_decode(a) if isinstance(a, bytes) else a for a in args))

    return call


def check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"display name must be a str, not {type(name).__name__}")
    if not name.strip() or len(name) > MAX_NAME_CHARS or _CONTROL.search(name):
        raise ValueError(f"display name must be 1-{MAX_NAME_CHARS} characters, not blank, "
                         f"without control characters; got {name[:60]!r}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"display name must be valid Unicode text (no lone surrogates); got {name[:60]!r}") from None
    return name


def _normalise_code(code: str) -> str:
    """What the learner typed, as generated: lower case, without spaces or hyphens."""
    return re.sub(r"[\s-]", "", code).lower()


def _new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_GROUPS * _CODE_GROUP_LEN))
    return "-".join(raw[i:i + _CODE_GROUP_LEN] for i in range(0, len(raw), _CODE_GROUP_LEN))


def _hash_code(code: str, salt: bytes, kdf: str = _KDF) -> bytes:
    name, n, r, p = kdf.split(":")
    if name != "scrypt":
        raise ValueError(f"unknown access-code hash {kdf!r}")
    return hashlib.scrypt(_normalise_code(code).encode("utf-8", "surrogatepass"), salt=salt,
                          n=int(n), r=int(r), p=int(p), maxmem=64 * 1024 * 1024, dklen=32)


def is_url(location: object) -> bool:
    """Whether `location` names a PostgreSQL database (`postgresql://…`) rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class _SQLite:
    """The embedded back end: one file; one writer at a time (BEGIN IMMEDIATE), readers never wait."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        # Made readable by its owner only (-wal and -shm inherit this). Only a new file is opened here: closing
        # any descriptor of a file releases every POSIX lock this process holds on it, SQLite's included, so
        # another process could then take this process's connections for gone, checkpoint, and delete the WAL
        # index they read from (they would read stale rows from then on).
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode.lower() != "wal":
                raise sqlite3.OperationalError(f"cannot put {self.path} in WAL mode (got {mode!r}); "
                                               "is it on a network file system?")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def begin(conn: sqlite3.Connection, write: bool) -> None:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    @staticmethod
    def busy(error: BaseException) -> bool:
        if not isinstance(error, sqlite3.OperationalError):
            return False
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        message = str(error).lower()
        return "locked" in message or "busy" in message

    @staticmethod
    def broken(conn: sqlite3.Connection) -> bool:
        return False

    @staticmethod
    def rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    @staticmethod
    def migrate(conn: sqlite3.Connection) -> None:
        """In a read: see the tables current (the usual case), or take the write lock and create or upgrade them."""
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version == SCHEMA_VERSION:
            return
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then see it done
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        _check_version(version)
        for step in _SQLITE_MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")

    @staticmethod
    def snapshot(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T],
                 functions: dict[str, Callable[..., object]], histories: list[tuple[str, str]]) -> T:
        for name, function in functions.items():
            conn.create_function(name, -1, _text_arguments(function), deterministic=True)
        return work(conn)


@contextlib.contextmanager
def _limits():
    """Turn the database's refusal of an insert over a learner's limits into OverLimit, with what to do."""
    try:
        yield
    except Exception as error:
        if _OVER_QUOTA in str(error):
            raise OverLimit(f"your saved answers, every version of them, have reached the {MAX_LEARNER_BYTES // 2**20} MiB "
                            "one learner can keep on this site, so nothing new was saved. Your text is still on "
                            "this page: copy it somewhere safe, and tell your facilitator.") from None
        if _OVER_SUBMISSIONS in str(error):
            raise _too_many_submissions() from None
        raise


def _too_many_submissions() -> OverLimit:
    return OverLimit(f"you have handed in this module {MAX_SUBMISSIONS} times, the most this site keeps. Your "
                     "latest hand-in is the one that is graded; tell your facilitator if you need another.")


def _check_version(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"answer store {version=} is newer than this code knows ({SCHEMA_VERSION}); "
                           "upgrade the course package")




class _PostgresConnection:
    """A psycopg connection that takes the store's SQL as written for SQLite (`?` placeholders)."""

    def __init__(self, raw) -> None:
        self.raw = raw

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: tuple | list = ()):
        return self.raw.execute(self._sql(sql), params)

    def close(self) -> None:
        self.raw.close()


class _Postgres:
    """The server back end: a PostgreSQL database. Writes run at READ COMMITTED and lock only the rows they
    change; reads see one snapshot (REPEATABLE READ) and never wait."""

    def __init__(self, url: str) -> None:
        import psycopg  # only a store on PostgreSQL loads psycopg: a learner's kernel on SQLite never does
        from psycopg import errors

        self.url = url
        parts = urllib.parse.urlsplit(url)
        self.where = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"  # no password in messages
        self._psycopg = psycopg
        # (UniqueViolation: another save of the item took the revision first; run again, it takes the next)
        self._busy = (errors.LockNotAvailable, errors.SerializationFailure, errors.DeadlockDetected,
                      errors.UniqueViolation)

    def connect(self) -> _PostgresConnection:
        raw = self._psycopg.connect(self.url, autocommit=True)
        try:
            raw.execute(f"SET lock_timeout = {BUSY_TIMEOUT_MS:d}")  # then _run's retries do the waiting
        except BaseException:
            raw.close()
            raise
        return _PostgresConnection(raw)

    @staticmethod
    def begin(conn: _PostgresConnection, write: bool) -> None:
        conn.execute("BEGIN ISOLATION LEVEL " + ("READ COMMITTED" if write else "REPEATABLE READ READ ONLY"))

    def busy(self, error: BaseException) -> bool:
        return isinstance(error, self._busy)

    @staticmethod
    def broken(conn: _PostgresConnection) -> bool:
        return conn.raw.closed

    def rollback(self, conn: _PostgresConnection) -> None:
        if not conn.raw.closed and conn.raw.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
            try:
                conn.execute("ROLLBACK")
            except self._psycopg.Error:
                pass

    @staticmethod
    def migrate(conn: _PostgresConnection) -> None:
        """In a read: see the tables current (the usual case: it takes no lock, so none a learner's role holds
        can stall it), or lock them and create or upgrade them. The lock is the version table's, in a mode
        that a role that may only read it cannot take (no advisory lock: any role may take those)."""
        if _Postgres._version(conn) == SCHEMA_VERSION:
            return
        conn.execute("COMMIT")
        conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        # (a new database: two processes creating it at once meet on a unique key; the later runs again)
        conn.execute("CREATE TABLE IF NOT EXISTS allies_schema (version INTEGER NOT NULL)")
        conn.execute("LOCK TABLE allies_schema IN SHARE ROW EXCLUSIVE MODE")
        row = conn.execute("SELECT version FROM allies_schema").fetchone()  # (again: upgraded meanwhile?)
        if row is None:
            conn.execute("INSERT INTO allies_schema (version) VALUES (0)")
        version = row[0] if row else 0
        if version == SCHEMA_VERSION:
            return
        _check_version(version)
        for step in _POSTGRES_MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        conn.execute("UPDATE allies_schema SET version = ?", (SCHEMA_VERSION,))

    @staticmethod
    def _version(conn: _PostgresConnection) -> int | None:
        """The tables' schema version (0 for none), or None if the version's table is not there yet."""
        if not conn.execute("SELECT to_regclass('allies_schema') IS NOT NULL").fetchone()[0]:
            return None
        row = conn.execute("SELECT version FROM allies_schema").fetchone()
        return row[0] if row else 0

    @staticmethod
    def snapshot(conn: _PostgresConnection, work: Callable[[sqlite3.Connection], T],
                 functions: dict[str, Callable[..., object]], histories: list[tuple[str, str]]) -> T:
        """`work` gets an in-memory SQLite copy of this read's snapshot: the roster without its codes, every
        latest answer, the revisions of the items in `histories`, and the submissions, so that aggregate
        SQL and the course's Python rules (as SQL functions) run unchanged on both back ends."""
        memory = sqlite3.connect(":memory:", isolation_level=None)
        try:
            for step in _SQLITE_MIGRATIONS:
                for statement in step:
                    memory.execute(statement)
            for (trigger,) in memory.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                memory.execute(f'DROP TRIGGER "{trigger}"')  # the limits': the copy is read, not added to
            memory.executemany(
                "INSERT INTO learners (id, display_name, role, code_kdf, code_salt, code_hash, created_at, session) "
                "VALUES (?, ?, ?, '', x'', x'', ?, ?)",
                conn.execute("SELECT id, display_name, role, created_at, session FROM learners").fetchall())
            modules, items = [m for m, _ in histories], [i for _, i in histories]
            memory.executemany("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?)", conn.execute(
                "SELECT learner, module, item, revision, value, saved_at FROM answers "
                "JOIN latest USING (learner, module, item, revision) UNION "
                "SELECT learner, module, item, revision, value, saved_at FROM answers "
                "JOIN unnest(?::text[], ?::text[]) AS wanted (module, item) USING (module, item)",
                (modules, items)).fetchall())
            memory.executemany("INSERT INTO latest VALUES (?, ?, ?, ?)",
                               conn.execute("SELECT learner, module, item, revision FROM latest").fetchall())
            memory.executemany("INSERT INTO submissions VALUES (?, ?, ?, ?, ?)", conn.execute(
                "SELECT learner, module, path, submitted_at, recorded_at FROM submissions ORDER BY rowid"
            ).fetchall())
            return _SQLite.snapshot(memory, work, functions, histories)
        finally:
            memory.close()


class AnswerStore:
    """The answer store at `location`: a SQLite file's path (created, owner-only), or a `postgresql://` URL of
    an existing database (see `is_url`); its tables are created or migrated on open.

    Safe to share between threads; each process opens its own. Call close() (or use `with`) when done.
    """

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.location = os.fspath(location)
        self._backend = _Postgres(self.location) if is_url(self.location) else _SQLite(self.location)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[threading.Thread, object]] = []
        self._pid = os.getpid()
        self._closed = False
        self._run(self._backend.migrate)

    # -- answers ---------------------------------------------------------------------------------

    def save(self, learner: str, module: str, item: str, value: str) -> Saved:
        """Append `value` as the next revision of the learner's item; returns once it is on disk."""
        check_id("learner id", learner)
        check_id("module id", module)
        check_id("item id", item)
        data = _encode(value, f"answer {learner}/{module}/{item}")

        def write(conn) -> Saved:  # (a trigger moves `latest` on)
            self._require_learner(conn, learner)
            (revision,) = conn.execute(
                "SELECT COALESCE(MAX(revision), 0) + 1 FROM answers WHERE learner = ? AND module = ? AND item = ?",
                (learner, module, item)).fetchone()
            now = _now()
            with _limits():
                conn.execute("INSERT INTO answers (learner, module, item, revision, value, saved_at) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (learner, module, item, revision, data, _stamp(now)))
            return Saved(revision, now)

        return self._run(write, write=True)

    def load(self, learner: str, module: str) -> dict[str, str]:
        """The latest value of each item the learner has saved in `module` ({} if none)."""
        check_id("learner id", learner)
        check_id("module id", module)
        rows = self._run(lambda conn: conn.execute(
            "SELECT latest.item, answers.value FROM latest JOIN answers USING (learner, module, item, revision) "
            "WHERE latest.learner = ? AND latest.module = ? ORDER BY latest.item", (learner, module)).fetchall())
        return {item: _decode(value) for item, value in rows}

    def activity(self, learner: str) -> dict[str, tuple[set[str], dt.datetime, bool]]:
        """For each module the learner has worked in: the items saved, when the latest was saved, and
        whether the module has been submitted."""
        check_id("learner id", learner)

        def read(conn):
            saved = conn.execute(
                "SELECT latest.module, latest.item, answers.saved_at FROM latest "
                "JOIN answers USING (learner, module, item, revision) WHERE latest.learner = ?", (learner,)).fetchall()
            submitted = {row[0] for row in conn.execute(
                "SELECT DISTINCT module FROM submissions WHERE learner = ?", (learner,))}
            return saved, submitted

        saved, submitted = self._run(read)
        found: dict[str, tuple[set[str], dt.datetime, bool]] = {}
        for module, item, at in saved:
            items, latest, _ = found.get(module, (set(), _unstamp(at), False))
            items.add(item)
            found[module] = (items, max(latest, _unstamp(at)), module in submitted)
        for module in submitted - set(found):  # handed in with nothing saved
            found[module] = (set(), dt.datetime.min.replace(tzinfo=dt.timezone.utc), True)
        return found

    def history(self, learner: str, module: str, item: str) -> list[Revision]:
        """Every saved revision of one item, oldest first ([] if none)."""
        check_id("learner id", learner)
        check_id("module id", module)
        check_id("item id", item)
        rows = self._run(lambda conn: conn.execute(
            "SELECT revision, saved_at, value FROM answers WHERE learner = ? AND module = ? AND item = ? "
            "ORDER BY revision", (learner, module, item)).fetchall())
        return [Revision(revision, _unstamp(saved_at), _decode(value)) for revision, saved_at, value in rows]

    def read(self, work: Callable[[sqlite3.Connection], T],
             functions: dict[str, Callable[..., object]] | None = None,
             histories: list[tuple[str, str]] = ()) -> T:
        """Run `work(connection)` on one consistent snapshot of the store, for aggregate queries (GROUP BY
        over the whole cohort) that the methods here do not cover; select from CURRENT for every person's
        latest answers. The connection is SQLite's on both back ends (on PostgreSQL, an in-memory copy of
        the snapshot): tables learners (without codes), latest, submissions and answers, which holds each
        item's latest revision and every revision of the (module, item) pairs in `histories`. `work` may
        keep what it needs in TEMP tables and must drop them. Each of `functions` is registered first as a
        deterministic SQL function, which gets answer values as str, decoded as the store keeps them."""
        return self._run(lambda conn: self._backend.snapshot(conn, work, functions or {}, list(histories)))

    # -- submissions -----------------------------------------------------------------------------

    def record_submission(self, learner: str, module: str, path: str | os.PathLike[str],
                          submitted_at: dt.datetime | None = None) -> Submission:
        """Record that the learner submitted `module` as the file at `path` (at `submitted_at`, an aware
        datetime, or now). Every submission is kept."""
        check_id("learner id", learner)
        check_id("module id", module)
        path_text = os.fspath(path)
        if not isinstance(path_text, str):
            raise TypeError(f"submission path must be a str or path, not {type(path_text).__name__}")
        data = _encode(path_text, "submission path")
        if submitted_at is None:
            submitted_at = _now()
        elif not isinstance(submitted_at, dt.datetime) or submitted_at.utcoffset() is None:
            raise ValueError(f"submitted_at must be a timezone-aware datetime; got {submitted_at!r}")
        submitted_at = submitted_at.astimezone(dt.timezone.utc)

        def write(conn) -> Submission:
            self._require_learner(conn, learner)
            with _limits():
                conn.execute("INSERT INTO submissions (learner, module, path, submitted_at, recorded_at) "
                             "VALUES (?, ?, ?, ?, ?)", (learner, module, data, _stamp(submitted_at), _stamp(_now())))
            return Submission(path_text, submitted_at)

        return self._run(write, write=True)

    def check_can_submit(self, learner: str, module: str) -> None:
        """Raise OverLimit if the learner has handed in `module` MAX_SUBMISSIONS times (check before writing
        the hand-in's file; record_submission refuses one more in any case)."""
        if len(self.submissions(learner, module)) >= MAX_SUBMISSIONS:
            raise _too_many_submissions()

    def submissions(self, learner: str, module: str) -> list[Submission]:
        """Every recorded submission of `module` by the learner, oldest first."""
        check_id("learner id", learner)
        check_id("module id", module)
        rows = self._run(lambda conn: conn.execute(
            "SELECT path, submitted_at FROM submissions WHERE learner = ? AND module = ? "
            "ORDER BY submitted_at, rowid", (learner, module)).fetchall())
        return [Submission(_decode(path), _unstamp(at)) for path, at in rows]

    # -- roster ----------------------------------------------------------------------------------

    def add_learner(self, learner_id: str, display_name: str, role: str = "learner") -> str:
        """Put a learner (or instructor) on the roster; returns their new access code, which is stored
        only as a salted scrypt hash: show it once. Raises LearnerExists if the id is taken."""
        check_id("learner id", learner_id)
        check_name(display_name)
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
        code, salt = _new_code(), secrets.token_bytes(_SALT_BYTES)
        digest = _hash_code(code, salt)

        def write(conn) -> None:
            if conn.execute("SELECT 1 FROM learners WHERE id = ?", (learner_id,)).fetchone():
                raise LearnerExists(f"learner id {learner_id!r} is already on the roster")
            conn.execute("INSERT INTO learners (id, display_name, role, code_kdf, code_salt, code_hash, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (learner_id, display_name, role, _KDF, salt, digest, _stamp(_now())))

        self._run(write, write=True)
        return code

    def reset_code(self, learner_id: str) -> str:
        """Replace the learner's access code with a new one and return it; the old one stops working and
        the learner's sessions end."""
        code, salt = _new_code(), secrets.token_bytes(_SALT_BYTES)
        self._set_code(learner_id, salt, _hash_code(code, salt), NEW_CODE)
        return code

    def withdraw(self, learner_id: str) -> None:
        """Take away the learner's access: no code works for them any more and their sessions end.
        Their answers and submissions stay, for grading."""
        self._set_code(learner_id, secrets.token_bytes(_SALT_BYTES), b"", WITHDRAWN)

    def end_sessions(self, learner_id: str) -> None:
        """End every session the learner has (each sign-in cookie names the session it belongs to): they
        signed out."""
        check_id("learner id", learner_id)
        self._run(lambda conn: self._next_session(conn, learner_id, SIGNED_OUT), write=True)

    def session(self, learner_id: str) -> int | None:
        """The learner's current session number, or None if they are not on the roster."""
        if not (isinstance(learner_id, str) and _ID.fullmatch(learner_id)):
            return None
        row = self._run(lambda conn: conn.execute("SELECT session FROM learners WHERE id = ?",
                                                  (learner_id,)).fetchone())
        return row[0] if row else None

    def sessions(self) -> dict[str, int]:
        """Every learner's current session number (one read, for a server checking many at once)."""
        return dict(self._run(lambda conn: conn.execute("SELECT id, session FROM learners").fetchall()))

    def session_ended(self, learner_id: str) -> str | None:
        """Why the learner's last session ended: SIGNED_OUT, NEW_CODE or WITHDRAWN; '' if none has, None if
        they are not on the roster."""
        row = self._run(lambda conn: conn.execute("SELECT session_ended FROM learners WHERE id = ?",
                                                  (learner_id,)).fetchone())
        return row[0] if row else None

    def _set_code(self, learner_id: str, salt: bytes, digest: bytes, why: str) -> None:
        check_id("learner id", learner_id)

        def write(conn) -> None:
            self._next_session(conn, learner_id, why)
            conn.execute("UPDATE learners SET code_kdf = ?, code_salt = ?, code_hash = ? WHERE id = ?",
                         (_KDF, salt, digest, learner_id))

        self._run(write, write=True)

    def _next_session(self, conn, learner_id: str, why: str) -> None:
        self._require_learner(conn, learner_id)
        conn.execute("UPDATE learners SET session = session + 1, session_ended = ? WHERE id = ?",
                     (why, learner_id))

    def verify(self, learner_id: str, code: str) -> Learner | None:
        """The learner if `code` is their current access code (case, spaces and hyphens ignored),
        else None. Takes the same time whether or not the id exists."""
        row = None
        if isinstance(learner_id, str) and _ID.fullmatch(learner_id):
            row = self._run(lambda conn: conn.execute(
                "SELECT display_name, role, code_kdf, code_salt, code_hash FROM learners WHERE id = ?",
                (learner_id,)).fetchone())
        if not isinstance(code, str) or len(code) > 200:
            code = ""
        if row is None:
            _hash_code(code, b"\0" * _SALT_BYTES)  # same work as a real check
            return None
        display_name, role, kdf, salt, digest = row
        if hmac.compare_digest(_hash_code(code, salt, kdf), digest):
            return Learner(learner_id, display_name, role)
        return None

    def learners(self) -> list[Learner]:
        """The roster, by id."""
        rows = self._run(lambda conn: conn.execute(
            "SELECT id, display_name, role FROM learners ORDER BY id").fetchall())
        return [Learner(*row) for row in rows]

    # -- plumbing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection this store opened in this process. Use when no thread is using it."""
        with self._lock:
            self._closed = True
            if self._pid == os.getpid():
                for _, conn in self._connections:
                    conn.close()
            self._connections.clear()

    def __enter__(self) -> AnswerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _require_learner(conn, learner: str) -> None:
        if conn.execute("SELECT 1 FROM learners WHERE id = ?", (learner,)).fetchone() is None:
            raise UnknownLearner(f"learner id {learner!r} is not on the roster; add_learner() first")

    def _conn(self):
        """This thread's connection, opened on first use (and again in a forked child)."""
        pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == pid and not self._closed:
            return conn
        with self._lock:
            if self._closed:
                raise RuntimeError(f"answer store {self._backend.where} is closed")
            if self._pid != pid:  # forked: leave the parent's connections alone
                _INHERITED.extend(c for _, c in self._connections)
                self._connections = []
                self._pid = pid
            conn = self._backend.connect()
            alive = []
            for thread, other in self._connections:  # close connections of threads that have ended
                if thread.is_alive():
                    alive.append((thread, other))
                else:
                    other.close()
            alive.append((threading.current_thread(), conn))
            self._connections = alive
        self._local.conn, self._local.pid = conn, pid
        return conn

    def _forget(self, conn) -> None:
        """Drop this thread's broken connection (a restarted server); the next call opens a new one."""
        with self._lock:
            self._connections = [(t, c) for t, c in self._connections if c is not conn]
        self._local.conn = None
        conn.close()

    def _run(self, work: Callable, *, write: bool = False) -> T:
        """Run `work(connection)` in one transaction, a read or a `write`, retrying while what it needs is
        locked for longer than BUSY_TIMEOUT_MS (or, on PostgreSQL, another write took a revision first)."""
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        pause = 0.002
        while True:
            conn, committing = None, False
            try:
                conn = self._conn()
                self._backend.begin(conn, write)
                result = work(conn)
                committing = True
                conn.execute("COMMIT")
                return result
            except BaseException as error:
                if conn is not None:
                    self._backend.rollback(conn)
                    if self._backend.broken(conn):  # the server ended it (restarted, idle too long, or ended it)
                        self._forget(conn)
                        if not committing and time.monotonic() < deadline:  # nothing it did was kept: again
                            continue
                if not self._backend.busy(error):
                    raise
                if time.monotonic() > deadline:
                    raise StoreBusy(f"answer store {self._backend.where} stayed locked for "
                                    f"{RETRY_FOR_SECONDS:.0f} s; nothing was saved") from error
                time.sleep(random.uniform(pause / 2, pause))
                pause = min(pause * 2, 0.25)
