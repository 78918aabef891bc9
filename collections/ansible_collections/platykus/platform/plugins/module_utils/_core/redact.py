# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep credentials out of what the collection prints.

A URL may carry a user and password (``https://user:secret@host``). Anything the collection
puts in a message, a warning or a result shows such a URL as ``https://***@host``; the
credentials themselves are taken out once, with :func:`split_userinfo`, and passed on as
no_log values.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

REDACTED = "***"

# scheme://<authority>: the authority ends at the first / ? # or blank; its userinfo ends at the
# LAST @ in it (the greedy match backtracks to it), as urlsplit reads it, so a password holding an
# unescaped @ is hidden whole.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


def redact_url(url: Any) -> str:
    """``https://user:secret@host/x`` -> ``https://***@host/x``; anything else is returned unchanged (as text)."""
    return redact_text(url)


def redact_text(text: Any) -> str:
    """``text`` with the userinfo of every URL in it replaced (for messages that quote a URL)."""
    if text is None:
        return ""
    return _USERINFO.sub(lambda match: match.group("scheme") + REDACTED + "@", str(text))


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``(url without userinfo, user, password)``; user and password are None when the URL has none."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.netloc.rpartition("@")[2]
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return clean, user, password


def url_secrets(url: Any) -> list[str]:
    """The strings of ``url`` that must never be printed: its password, as written and decoded.

    Modules add them to ``no_log_values`` so Ansible masks them wherever they appear (module
    arguments shown at -vvv included), not only where the collection remembers to redact.
    """
    if not isinstance(url, str) or not url:
        return []
    parts = urlsplit(url)
    secrets = []
    if parts.password:
        secrets += [parts.password, unquote(parts.password)]
    return sorted(set(secret for secret in secrets if secret))
