"""Database URLs shown to people: the password masked, even in a malformed URL."""

from __future__ import annotations

import re

__all__ = ["mask_passwords", "redact_url"]

#: ``scheme://user:password@`` anywhere in a text (an unquoted password may hold '@')
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s]*@")


def redact_url(url: str) -> str:
    """`url` with any password replaced by ``***`` (as SQLAlchemy's ``hide_password``, but
    also for URLs it cannot parse)."""
    scheme, sep, rest = url.partition("://")
    if not sep or rest.startswith("/"):
        return url  # jsonfile paths, sqlite files: no user info
    head = rest.split("?", 1)[0]
    at = head.rfind("@")  # an unquoted password may itself contain '@' or '/'
    if at == -1:
        return url
    user, colon, _ = head[:at].partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{rest[at + 1 :]}"


def mask_passwords(text: str) -> str:
    """`text` with the password of every URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", text)
