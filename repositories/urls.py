"""Database URLs: shown to people with the password masked (even in a malformed URL), and
turned into the engine URL with this library's driver choices."""

from __future__ import annotations

import importlib.util
import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from repositories.errors import InvalidQuery

__all__ = ["engine_url", "mask_passwords", "redact_url"]

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


def engine_url(url: str) -> URL:
    """The SQLAlchemy URL to connect to `url`, with this library's driver choices.

    A bare ``postgresql://`` means psycopg2, the driver every install has (SQLAlchemy 2.1
    would pick psycopg 3, an optional extra); ``postgresql+psycopg://`` needs that extra
    and says so in one line when it is missing.

    Raises:
        InvalidQuery: the URL cannot be parsed, or names a driver that is not installed.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise InvalidQuery(f"not a valid database URL: {redact_url(url)!r}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg2")
    if parsed.drivername == "postgresql+psycopg" and importlib.util.find_spec("psycopg") is None:
        raise InvalidQuery(
            f"{redact_url(url)}: postgresql+psycopg:// needs psycopg 3: "
            "pip install 'connectors-layer[psycopg]' (or use postgresql://, psycopg2)"
        )
    return parsed
