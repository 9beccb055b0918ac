"""A watch over a PostgreSQL answer store that learners reach with roles of their own (JupyterHub): it ends any
learner's database session that holds the others up.

A learner runs any SQL they like with their role (`course.store.roles`). Some statements wait in a lock's queue
for a lock they will then be refused: `CREATE RULE` or `CREATE TRIGGER` on a store table, behind the learner's
own open transaction, or on a system catalog. While they wait, everyone else's use of that table queues
behind them: every save and hand-in, or, on `pg_authid`, every new connection to the server. No right and no
setting of the role stops this, as a learner may change their own lock_timeout and statement_timeout. So the
hub runs this watch as the store's owner (`python -m course.store.watch`, with the owner's URL in
ALLIES_HUB_STORE_URL). Every EVERY_SECONDS it looks for lock requests, in any database of the server, that
have waited for over WAIT_SECONDS, and ends each learner's session that waits for a table lock its rights do
not allow, or that holds one of those requests up. The store's own code never holds another up so long (its
transactions last milliseconds). To end other roles' sessions the owner must be a superuser or hold
`pg_signal_backend`; `waitstart` needs PostgreSQL 14 or later.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading

from course.store.answers import BUSY_TIMEOUT_MS
from course.store.roles import ROLE_TABLE

WAIT_SECONDS = 3.0  # a wait on a lock this long is no save's: the store's transactions last milliseconds
EVERY_SECONDS = 1.0
NAME = "allies-store-watch"  # its sessions' application_name
log = logging.getLogger("allies.store.watch")

# Lock requests waiting for over WAIT_SECONDS (PostgreSQL 14's pg_lock_status().waitstart). A learner's session
# ends if it waits for a table lock stronger than its rights allow (refused once granted, it is only there to
# hold the queue up), or if it holds up any of them (pg_blocking_pids: holding the lock, or ahead of it in the
# queue). A learner's save waiting in the same queue is left alone. (pg_stat_get_activity, not the
# pg_stat_activity view, which reads pg_authid: a queue on it would hold the watch up as well.)
_END_STALLING = """
    WITH waits AS (
      SELECT pid, locktype, mode FROM pg_lock_status()
      WHERE NOT granted AND waitstart < now() - %(wait)s * interval '1 s'),
    stalling AS (
      SELECT waits.pid, 'waiting for a lock its rights do not allow' AS why
      FROM waits, LATERAL pg_stat_get_activity(waits.pid) AS session
      WHERE session.usesysid = ANY(%(roles)s::oid[]) AND waits.locktype IN ('relation', 'object')
        AND waits.mode NOT IN ('AccessShareLock', 'RowShareLock', 'RowExclusiveLock')
      UNION
      SELECT blocker.pid, 'holding up another session' FROM (SELECT DISTINCT pid FROM waits) AS waiting,
        LATERAL unnest(pg_blocking_pids(waiting.pid)) AS blocker (pid),
        LATERAL pg_stat_get_activity(blocker.pid) AS session
      WHERE session.usesysid = ANY(%(roles)s::oid[]))
    SELECT pid, string_agg(why, ', '), pg_terminate_backend(pid) FROM stalling
    WHERE pid <> pg_backend_pid() GROUP BY pid"""


def learner_roles(conn) -> list[int] | None:
    """The object ids of the store's learners' roles, each also looked up as ending its session will (so that,
    with `pg_authid` locked, the session's cache has it); None if the catalogue is locked just now."""
    import psycopg

    try:
        if conn.execute("SELECT to_regclass(%s) IS NULL", (ROLE_TABLE,)).fetchone()[0]:
            return []  # no learner has a role yet
        return [oid for oid, _ in conn.execute(
            f"SELECT r.oid, pg_get_userbyid(r.oid) FROM pg_roles r JOIN {ROLE_TABLE} l ON l.role = r.rolname")]
    except psycopg.errors.LockNotAvailable:
        return None


def end_stalling(conn, roles: list[int]) -> list[int]:
    """End the sessions of learners' `roles` that stall others (`_END_STALLING`); returns their process ids."""
    ended = []
    for pid, why, done in conn.execute(_END_STALLING, {"roles": roles, "wait": WAIT_SECONDS}):
        log.warning("ended learner session %s (%s for over %.0f s)%s", pid, why, WAIT_SECONDS,
                    "" if done else ": refused, the store's owner may not end it")
        ended.append(pid)
    return ended


def watch(owner_url: str, stop: threading.Event) -> None:
    """Keep one connection as the store's owner (a new one could be held up by the queue it is there to
    clear) and end stalling learners' sessions every EVERY_SECONDS, until `stop` is set."""
    import psycopg

    roles: list[int] = []  # (each statement waits BUSY_TIMEOUT_MS / 10 at most for a lock, then tries again)
    while not stop.is_set():
        try:
            with psycopg.connect(owner_url, autocommit=True, connect_timeout=10, application_name=NAME) as conn:
                conn.execute(f"SET lock_timeout = {BUSY_TIMEOUT_MS // 10:d}")
                while not stop.is_set():
                    roles = learner_roles(conn) or roles  # (the last known, while the catalogue is locked)
                    with contextlib.suppress(psycopg.errors.LockNotAvailable):
                        end_stalling(conn, roles)
                    stop.wait(EVERY_SECONDS)
        except psycopg.Error as error:
            log.warning("store watch: %s; connecting again", error)
            stop.wait(EVERY_SECONDS)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s store-watch] %(message)s")
    watch(os.environ["ALLIES_HUB_STORE_URL"], threading.Event())


if __name__ == "__main__":
    main()
