"""Pure helpers of the DNS reply handling: Retry-After and dynv6 error bodies (issue 15)."""

from __future__ import annotations

import email.utils

from nat1_traversal.dns.dynv6 import describe_error
from nat1_traversal.dns.http import MAX_RETRY_AFTER, retry_after_seconds


def test_retry_after_forms() -> None:
    assert retry_after_seconds("5") == 5.0
    assert retry_after_seconds(" 120 ") == 120.0
    assert retry_after_seconds("99999999") == MAX_RETRY_AFTER
    now = 1_700_000_000.0
    assert retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert retry_after_seconds(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    for unusable in (None, "", "soon", "-1", "1.5", "²"):
        assert retry_after_seconds(unusable) is None


def test_dynv6_error_bodies() -> None:
    body = {"error": {"name": "ValidationError", "message": "Validation failed",
                      "fields": {"data": ["is invalid", "is too long"], "name": "taken"}}}
    assert describe_error(body) == "ValidationError: Validation failed (data is invalid, is too long; name taken)"
    assert describe_error({"error": "Unauthorized"}) == "Unauthorized"
    assert describe_error({"message": "Not Found"}) == "Not Found"
    assert describe_error("plain text") == "plain text"
