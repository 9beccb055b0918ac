"""Sign-in for a small cohort on the course's JupyterHub (deploy/jupyterhub/, ALLIES_HUB_AUTH=native):
JupyterHub's NativeAuthenticator, where people sign up with a password of their own, with three changes.

- An admin approves every sign-up. NativeAuthenticator approves on its own the names in the hub's
  `allowed_users` (the roster's people, with ALLIES_HUB_ROSTER), whoever signs up with them first: here only
  the hub's admins sign up approved.
- With a roster (`allowed_users`), a name not on it, nor an admin's, cannot sign up, nor sign in.
- A sign-up is approved, unapproved or discarded only by a POST from the admins' page, which JupyterHub
  checks for its _xsrf token. NativeAuthenticator did it on a GET of /hub/authorize/<name> and
  /hub/discard/<name>, so any page an admin opened (a link in a message, say) could approve a stranger.
"""
from __future__ import annotations

from pathlib import Path

from nativeauthenticator import handlers as native
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.orm import UserInfo
from tornado import web

TEMPLATES = Path(__file__).parent / "hub_templates"  # before NativeAuthenticator's own (jupyterhub_config.py)


class Approve(native.ToggleAuthorizationHandler):
    """POST /hub/authorize/<name>: approve a sign-up, or take an approval back. A GET is refused (405)."""

    post = native.ToggleAuthorizationHandler.get
    get = web.RequestHandler.get


class Discard(native.DiscardHandler):
    """POST /hub/discard/<name>: delete a sign-up not yet approved. A GET is refused (405)."""

    post = native.DiscardHandler.get
    get = web.RequestHandler.get


class CohortAuthenticator(NativeAuthenticator):
    """NativeAuthenticator with the admins' approval for everyone, the roster kept at sign-up, and changes to
    sign-ups by POST alone."""

    def get_authed_users(self) -> set[str]:
        """The names that sign up approved already (NativeAuthenticator asks nothing else of this): the
        approved, and the admins."""
        return {info.username for info in UserInfo.all_users(self.db) if info.is_authorized} | set(self.admin_users)

    def validate_username(self, username: str) -> bool:
        return super().validate_username(username) and (
            not self.allowed_users or username in set(self.allowed_users) | set(self.admin_users))

    def get_handlers(self, app):
        by_post = {native.ToggleAuthorizationHandler: Approve, native.DiscardHandler: Discard}
        return [(route, by_post.get(handler, handler)) for route, handler in super().get_handlers(app)]
