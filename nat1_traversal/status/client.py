"""``--status``: ask the running process at the config's ``status`` address, one line per service.

A plain blocking HTTP request (the CLI runs no event loop for this), with one
short deadline. Exit 0 when the process answered, 1 when nothing answers.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
from collections.abc import Callable

from nat1_traversal.config import Config
from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint

log = logging.getLogger(__name__)

TIMEOUT = 3.0
STATES = {"starting": "status.state.starting", "mapped": "status.state.mapped",
          "retrying": "status.state.retrying", "failed": "status.state.failed"}
REACH = {True: "status.reach.true", False: "status.reach.false", None: "status.reach.none"}


def connect_address(address: Endpoint) -> Endpoint:
    """A server bound to 0.0.0.0 / :: is asked on the loopback address of its family."""
    if address.ip.is_unspecified:
        loopback = ipaddress.ip_address("::1" if address.ip.version == 6 else "127.0.0.1")
        return Endpoint(loopback, address.port)
    return address


def fetch_status(config: Config, timeout: float = TIMEOUT) -> dict[str, object]:
    """GET /api/status; raises OSError (nothing answers) or ValueError (an answer we cannot use)."""
    assert config.status is not None
    target = connect_address(config.status)
    headers = {"Accept": "application/json"}
    if config.status_token is not None:
        headers["Authorization"] = f"Bearer {config.status_token.reveal()}"
    connection = http.client.HTTPConnection(str(target.ip), target.port, timeout=timeout)
    try:
        connection.request("GET", "/api/status", headers=headers)
        response = connection.getresponse()
        body = response.read(1 << 20)
    except http.client.HTTPException as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    finally:
        connection.close()
    if response.status == 401:
        raise PermissionError(401)
    if response.status != 200:
        raise ValueError(f"HTTP {response.status}")
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("services"), list):
        raise ValueError("no services list")
    return data


def format_service(service: dict[str, object]) -> str:
    dns = service.get("dns")
    dns_name = dns.get("name") if isinstance(dns, dict) else None
    state = str(service.get("state"))
    reachable = service.get("reachable")
    line = t(
        "status.line",
        name=service.get("name"),
        state=t(STATES[state]) if state in STATES else state,
        mapping=service.get("mapping") or t("status.none"),
        dns=dns_name or t("status.none"),
        reachable=t(REACH[reachable]) if isinstance(reachable, bool) or reachable is None else reachable,
    )
    error = service.get("error")
    return f"{line}  ({error})" if error else line


def run_status_query(config: Config, *, out: Callable[[str], None] = print, timeout: float = TIMEOUT) -> int:
    if config.status is None:
        log.error(t("status.off"))
        return 1
    url = f"http://{connect_address(config.status)}/api/status"
    try:
        data = fetch_status(config, timeout)
    except PermissionError:
        log.error(t("status.unauthorized"))
        return 1
    except OSError as exc:
        log.error(t("status.no_answer", url=url, error=exc.strerror or exc))
        return 1
    except ValueError as exc:  # json.JSONDecodeError is one
        log.error(t("status.bad_answer", url=url, error=exc))
        return 1
    services = data["services"]
    assert isinstance(services, list)
    if not services:
        out(t("status.no_services"))
    for service in services:
        if isinstance(service, dict):
            out(format_service(service))
    return 0
