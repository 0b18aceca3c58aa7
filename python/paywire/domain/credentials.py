"""Rules for operator user names and passwords, checked before anything is hashed or stored.

User names are lower case so one person cannot hold two names differing only in case.
"""

from __future__ import annotations

import re

from paywire.domain.roles import SYSTEM

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
PASSWORD_MIN = 12
PASSWORD_MAX = 1024


def normalise_username(username: str) -> str:
    return username.strip().lower()


def username_problem(username: str) -> str | None:
    if username == SYSTEM:
        return f"{SYSTEM} is reserved for the gateway itself"
    if not USERNAME_RE.fullmatch(username):
        return "1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
    return None


def password_problem(password: str, username: str) -> str | None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long"
    if password.casefold() == username.casefold():
        return "must differ from the user name"
    return None
