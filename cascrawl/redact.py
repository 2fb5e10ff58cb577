"""Passwords out of what cascrawl prints: a URL (database or Redis) with its password as `***`, and an
error message with a URL's password taken out. The one home of this rule; imports only SQLAlchemy's URL
parser, and that only when called (Redis-only code pays nothing at import)."""

from __future__ import annotations

from typing import Any

MASK = "***"


def safe_url(url: Any) -> str:
    """`url` (a string or a SQLAlchemy URL) as it may be shown: its password replaced by ***.

    Rendered by SQLAlchemy's URL parser, which reads any `scheme://user:password@host…` URL (Redis's
    too); the result is stable from run to run (the spool's file name is derived from it). A string it
    cannot parse is shown as it is when it holds no credentials (no `@`), else not at all."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        return url if isinstance(url, str) and "@" not in url else "<unparseable URL>"


def password_of(url: Any) -> str | None:
    """The password in `url`, None when it has none or cannot be parsed."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password
    except (ArgumentError, ValueError, TypeError):
        return None


def without_password(message: str, url: Any) -> str:
    """`message` (a driver's error, which may quote the connection string) with `url`'s password as ***."""
    password = password_of(url)
    return message.replace(password, MASK) if password else message
