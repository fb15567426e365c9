"""URLs as they may be stored: credentials and secret-looking query parameters removed.

A key passed in ``--base-url`` (``http://user:KEY@host/v1``, ``...?api_key=KEY``) would otherwise
be written into run manifests, submissions and logs.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
_SECRET_NAME = re.compile(r"key|token|secret|passw|auth|sig|credential|session", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` without a password (user names kept) and with secret-looking parameter values hidden.

    >>> redact_url("https://me:sk-123@api.example.com/v1?api_key=sk-9&region=eu")
    'https://me:REDACTED@api.example.com/v1?api_key=REDACTED&region=eu'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return REDACTED  # not parseable: keep nothing of it
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None:
        user = parts.username or ""
        netloc = f"{user}:{REDACTED}@{host}{port}" if parts.password is not None else f"{user}@{host}{port}"
    query = urlencode(
        [(k, REDACTED if _SECRET_NAME.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        safe=REDACTED,
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_base_url(url: str, option: str = "--base-url") -> str:
    """``url`` if it can be used as an endpoint; else one clear error that never repeats a secret.

    A password in the URL is refused rather than sent: HTTP clients disagree on whether
    ``user:KEY@host`` becomes basic auth, and the key belongs in an environment variable.
    """
    from holobench.errors import HoloBenchError

    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port out of range raises here
    except ValueError:
        raise HoloBenchError(f"{option} {shown}: not a valid URL; give e.g. http://localhost:8000/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HoloBenchError(f"{option} {shown}: not an http(s) URL with a host; give e.g. http://localhost:8000/v1")
    if parts.password is not None:
        raise HoloBenchError(
            f"{option} {shown}: a key in the URL is not sent; put it in an environment variable "
            "and name it with --api-key-env"
        )
    return url
