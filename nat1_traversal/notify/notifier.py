"""Sending the new address to people (SPEC section 15), in the background.

``Notifier.submit(mapping)`` returns at once. The notifier owns one task at a time:
it sends the message to every URL, then retries only the URLs that failed, with
capped exponential backoff and jitter, until each has taken it. A newer mapping
cancels the older one's task (the newest mapping wins); an equal one is ignored, so
each URL gets one message per mapping.

Apprise blocks (``requests``), so every send runs in a daemon thread
(``blocking.in_daemon_thread``, not ``asyncio.to_thread``): a stuck webhook (Apprise's
own timeouts are 4 s + 4 s) must not hold a SIGTERM past its one-second budget.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from nat1_traversal.backoff import backoff_delay
from nat1_traversal.blocking import in_daemon_thread
from nat1_traversal.config import Config
from nat1_traversal.i18n import t
from nat1_traversal.log import register_secrets
from nat1_traversal.model import Mapping, Secret
from nat1_traversal.notify.settings import notify_secrets

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NotifyContext:
    """What the template knows about the service besides the mapping."""

    name: str
    type: str
    domain: str = ""
    fqdn: str = ""
    dns_published: bool = True  # False with no_dns: the default line then leaves the domain out


@dataclass(frozen=True, slots=True)
class NotifyRetry:
    first_delay: float = 2.0
    max_delay: float = 600.0
    jitter: float = 0.2

    def delay(self, failures: int, rng: random.Random) -> float:
        return backoff_delay(failures, self.first_delay, self.max_delay, jitter=self.jitter, rng=rng)


class Transport(Protocol):
    """Sends to URL number ``index``; blocking; ``(delivered, reason)``."""

    def send(self, index: int, title: str, body: str) -> tuple[bool, str]: ...


class AppriseTransport:
    """One Apprise service per URL, parsed on first use (that loads Apprise's plugins)."""

    def __init__(self, urls: Sequence[Secret]) -> None:
        self._urls = tuple(urls)
        self._plugins: dict[int, object] = {}
        self._lock = threading.Lock()

    def send(self, index: int, title: str, body: str) -> tuple[bool, str]:
        from nat1_traversal.notify import apprise_send

        with self._lock:  # Apprise loads its plugin table once; not from two threads at once
            plugin = self._plugins.get(index)
            if plugin is None:
                loaded, reason = apprise_send.load(self._urls[index].reveal())
                if loaded is None:
                    return False, reason
                self._plugins[index] = plugin = loaded
        return apprise_send.send(plugin, title, body)  # type: ignore[arg-type]  # stored as loaded


def render(template: str | None, context: NotifyContext, mapping: Mapping) -> tuple[str, str]:
    """``(title, body)`` for ``mapping``; a template that fails (checked at load) falls back."""
    fields = {
        "name": context.name,
        "type": context.type,
        "ip": str(mapping.outer.ip),
        "port": mapping.outer.port,
        "address": str(mapping.outer),
        "domain": context.domain,
        "fqdn": context.fqdn,
    }
    title = t("notify.title", **fields)
    if template is not None:
        try:
            return title, template.format(**fields)
        except (KeyError, IndexError, ValueError, AttributeError):
            log.debug("notify_template could not be filled; using the default")
    with_domain = context.fqdn and context.dns_published
    key = "notify.default_template" if with_domain else "notify.default_template_no_domain"
    return title, t(key, **fields)


def notifier_for(config: Config) -> Notifier | None:
    """The service's notifier, or None when ``notify`` is empty."""
    if not config.notify:
        return None
    # SPEC section 11: "<type>-<local port>" unless the service has a name.
    name = getattr(config, "name", None) or f"{config.type}-{config.local.port if config.local else 0}"
    context = NotifyContext(name=name, type=config.type, domain=config.dns.domain or "",
                            fqdn=config.dns.fqdn, dns_published=config.dns.kind != "no_dns")
    return Notifier(config.notify, config.notify_template, context)


def target_label(index: int, url: Secret) -> str:
    """``notify[0] (tgram)``: which URL, never what is in it."""
    text = url.reveal()
    scheme = text.split("://", 1)[0] if "://" in text else ""
    kept = "".join(ch for ch in scheme if ch.isascii() and (ch.isalnum() or ch in "+-."))[:16]
    return f"notify[{index}] ({kept or '?'})"


class Notifier:
    """Owns at most one sending task; ``submit`` per new mapping, ``aclose`` at the end."""

    def __init__(
        self,
        urls: Sequence[Secret],
        template: str | None,
        context: NotifyContext,
        *,
        retry: NotifyRetry | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.urls = tuple(urls)
        self.template = template
        self.context = context
        self.retry = retry or NotifyRetry()
        self.transport: Transport = transport if transport is not None else AppriseTransport(self.urls)
        self._labels = [target_label(index, url) for index, url in enumerate(self.urls)]
        self._rng = random.Random()
        self._task: asyncio.Task[None] | None = None
        self._wanted: Mapping | None = None
        for url in self.urls:
            register_secrets(notify_secrets(url.reveal()))

    def submit(self, mapping: Mapping) -> None:
        """Send ``mapping`` to every URL in the background; a newer one replaces it."""
        if not self.urls or mapping == self._wanted:
            return
        self._wanted = mapping
        previous = self._task
        self._task = asyncio.get_running_loop().create_task(self._run(mapping, previous), name="nat1-notify")

    async def wait_sent(self) -> None:
        """Until the current mapping has reached every URL (for tests and shutdown logic)."""
        task = self._task
        if task is not None:
            await asyncio.shield(task)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def _run(self, mapping: Mapping, previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            previous.cancel()
            await asyncio.wait([previous])
        title, body = render(self.template, self.context, mapping)
        pending = list(range(len(self.urls)))
        failures = 0
        last_reason: dict[int, str] = {}
        try:
            while pending:
                results = await asyncio.gather(*(self._send(index, title, body) for index in pending))
                failed = [(index, reason) for index, (ok, reason) in zip(pending, results, strict=True) if not ok]
                for index, (ok, _) in zip(pending, results, strict=True):
                    if ok:
                        log.info(t("notify.sent", target=self._labels[index], address=str(mapping.outer)))
                if not failed:
                    return
                failures += 1
                delay = self.retry.delay(failures, self._rng)
                for index, reason in failed:
                    message = t("notify.failed", target=self._labels[index], reason=reason or t("notify.no_reason"),
                                delay=delay)
                    # A failure is news the first time; the same one again each retry is noise.
                    if last_reason.get(index) != reason:
                        log.warning(message)
                    else:
                        log.debug("%s", message)
                    last_reason[index] = reason
                pending = [index for index, _ in failed]
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            if pending:
                log.debug("%s", t("notify.cancelled", address=str(mapping.outer)))
            raise

    async def _send(self, index: int, title: str, body: str) -> tuple[bool, str]:
        try:
            return await in_daemon_thread(lambda: self.transport.send(index, title, body), name="nat1-notify")
        except Exception as exc:  # a transport bug is a failed send, retried like one
            log.debug("notify transport failed", exc_info=True)
            return False, f"{type(exc).__name__}: {exc}"
