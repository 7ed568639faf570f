"""Alibaba Cloud RPC calls signed with ACS3-HMAC-SHA256, on ``requests`` (pure Python, bundled).

The signature follows the published "V3 request structure and signature":

    CanonicalRequest = Method \\n URI \\n CanonicalQuery \\n CanonicalHeaders \\n SignedHeaders \\n HashedPayload
    StringToSign     = "ACS3-HMAC-SHA256" \\n hex(sha256(CanonicalRequest))
    Signature        = hex(HMAC-SHA256(AccessKeySecret, StringToSign))

with the query parameters sorted and RFC 3986 percent-encoded, and ``host`` and
every ``x-acs-*`` header signed. RPC parameters travel in the query string; a
structured parameter (ESA's ``Data``) is sent as its JSON text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

ALGORITHM = "ACS3-HMAC-SHA256"


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()))


def sign(
    *,
    method: str,
    url: str,
    action: str,
    version: str,
    params: Mapping[str, object],
    access_key_id: str,
    access_key_secret: str,
    now: datetime | None = None,
    nonce: str | None = None,
) -> tuple[str, dict[str, str]]:
    """The request URL (with its canonical query) and headers, Authorization included."""
    texts = {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in params.items()}
    parts = urlsplit(url)
    path = parts.path or "/"
    query = canonical_query(texts)
    payload_hash = hashlib.sha256(b"").hexdigest()
    headers = {
        "host": parts.netloc,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": payload_hash,
    }
    signed = sorted(headers)
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    canonical_request = "\n".join([method, path, query, canonical_headers, ";".join(signed), payload_hash])
    string_to_sign = f"{ALGORITHM}\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    signature = hmac.new(access_key_secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"{ALGORITHM} Credential={access_key_id},SignedHeaders={';'.join(signed)},"
                                f"Signature={signature}")
    full_url = f"{parts.scheme}://{parts.netloc}{path}" + (f"?{query}" if query else "")
    return full_url, headers
