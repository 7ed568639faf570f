"""Log format (SPEC section 9), run-time debug switch and secret redaction."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
from collections.abc import Iterator

import pytest

from nat1_traversal import log as nat1_log
from nat1_traversal.errors import ProviderAuthError
from nat1_traversal.model import Secret

SECRET = "sk-very-secret-4711"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    nat1_log.setup_logging(False, buffer)
    nat1_log.register_secrets([Secret(SECRET), None, "ab"])
    yield buffer
    nat1_log.REDACTOR.clear()
    nat1_log.setup_logging(False)


def test_plain_format(stream: io.StringIO) -> None:
    logging.getLogger("nat1_traversal.keeper").info("获取到映射地址： %s:%d", "203.0.113.1", 40000)
    assert stream.getvalue() == "[    INFO] 获取到映射地址： 203.0.113.1:40000\n"


def test_debug_format_adds_time_and_source(stream: io.StringIO) -> None:
    nat1_log.set_debug(True)
    logging.getLogger("nat1_traversal.stun").debug("probe")
    line = stream.getvalue()
    assert line.startswith("[   DEBUG] 20")
    assert "nat1_traversal.stun:" in line and line.endswith(" probe\n")
    nat1_log.set_debug(False)
    logging.getLogger("nat1_traversal.stun").debug("hidden")
    assert "hidden" not in stream.getvalue()


@pytest.mark.parametrize(
    "message",
    [
        f"token={SECRET}",
        f"POST https://x.example/?key={SECRET}",
        "Authorization: Bearer abc.def.ghi",
        "{'Authorization': 'TC3-HMAC-SHA256 Credential=AKIDxx/2026-11-25/dnspod/tc3_request, "
        "SignedHeaders=content-type;host, Signature=0123456789abcdef'}",
        "GET /?Action=DescribeDomainRecords&Signature=aBc%2Fdef%3D&SignatureMethod=HMAC-SHA1",
        "X-Auth-Key: 0123456789abcdef0123",
        '{"token": "whatever-it-is"}',
    ],
)
def test_redaction_everywhere(stream: io.StringIO, caplog: pytest.LogCaptureFixture, message: str) -> None:
    nat1_log.set_debug(True)
    with caplog.at_level(logging.DEBUG, logger="nat1_traversal"):
        logging.getLogger("nat1_traversal.dns").debug("request %s", message)
    secrets = [SECRET, "abc.def.ghi", "0123456789abcdef", "aBc%2Fdef", "whatever-it-is"]
    for text in (stream.getvalue(), caplog.text):
        assert "request" in text
        for secret in secrets:
            assert secret not in text, text
    assert "******" in stream.getvalue()


def test_exception_text_is_redacted(stream: io.StringIO) -> None:
    try:
        raise RuntimeError(f"bad key {SECRET}")
    except RuntimeError:
        logging.getLogger("nat1_traversal.x").exception("failed")
    assert SECRET not in stream.getvalue() and "******" in stream.getvalue()


def test_short_values_not_masked(stream: io.StringIO) -> None:
    logging.getLogger("nat1_traversal.x").info("ab port 1")
    assert "ab port 1" in stream.getvalue()


def test_secret_repr_never_shows() -> None:
    secret = Secret(SECRET)
    assert SECRET not in repr(secret) and SECRET not in str(secret) and SECRET not in f"{secret}"
    assert secret.reveal() == SECRET


def test_error_render_is_redacted_when_logged(stream: io.StringIO) -> None:
    error = ProviderAuthError("dns.error.auth", provider="webhook", detail=SECRET)
    logging.getLogger("nat1_traversal.cli").error(error.render())
    assert SECRET not in stream.getvalue()


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1 on this OS")
def test_sigusr_toggles_debug(stream: io.StringIO) -> None:
    async def scenario() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        assert nat1_log.install_debug_signals(loop.add_signal_handler)
        logger = logging.getLogger("nat1_traversal")
        os.kill(os.getpid(), signal.SIGUSR1)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if logger.isEnabledFor(logging.DEBUG):
                break
        on = logger.isEnabledFor(logging.DEBUG)
        os.kill(os.getpid(), signal.SIGUSR2)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if not logger.isEnabledFor(logging.DEBUG):
                break
        off = not logger.isEnabledFor(logging.DEBUG)
        loop.remove_signal_handler(signal.SIGUSR1)
        loop.remove_signal_handler(signal.SIGUSR2)
        return on, off

    assert asyncio.run(scenario()) == (True, True)
    assert "调试日志" in stream.getvalue()


def test_url_secrets() -> None:
    assert nat1_log.url_secrets("https://user:pw-1234@hook.example/x?key=abcd5678&v=1") == ["pw-1234", "abcd5678", "1"]
    assert nat1_log.url_secrets("https://hook.example/x") == []
    assert nat1_log.url_secrets(None) == []
