"""The ``[name]`` prefix (SPEC section 11): set by context, after the level, also with -d and in threads."""

from __future__ import annotations

import asyncio
import contextvars
import io
import logging
import re
from collections.abc import Callable

import pytest

from nat1_traversal import service_log
from nat1_traversal.blocking import in_daemon_thread
from nat1_traversal.log import Nat1Formatter, register_secrets

log = logging.getLogger("nat1_traversal.test_service_log")


def capture(debug: bool) -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(Nat1Formatter(debug))
    return handler, stream


def in_service(name: str | None, func: Callable[..., object], *args: object) -> None:
    context = contextvars.copy_context()
    if name is not None:
        context.run(service_log.SERVICE.set, name)
    context.run(func, *args)


def test_the_prefix_comes_after_the_level_and_only_inside_a_service() -> None:
    service_log.install()
    service_log.install()  # twice: still one prefix
    handler, stream = capture(False)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        in_service("java", log.info, "获取到映射地址： %s", "203.0.113.7:40123")
        in_service(None, log.info, "状态页已启动")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "[    INFO] [java] 获取到映射地址： 203.0.113.7:40123",
        "[    INFO] 状态页已启动",
    ]


def test_with_debug_the_prefix_comes_after_time_and_source() -> None:
    service_log.install()
    handler, stream = capture(True)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        in_service("bedrock", log.warning, "x")
    finally:
        log.removeHandler(handler)
    line = stream.getvalue().strip()
    assert re.fullmatch(r"\[ WARNING\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} "
                        r"nat1_traversal\.test_service_log:\d+ \[bedrock\] x", line), line


def test_secrets_are_still_masked_with_the_prefix() -> None:
    service_log.install()
    register_secrets(["prefix-secret-value"])
    handler, stream = capture(False)
    log.addHandler(handler)
    try:
        in_service("site", log.warning, "token %s", "prefix-secret-value")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().strip() == "[ WARNING] [site] token ******"


@pytest.mark.asyncio
async def test_tasks_and_daemon_threads_inherit_the_service() -> None:
    service_log.install()
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    keep = Keep()
    log.addHandler(keep)
    log.setLevel(logging.INFO)

    async def service() -> None:
        await asyncio.create_task(asyncio.sleep(0))
        child = asyncio.get_running_loop().create_task(_log_later("from a task"))
        await child
        await in_daemon_thread(lambda: log.info("from a thread"))

    try:
        context = contextvars.copy_context()
        context.run(service_log.SERVICE.set, "web")
        await context.run(asyncio.create_task, service())
        log.info("outside")
    finally:
        log.removeHandler(keep)
    assert records == ["[web] from a task", "[web] from a thread", "outside"]


async def _log_later(text: str) -> None:
    await asyncio.sleep(0)
    log.info(text)
