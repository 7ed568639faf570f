"""The ``status`` / ``status_token`` config keys (SPEC section 12), checked without I/O.

``config_load`` calls ``parse_status_keys`` and adds the problems it returns to the
others, so that every problem in a file is still reported at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nat1_traversal.addr import AddressError, parse_endpoint
from nat1_traversal.config import DEFAULT_STATUS
from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint, Secret

STATUS_DEFAULT_IP = "127.0.0.1"
STATUS_DEFAULT_PORT = DEFAULT_STATUS.port
# A token anyone could guess protects nothing; 16 characters is what `openssl rand -hex 8` gives.
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True, slots=True)
class StatusKeys:
    address: Endpoint | None  # None = off
    token: Secret | None
    problems: tuple[str, ...]
    warnings: tuple[str, ...]


def parse_status_keys(status: object, token: object) -> StatusKeys:
    """``status``: address text, ``true``/null (the default) or ``false`` (off)."""
    problems: list[str] = []
    warnings: list[str] = []
    address: Endpoint | None = DEFAULT_STATUS
    if status is False:
        address = None
    elif isinstance(status, str) and status.strip():
        try:
            address = parse_endpoint(status, STATUS_DEFAULT_IP, STATUS_DEFAULT_PORT)
        except AddressError as exc:
            problems.append(t("config.bad_address", field="status", detail=t(exc.key, text=exc.text)))
    elif status is not None and status is not True:
        problems.append(t("status.config_bad", value=json.dumps(status, ensure_ascii=False)))

    secret: Secret | None = None
    if isinstance(token, str) and token.strip():
        secret = Secret(token.strip())
        if len(secret.reveal()) < MIN_TOKEN_LENGTH:
            warnings.append(t("status.token_short", minimum=MIN_TOKEN_LENGTH))
    elif token is not None and not isinstance(token, str):
        problems.append(t("config.not_text", field="status_token"))
    if address is not None and not address.ip.is_loopback and secret is None and not problems:
        problems.append(t("status.token_required", address=str(address)))
    return StatusKeys(address, secret, tuple(problems), tuple(warnings))
