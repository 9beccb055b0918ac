"""Sign-in for a small cohort on the course's JupyterHub (deploy/jupyterhub/, ALLIES_HUB_AUTH=native):
JupyterHub's NativeAuthenticator, where people sign up with a password of their own, with two changes.

- An admin approves every sign-up. NativeAuthenticator approves on its own the names in the hub's
  `allowed_users` (the roster's people, with ALLIES_HUB_ROSTER), whoever signs up with them first: here only
  the hub's admins sign up approved.
- With a roster (`allowed_users`), a name not on it, nor an admin's, cannot sign up, nor sign in.
"""
from __future__ import annotations

from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.orm import UserInfo


class CohortAuthenticator(NativeAuthenticator):
    """NativeAuthenticator with the admins' approval for everyone, and the roster kept at sign-up."""

    def get_authed_users(self) -> set[str]:
        """The names that sign up approved already (NativeAuthenticator asks nothing else of this): the
        approved, and the admins."""
        return {info.username for info in UserInfo.all_users(self.db) if info.is_authorized} | set(self.admin_users)

    def validate_username(self, username: str) -> bool:
        return super().validate_username(username) and (
            not self.allowed_users or username in set(self.allowed_users) | set(self.admin_users))
