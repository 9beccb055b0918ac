"""A watch over a PostgreSQL answer store that learners reach with roles of their own (JupyterHub): it ends any
learner's database session that holds the others up.

A learner runs any SQL they like with their role (`course.store.roles`). Some statements wait in a lock's queue
for a lock they will then be refused: `CREATE RULE` or `CREATE TRIGGER` on a store table, behind the learner's
own open transaction, or on a system catalog. While they wait, everyone else's use of that table queues
behind them: every save and hand-in, or, on `pg_authid`, every new connection to the server. No right and no
setting of the role stops this, as a learner may change their own lock_timeout and statement_timeout. So the
hub runs this watch as the store's owner (`python -m course.store.watch`, with the owner's URL in
ALLIES_HUB_STORE_URL). Every EVERY_SECONDS it ends, in any database of the server, each learner's session that
stalls the others (`_END_STALLING`: waiting for a table lock its rights do not allow, holding up such a request,
holding too many locks, idle in a transaction for ten minutes). The store's own code does none of these (its
transactions last milliseconds). To end other roles' sessions the owner must be a superuser or hold
`pg_signal_backend`; `waitstart` needs PostgreSQL 14 or later.
"""
from __future__ import annotations

import logging
import os
import threading

from course.store.answers import BUSY_TIMEOUT_MS
from course.store.roles import ROLE_TABLE

WAIT_SECONDS = 3.0  # a wait on a lock this long is no save's: the store's transactions last milliseconds
MAX_LOCKS = 1000  # a save takes a few dozen
IDLE_SECONDS = 600.0
EVERY_SECONDS = 1.0
NAME = "allies-store-watch"  # its sessions' application_name
log = logging.getLogger("allies.store.watch")

# What a learner's session is ended for, each kind one branch (learners: usesysid in %(roles)s):
#  - waiting WAIT_SECONDS for a table lock stronger than its rights allow: refused once granted, it is only there
#    to hold the lock's queue up (PostgreSQL 14's pg_lock_status().waitstart);
#  - holding, for WAIT_SECONDS now, a lock that such a strong request (anyone's: an upgrade's too) waits for: a
#    transaction that began WAIT_SECONDS ago and waits for nothing itself. (Not one merely ahead in the queue,
#    which pg_blocking_pids also names: a learner's save waiting there is left alone.)
#  - holding over MAX_LOCKS locks: the lock table is the whole server's, and full, it refuses everyone;
#  - idle inside a transaction for IDLE_SECONDS: its snapshot keeps every later dead row from being vacuumed.
# (Functions only, no table: with the lock table full, or pg_authid's queue held up, the watch still works.)
_END_STALLING = """
    WITH waits AS (
      SELECT pid, locktype, mode, waitstart FROM pg_lock_status() WHERE NOT granted),
    strong AS (
      SELECT pid FROM waits WHERE locktype IN ('relation', 'object') AND waitstart < now() - %(wait)s * interval '1 s'
        AND mode NOT IN ('AccessShareLock', 'RowShareLock', 'RowExclusiveLock')),
    sessions AS (
      SELECT * FROM pg_stat_get_activity(NULL) WHERE usesysid = ANY(%(roles)s::oid[]) AND pid <> pg_backend_pid()),
    stalling AS (
      SELECT pid, 'waiting for a lock its rights do not allow' AS why FROM sessions WHERE pid IN (SELECT pid FROM strong)
      UNION
      SELECT sessions.pid, 'holding a lock that such a request waits for' FROM strong,
        LATERAL unnest(pg_blocking_pids(strong.pid)) AS blocker (pid) JOIN sessions ON sessions.pid = blocker.pid
      WHERE sessions.xact_start < now() - %(wait)s * interval '1 s' AND sessions.pid NOT IN (SELECT pid FROM waits)
      UNION
      SELECT pid, 'holding over ' || %(locks)s || ' locks' FROM pg_lock_status() WHERE granted
        AND pid IN (SELECT pid FROM sessions) GROUP BY pid HAVING count(*) > %(locks)s
      UNION
      SELECT pid, 'idle in a transaction' FROM sessions
      WHERE state LIKE 'idle in transaction%%' AND state_change < now() - %(idle)s * interval '1 s')
    SELECT pid, string_agg(why, ', '), pg_terminate_backend(pid) FROM stalling GROUP BY pid"""


def learner_roles(conn) -> list[int] | None:
    """The object ids of the store's learners' roles, each also looked up as ending its session will (so that,
    with `pg_authid` locked, the session's cache has it); None if the catalogue is locked just now."""
    import psycopg

    try:
        if conn.execute("SELECT to_regclass(%s) IS NULL", (ROLE_TABLE,)).fetchone()[0]:
            return []  # no learner has a role yet
        return [oid for oid, _ in conn.execute(
            f"SELECT r.oid, r.oid::regrole::text FROM pg_roles r JOIN {ROLE_TABLE} l ON l.role = r.rolname")]
    except (psycopg.errors.LockNotAvailable, psycopg.errors.OutOfMemory):
        return None


def end_stalling(conn, roles: list[int]) -> list[int]:
    """End the sessions of learners' `roles` that stall others (`_END_STALLING`); returns their process ids."""
    ended = []
    for pid, why, done in conn.execute(_END_STALLING, {"roles": roles, "wait": WAIT_SECONDS, "locks": MAX_LOCKS,
                                                       "idle": IDLE_SECONDS}):
        log.warning("ended learner session %s (%s)%s", pid, why,
                    "" if done else ": refused, the store's owner may not end it")
        ended.append(pid)
    return ended


def watch(owner_url: str, stop: threading.Event) -> None:
    """Keep one connection as the store's owner (a new one could be held up by the queue it is there to
    clear) and end stalling learners' sessions every EVERY_SECONDS, until `stop` is set."""
    import psycopg

    roles: list[int] = []
    while not stop.is_set():
        try:
            with psycopg.connect(owner_url, autocommit=True, connect_timeout=10, application_name=NAME) as conn:
                conn.execute(f"SET lock_timeout = {BUSY_TIMEOUT_MS // 10:d}")  # (then it tries again)
                while not stop.is_set():
                    try:
                        roles = learner_roles(conn) or roles  # (the last known, while the catalogue is locked)
                        end_stalling(conn, roles)
                    except psycopg.Error as error:
                        if conn.closed:
                            raise
                        log.warning("store watch: %s", error)  # (the lock table full, say: its query works)
                    stop.wait(EVERY_SECONDS)
        except psycopg.Error as error:
            log.warning("store watch: %s; connecting again", error)
            stop.wait(EVERY_SECONDS)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s store-watch] %(message)s")
    watch(os.environ["ALLIES_HUB_STORE_URL"], threading.Event())


if __name__ == "__main__":
    main()
