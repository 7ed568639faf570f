"""Notifications through the real Apprise to real HTTP receivers on 127.0.0.1 (SPEC section 15):
Apprise's ``json://`` and ``form://`` webhooks, one message per URL per mapping, the template
filled, within 2 s, retried after a 500, and no secret of any URL in any log line."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from nat1_traversal.log import REDACTOR
from nat1_traversal.model import Endpoint, Mapping, Secret
from nat1_traversal.notify import Notifier, NotifyContext, NotifyRetry
from tests.support.receivers import Receiver, receiver, scripted

FAST = NotifyRetry(first_delay=0.2, max_delay=0.5, jitter=0.0)
CONTEXT = NotifyContext("bedrock", "mcbe", "example.com", "mc.example.com")
PASSWORD = "Pw-7f3a9c2e"
PATH_TOKEN = "HookToken5d21b7"
HEADER_VALUE = "HdrSecret88e1"


def mapping(port: int) -> Mapping:
    return Mapping("udp", Endpoint(ipaddress.ip_address("192.168.1.2"), 19132),
                   Endpoint(ipaddress.ip_address("203.0.113.9"), port))


def urls(json_rx: Receiver, form_rx: Receiver) -> tuple[Secret, Secret]:
    return (Secret(f"json://bot:{PASSWORD}@127.0.0.1:{json_rx.port}/hooks/{PATH_TOKEN}?+X-Auth={HEADER_VALUE}"),
            Secret(f"form://127.0.0.1:{form_rx.port}/notify"))


async def wait_for(rx: Receiver, count: int, timeout: float = 5.0) -> None:
    await asyncio.to_thread(rx.wait_for, count, timeout)


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    REDACTOR.clear()


@pytest.mark.asyncio
async def test_one_message_per_url_with_the_template_within_2_s(caplog: pytest.LogCaptureFixture) -> None:
    with receiver() as json_rx, receiver() as form_rx:
        notifier = Notifier(urls(json_rx, form_rx), "{name} {type} 新地址 {address} ({fqdn})", CONTEXT, retry=FAST)
        caplog.set_level(logging.DEBUG)  # everything, urllib3's request lines included
        started = time.monotonic()
        notifier.submit(mapping(40100))
        await asyncio.gather(wait_for(json_rx, 1), wait_for(form_rx, 1))
        await notifier.wait_sent()
        notifier.submit(mapping(40100))  # the same mapping again: no second message
        await asyncio.sleep(0.3)
        await notifier.aclose()
    assert len(json_rx.requests) == 1 and len(form_rx.requests) == 1
    expected = "bedrock mcbe 新地址 203.0.113.9:40100 (mc.example.com)"
    sent_json = json_rx.requests[0]
    assert json.loads(sent_json.body)["message"] == expected
    assert sent_json.headers["x-auth"] == HEADER_VALUE and sent_json.path.startswith(f"/hooks/{PATH_TOKEN}")
    assert parse_qs(form_rx.requests[0].body.decode())["message"] == [expected]
    assert max(r.at for r in (*json_rx.requests, *form_rx.requests)) - started < 2.0
    sent_lines = [r.getMessage() for r in caplog.records if "203.0.113.9:40100" in r.getMessage()]
    assert len(sent_lines) == 2 and any("notify[0] (json)" in line for line in sent_lines)
    for secret in (PASSWORD, PATH_TOKEN, HEADER_VALUE):
        assert secret not in caplog.text


@pytest.mark.asyncio
async def test_a_failed_url_is_retried_alone(caplog: pytest.LogCaptureFixture) -> None:
    with receiver(scripted(500)) as json_rx, receiver() as form_rx:
        notifier = Notifier(urls(json_rx, form_rx), None, CONTEXT, retry=FAST)
        caplog.set_level(logging.DEBUG)
        notifier.submit(mapping(40101))
        await wait_for(json_rx, 2)
        await notifier.wait_sent()
        await notifier.aclose()
    assert [r.at for r in json_rx.requests][1] - json_rx.requests[0].at >= FAST.first_delay * 0.9
    assert len(form_rx.requests) == 1
    assert len(json_rx.requests) == 2
    body = json.loads(json_rx.requests[1].body)["message"]
    assert "203.0.113.9:40101" in body and "mc.example.com" in body
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "notify[0] (json)" in warnings[0] and "500" in warnings[0]
    for secret in (PASSWORD, PATH_TOKEN, HEADER_VALUE):
        assert secret not in caplog.text


@pytest.mark.asyncio
async def test_a_new_mapping_is_sent_again() -> None:
    with receiver() as json_rx, receiver() as form_rx:
        notifier = Notifier(urls(json_rx, form_rx), "{port}", CONTEXT, retry=FAST)
        notifier.submit(mapping(40102))
        await notifier.wait_sent()
        notifier.submit(mapping(40103))
        await notifier.wait_sent()
        await notifier.aclose()
    assert [json.loads(r.body)["message"] for r in json_rx.requests] == ["40102", "40103"]
    assert [parse_qs(r.body.decode())["message"] for r in form_rx.requests] == [["40102"], ["40103"]]


@pytest.mark.asyncio
async def test_apprise_logs_nothing_of_its_own(caplog: pytest.LogCaptureFixture) -> None:
    with receiver(scripted(500, 500, 500)) as json_rx, receiver() as form_rx:
        notifier = Notifier(urls(json_rx, form_rx), None, CONTEXT, retry=FAST)
        logging.getLogger("apprise").warning("direct %s", PATH_TOKEN)  # even a line aimed at the root
        caplog.set_level(logging.DEBUG)
        notifier.submit(mapping(40104))
        await wait_for(json_rx, 2)
        await notifier.aclose()
    assert not [r for r in caplog.records if r.name.startswith("apprise")]
    assert PATH_TOKEN not in caplog.text
