"""Lazy SDK imports and reply-size caps shared by the provider modules.

A provider module must import without its SDK (the registry imports every
provider to read its declaration), so SDKs are imported when a provider is
created, through ``require``, which turns a missing package into the one
``ProviderUnavailable`` message.  ``cap_replies`` bounds what a ``requests``
session reads from one reply.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from nat1_traversal.errors import ProviderError, ProviderUnavailable

if TYPE_CHECKING:
    import requests

MAX_REPLY_BYTES = 1 << 20  # 1 MiB: a DNS API reply is a few kB; more is a fault, not data


def require(provider: str, package: str, *modules: str) -> list[ModuleType]:
    """Import ``modules`` (in order); a missing one is ``ProviderUnavailable`` naming ``package``."""
    try:
        return [importlib.import_module(name) for name in modules]
    except ImportError as exc:
        raise ProviderUnavailable("dns.unavailable", provider=provider, package=package) from exc


class ReplyTooLarge(ProviderError):
    """A reply over ``MAX_REPLY_BYTES``; raised from inside ``requests`` and caught by the caller."""


def read_capped(response: requests.Response, provider: str, limit: int = MAX_REPLY_BYTES) -> bytes:
    """The whole body of a streamed ``response``, refusing more than ``limit`` bytes."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise ReplyTooLarge("dns.reply_too_large", provider=provider, limit=limit // 1024)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            response.close()
            raise ReplyTooLarge("dns.reply_too_large", provider=provider, limit=limit // 1024)
        chunks.append(chunk)
    return b"".join(chunks)


def cap_replies(session: requests.Session, provider: str, limit: int = MAX_REPLY_BYTES) -> None:
    """Make ``session`` read at most ``limit`` bytes of any reply (a response hook runs before
    ``requests`` reads the body, so the body is read here, bounded)."""

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        response._content = read_capped(response, provider, limit)
        vars(response)["_content_consumed"] = True  # private to requests, not in its stubs
        return response

    session.hooks.setdefault("response", []).append(hook)


def cap_adapter(adapter: Any, provider: str, limit: int = MAX_REPLY_BYTES) -> None:
    """Make a ``requests`` transport adapter read at most ``limit`` bytes of any reply, for SDKs
    that send prepared requests themselves (session hooks do not run then)."""
    if getattr(adapter, "_nat1_capped", False):
        return
    build = adapter.build_response

    def build_response(request: Any, raw: Any) -> requests.Response:
        response: requests.Response = build(request, raw)
        response._content = read_capped(response, provider, limit)
        vars(response)["_content_consumed"] = True
        return response

    adapter.build_response = build_response
    adapter._nat1_capped = True
