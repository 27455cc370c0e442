"""Remote URLs and ``--option`` values: what dvlin can use, and never a credential."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dvlin.errors import UsageError

SUPPORTED = ("s3", "file", "memory")
"""Protocols with a compare-and-swap dvlin knows how to do (see transport)."""
# Option names that look like credentials; the hint sends the user to the environment.
_SECRET_WORDS = ("secret", "token", "password", "passwd", "session", "credential")


def check_option(name: str, value: object) -> None:
    """Refuse an option that looks like a credential (credentials are never stored).

    Raises:
        UsageError: the name holds a secret-like word, or the value holds ``user:pass@``.
    """
    import re

    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    # A key *id* (SSEKMSKeyId, kms_key_id) names a key without being one; an access key id is
    # a credential all the same, and SSECustomerKey or an API key is the key itself.
    secret = any(w in flat for w in _SECRET_WORDS) or (
        re.search(r"key(?!id)", flat) is not None or ("key" in flat and "access" in flat)
    )
    if secret:
        raise UsageError(
            f"option {name!r} looks like a secret; dvlin never stores credentials",
            hint="set them in the environment (e.g. AWS_ACCESS_KEY_ID, AWS_PROFILE) or the "
            "backend's own config file",
        )
    if isinstance(value, str) and "://" in value and "@" in value.split("://", 1)[1].split("/")[0]:
        raise UsageError(
            f"option {name!r} holds a user and password in a URL",
            hint="put credentials in the environment, not in dvlin's config",
        )


def check_url(url: str) -> str:
    """The URL's protocol, after refusing URLs dvlin cannot use as a remote."""
    protocol = url.split("://", 1)[0] if "://" in url else "file"
    if protocol == "s3a":
        protocol = "s3"
    if protocol not in SUPPORTED:
        raise UsageError(
            f"remote {url!r}: {protocol}:// has no compare-and-swap support in dvlin yet",
            hint=f"use one of: {', '.join(p + '://' for p in SUPPORTED)}",
        )
    if "@" in url.split("://", 1)[-1].split("/")[0]:
        raise UsageError(
            f"remote {url!r} holds credentials", hint="put credentials in the environment"
        )
    return protocol


def option_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options as filesystem keyword arguments; ``a.b=v`` becomes ``a={"b": v}``."""
    result: dict[str, Any] = {}
    for key, value in options.items():
        check_option(key, value)
        parts = key.split(".")
        if not all(p.strip() for p in parts):
            raise UsageError(
                f"option {key!r} has an empty part", hint="write nested options as a.b=VALUE"
            )
        here = result
        for i, p in enumerate(parts):
            last = i == len(parts) - 1
            found = here.get(p)
            if found is not None and (last or not isinstance(found, dict)):
                raise UsageError(
                    f"option {key!r} clashes with option {'.'.join(parts[: i + 1])!r}",
                    hint="give each option once, either as a value or as a.b=VALUE parts",
                )
            if last:
                here[p] = value
            else:
                here = here.setdefault(p, {})
    return result
