"""A site's private folder: the answer store, the sign-in secret and nbgrader's exchange.

It lives outside everything the website serves; `instance/` in the repository is git-ignored. The answer
store is the SQLite file answers.sqlite3 in it, unless a PostgreSQL URL is configured: given to `Instance`
(`cohort serve --store-url`), which keeps it in the folder's `store-url` file (owner-only: it may hold a
password) for every later command on the instance, or set in ALLIES_STORE_URL, which wins over the file.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from course.contract import STORE_URL_ENV
from course.paths import ROOT

DEFAULT = ROOT / "instance"


class Instance:
    def __init__(self, root: str | Path = DEFAULT, store_url: str | None = None):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if store_url:
            check_store_url(store_url, "--store-url")
            fd = os.open(self.root / "store-url", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(store_url + "\n")

    @property
    def store(self) -> str | Path:
        """The answer store's location: the configured PostgreSQL URL, or the SQLite file in this folder."""
        url = os.environ.get(STORE_URL_ENV)
        if url:
            return check_store_url(url, STORE_URL_ENV)
        try:
            return check_store_url((self.root / "store-url").read_text(encoding="utf-8").strip(),
                                   str(self.root / "store-url"))
        except FileNotFoundError:
            return self.root / "answers.sqlite3"

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    def cookie_secret(self, name: str = "cookie_secret") -> bytes:
        """A site's sign-in secret, kept across restarts in the file `name`, so sign-ins survive them."""
        path = self.root / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        return path.read_bytes()


def check_store_url(url: str, where: str) -> str:
    """`url` if it names a PostgreSQL database, else a ValueError that says what `where` needs."""
    from course.store.answers import POSTGRES_SCHEMES, is_url

    if not is_url(url):
        raise ValueError(f"{where} must be a PostgreSQL URL starting with {' or '.join(POSTGRES_SCHEMES)} "
                         f"(for example postgresql://allies@db.example.org/allies), not {url.split(':')[0][:20]!r}: … "
                         "Leave it unset to keep the answers in the instance's SQLite file.")
    return url
