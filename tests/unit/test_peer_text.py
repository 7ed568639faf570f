"""Peer text made safe (issue 15): control characters escaped, no forged log lines, URL-path secrets masked."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from nat1_traversal import log as nat1_log
from nat1_traversal.errors import StunErrorResponse
from nat1_traversal.i18n import t
from nat1_traversal.text import printable, printable_json

FORGED = "nope\n[   ERROR] 已停止：伪造的日志行"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    nat1_log.setup_logging(True, buffer)
    yield buffer
    nat1_log.REDACTOR.clear()
    nat1_log.setup_logging(False)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain 文本", "plain 文本"),
        ("a\nb", "a\\nb"),
        ("a\r\n", "a\\r\\n"),
        ("\t", "\\t"),
        ("\x00\x07\x1b[2J", "\\x00\\x07\\x1b[2J"),
        ("\x7f", "\\x7f"),
        ("\x9b31m", "\\x9b31m"),  # C1 CSI
        ("\x85", "\\x85"),  # NEL
        ("a\u2028b\u2029", "a\\u2028b\\u2029"),
        ("\xa0é§", "\xa0é§"),  # printable non-ASCII stays
    ],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_printable_json_keeps_the_meaning() -> None:
    import json

    text = json.dumps({"d": "x\x9by\u2028\x1b"}, ensure_ascii=False)
    safe = printable_json(text)
    assert "\x9b" not in safe and "\u2028" not in safe
    assert json.loads(safe) == {"d": "x\x9by\u2028\x1b"}


def lines_of(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_percent_s_argument_cannot_forge_a_line(stream: io.StringIO) -> None:
    logging.getLogger("nat1_traversal.stun").debug("STUN %s: %s", "127.0.0.1:3478", FORGED)
    (line,) = lines_of(stream)
    assert "\\n[   ERROR]" in line


def test_message_field_cannot_forge_a_line(stream: io.StringIO) -> None:
    error = StunErrorResponse("stun.error_response", code=400, reason=FORGED)
    logging.getLogger("nat1_traversal.keeper").warning("%s", error)
    logging.getLogger("nat1_traversal.keeper").warning(t("stun.error_response", code=401, reason=FORGED))
    assert len(lines_of(stream)) == 2
    assert all(line.startswith("[ WARNING]") for line in lines_of(stream))


def test_any_newline_left_is_indented(stream: io.StringIO) -> None:
    logging.getLogger("nat1_traversal.x").info(f"an f-string with {FORGED}\x9b")
    first, second = lines_of(stream)
    assert first.startswith("[    INFO]") and first.endswith("nope")
    assert second.startswith("  [   ERROR]") and second.endswith("伪造的日志行\\x9b")


def test_deliberate_multi_line_messages_keep_their_shape(stream: io.StringIO) -> None:
    from nat1_traversal.errors import ConfigError

    error = ConfigError("config.invalid", problems=["a", "b"], path="c.json")
    logging.getLogger("nat1_traversal.cli").error(error.render())
    assert lines_of(stream)[1:] == ["  - a", "  - b"]


def test_exception_traceback_stays_inside_its_record(stream: io.StringIO) -> None:
    try:
        raise ValueError(FORGED)
    except ValueError:
        logging.getLogger("nat1_traversal.x").debug("boom", exc_info=True)
    assert sum(1 for line in lines_of(stream) if line.startswith("[")) == 1


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz-_0123456789",
         ["123456789012345678", "AbCdEfGhIjKlMnOpQrStUvWxYz-_0123456789"]),
        ("https://hooks.slack.com/services/T0ABCD123/B0ABCD456/abcdefghijklmnopqrstuvwx",
         ["T0ABCD123", "B0ABCD456", "abcdefghijklmnopqrstuvwx"]),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx", ["693a91f6-7xxx"]),
        ("https://ddns.example.com/api/v1/update", []),
        ("https://hook.example/x", []),
    ],
)
def test_url_path_secrets(url: str, secrets: list[str]) -> None:
    assert nat1_log.url_secrets(url) == secrets


def test_webhook_path_is_masked_at_warning_and_debug(stream: io.StringIO) -> None:
    url = "http://discord.example/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz-_0123456789"
    nat1_log.register_secrets(nat1_log.url_secrets(url))
    logging.getLogger("nat1_traversal.dns.webhook").warning(t("dns.webhook_plain_http", url=url))
    logging.getLogger("nat1_traversal.dns.http").debug("webhook: POST %s params=%s", url, None)
    text = stream.getvalue()
    assert "123456789012345678" not in text and "AbCdEfGh" not in text
    assert text.count("/api/webhooks/******/******") == 2
