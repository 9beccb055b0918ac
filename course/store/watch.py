"""A watch over a PostgreSQL answer store that learners reach with roles of their own (JupyterHub): it ends any
learner's database session that holds the others up.

A learner runs any SQL they like with their role (`course.store.roles`). Some statements wait in a lock's queue
for a lock they will then be refused: `CREATE RULE` or `CREATE TRIGGER` on a store table, behind the learner's
own open transaction, or on a system catalog. While they wait, everyone else's use of that table queues
behind them: every save and hand-in, or, on `pg_authid`, every new connection to the server. No right and no
setting of the role stops this, as a learner may change their own lock_timeout, statement_timeout and
idle_in_transaction_session_timeout. So the hub runs this watch as the store's owner (`python -m
course.store.watch`, with the owner's URL in ALLIES_HUB_STORE_URL). Every EVERY_SECONDS it ends the sessions of
learners' roles, in any database of the server, that have waited on a lock, or sat idle inside a transaction,
for more than STALL_SECONDS. The store's own code does neither for so long: it gives up a lock after
BUSY_TIMEOUT_MS and never leaves a transaction open. A learner's kernel whose session was ended opens
another. To end other roles' sessions the owner must be a superuser or hold `pg_signal_backend`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading

from course.store.answers import BUSY_TIMEOUT_MS
from course.store.roles import ROLE_TABLE

STALL_SECONDS = BUSY_TIMEOUT_MS / 1000 + 3
EVERY_SECONDS = 1.0
NAME = "allies-store-watch"  # its sessions' application_name
log = logging.getLogger("allies.store.watch")

# (pg_stat_get_activity, not the pg_stat_activity view, which reads pg_authid: the queue on it would hold the
# watch up as well)
_END_STALLING = """
    SELECT s.pid, s.wait_event_type, s.state, pg_terminate_backend(s.pid) FROM pg_stat_get_activity(NULL) AS s
    WHERE s.usesysid = ANY(%(roles)s::oid[]) AND s.pid <> pg_backend_pid() AND (
      (s.state = 'active' AND s.wait_event_type = 'Lock' AND s.query_start < now() - %(stall)s * interval '1 s')
      OR (s.state LIKE 'idle in transaction%%' AND s.state_change < now() - %(stall)s * interval '1 s'))"""


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
    """End the sessions of `roles` that have waited on a lock, or been idle in a transaction, too long; returns
    their process ids."""
    ended = []
    for pid, waiting, state, done in conn.execute(_END_STALLING, {"roles": roles, "stall": STALL_SECONDS}):
        log.warning("ended learner session %s (%s for over %.0f s)%s", pid,
                    "waiting on a lock" if waiting == "Lock" else state, STALL_SECONDS,
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
