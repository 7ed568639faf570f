"""Publishing a mapping: DNS records through the configured provider, and the ``on_change`` hook.

The keeper calls ``Publisher.submit(mapping)`` on every new mapping (its
``MappingTracker`` owns "the current mapping" and submits each once).  Only the
newest mapping matters: a submit cancels the publish still in flight.  A
publish plans the records (SPEC §5), lets the provider write only what differs,
reads back, and retries what the provider raised (``ProviderError``,
``NetworkError``) with capped exponential backoff and jitter, forever (a DNS
outage must never stop the mapping loop). Anything else is a bug of ours: it is
logged once with its traceback and not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

from nat1_traversal.backoff import PUBLISH_BACKOFF, Backoff
from nat1_traversal.blocking import in_daemon_thread
from nat1_traversal.command import split_command
from nat1_traversal.config import Config
from nat1_traversal.dns import create_provider
from nat1_traversal.dns.base import Provider, Record, plan_records
from nat1_traversal.errors import NetworkError, ProviderError, RateLimited
from nat1_traversal.i18n import t
from nat1_traversal.model import Mapping

log = logging.getLogger(__name__)

HOOK_TIMEOUT = 60.0
MAX_RETRY_AFTER = 3600.0  # the longest Retry-After honoured as given


# How long a new mapping's failed publish is retried at the keeper's pace before the
# publisher's own, slower backoff takes over (seconds).
FRESH_WINDOW = 600.0


class Publisher:
    """Publishes each new mapping once; owns at most one publish task at a time."""

    def __init__(
        self,
        config: Config,
        *,
        provider: Provider | None = None,
        retry: Backoff = PUBLISH_BACKOFF,
        hook_timeout: float = HOOK_TIMEOUT,
        after_publish: Callable[[Mapping], None] | None = None,
        on_result: Callable[[str | None], None] | None = None,
    ) -> None:
        self.config = config
        # Called once per mapping when DNS has been tried (SPEC section 15: the notifier).
        self.after_publish = after_publish
        self.on_result = on_result  # the status page's hook: None = published, else the error
        # Creating the provider imports its SDK now, so a missing package is reported at start.
        self.provider = provider if provider is not None else create_provider(config.dns)
        self.retry = retry
        self.hook_timeout = hook_timeout
        self._rng = random.Random()
        self._task: asyncio.Task[None] | None = None
        self._last: Mapping | None = None  # the newest mapping submitted
        # The service's context (its [name] log prefix): a refresh is asked for from another service's.
        self._context = contextvars.copy_context()
        self._closed = False

    # --- public API --------------------------------------------------------
    def submit(self, mapping: Mapping) -> None:
        """Publish ``mapping`` in the background; a newer submit cancels an older one.
        Deciding whether a mapping is new is the caller's (``MappingTracker``)."""
        self._last = mapping
        previous = self._task
        self._task = asyncio.get_running_loop().create_task(self._run(mapping, previous), name="publish")

    def refresh(self) -> None:
        """Publish the newest mapping's DNS records again, after the publish in flight (no
        ``on_change``, no notification): a shared A record this service must now hold."""
        if self._closed or self._last is None:
            return
        previous = self._task
        # Created inside the service's context: the task runs in a copy of it (Python 3.10 has no context=).
        self._task = self._context.run(asyncio.get_running_loop().create_task, self._refresh(self._last, previous),
                                       name="republish")

    async def publish(self, mapping: Mapping) -> None:
        """One full publish: DNS (with retries) and the on_change hook, concurrently."""
        tasks = [asyncio.ensure_future(self._publish_dns(mapping))]
        if self.config.on_change:
            tasks.append(asyncio.ensure_future(self._run_hook(self.config.on_change, mapping)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)

    async def aclose(self) -> None:
        """Cancel and await the publish in flight, then release the provider."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        await self.provider.aclose()

    # --- internals -----------------------------------------------------------
    async def _run(self, mapping: Mapping, previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            previous.cancel()
            await asyncio.wait([previous])
        try:
            await self.publish(mapping)
        except (ProviderError, NetworkError) as exc:
            log.error(t("dns.gave_up", error=exc))
        except Exception as exc:
            # A bug of ours (or a provider module's): once, loudly, with the traceback.
            log.exception(t("dns.unexpected", error=exc))

    async def _refresh(self, mapping: Mapping, previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            try:
                await asyncio.wait([previous])  # its hook and notification run to their end
            except asyncio.CancelledError:
                previous.cancel()  # a newer submit (or aclose) cancels both, as it would the one
                await asyncio.wait([previous])
                raise
        try:
            await self._publish_dns(mapping, notify=False)
        except (ProviderError, NetworkError) as exc:
            log.error(t("dns.gave_up", error=exc))
        except Exception as exc:
            log.exception(t("dns.unexpected", error=exc))

    async def _publish_dns(self, mapping: Mapping, *, notify: bool = True) -> None:
        if self.config.dns.kind == "no_dns":
            if notify:
                self._tried(mapping)
            return
        records = plan_records(self.config.dns, self.config.srv_prefix, mapping)
        failures = 0
        last_error = ""
        started = time.monotonic()
        while True:
            try:
                writes = await self._sync_once(records)
            except (ProviderError, NetworkError) as exc:
                if failures == 0 and notify:
                    self._tried(mapping)
                failures += 1
                if self.on_result is not None:
                    self.on_result(str(exc))
                if self.retry.gives_up(failures):
                    raise
                delay = self.retry.delay(failures, self._rng)
                if time.monotonic() - started < FRESH_WINDOW:
                    # A new mapping that is not yet published leaves players at the old
                    # address: while it is fresh, retry at least every keepalive interval,
                    # so a provider or webhook that comes back is used within one interval.
                    # After FRESH_WINDOW the normal backoff spares an API that is down.
                    delay = min(delay, max(1.0, self.config.keepalive_interval))
                if isinstance(exc, RateLimited) and exc.retry_after is not None:
                    # RFC 9110 section 10.2.3: not before the time the provider named
                    # (bounded, so an absurd header cannot park the publish for days).
                    delay = max(delay, min(exc.retry_after, MAX_RETRY_AFTER))
                message = t("dns.retry", error=exc, delay=delay)
                # Log a failure when it is new; repeating the same one every retry is noise.
                if str(exc) != last_error:
                    log.warning(message)
                else:
                    log.debug("%s", message)
                last_error = str(exc)
                await asyncio.sleep(delay)
                continue
            fields = {"name": self.config.dns.fqdn, "ip": mapping.outer.ip, "port": mapping.outer.port}
            log.info(t("dns.published" if writes else "dns.unchanged", **fields))
            if failures == 0 and notify:
                self._tried(mapping)
            if self.on_result is not None:
                self.on_result(None)
            return

    def _tried(self, mapping: Mapping) -> None:
        if self.after_publish is not None:
            self.after_publish(mapping)  # Notifier.submit: starts a task, returns at once

    async def _sync_once(self, records: Sequence[Record]) -> int:
        """One sync and, after writes, a read-back. A reply a provider module cannot
        understand is the module's to turn into ``ProviderError("dns.bad_reply")``;
        a ``KeyError`` or ``TypeError`` reaching here is a bug, and propagates."""
        writes = await self.provider.sync(records)
        if writes and not await self.provider.confirm(records):
            raise ProviderError("dns.confirm_failed", provider=self.provider.label)
        return writes

    async def _run_hook(self, command: str, mapping: Mapping) -> None:
        """Run ``on_change proto inner_ip inner_port outer_ip outer_port name`` (no shell); never raises.

        The sixth argument, the service name (SPEC section 11), is always there; scripts
        that read five arguments keep working.

        Raising here would cancel the DNS publish running beside it in ``publish``.
        """
        mapping_args = [
            mapping.proto,
            str(mapping.inner.ip),
            str(mapping.inner.port),
            str(mapping.outer.ip),
            str(mapping.outer.port),
            self.config.service_name,
        ]
        try:
            argv = [*split_command(command), *mapping_args]  # ValueError: an unclosed quote
            log.debug("on_change: %s", argv)
            # A session (and process group) of its own: a timeout or a shutdown kills the
            # hook together with whatever it started, leaving no orphans behind.
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, start_new_session=os.name == "posix"
            )
        except NotImplementedError:  # Windows selector loop: no asyncio subprocesses
            await self._run_hook_in_thread(command, argv)
            return
        except (OSError, ValueError) as exc:
            log.warning(t("dns.hook_missing", command=command, error=exc))
            return
        try:
            code = await asyncio.wait_for(process.wait(), self.hook_timeout)
        except asyncio.TimeoutError:
            log.warning(t("dns.hook_timeout", command=command, seconds=self.hook_timeout))
            await _kill(process)
            return
        except asyncio.CancelledError:
            await _kill(process)
            raise
        if code != 0:
            log.warning(t("dns.hook_failed", command=command, code=code))


    async def _run_hook_in_thread(self, command: str, argv: list[str]) -> None:
        try:
            done = await in_daemon_thread(
                lambda: subprocess.run(argv, stdin=subprocess.DEVNULL, timeout=self.hook_timeout, check=False)
            )
        except subprocess.TimeoutExpired:
            log.warning(t("dns.hook_timeout", command=command, seconds=self.hook_timeout))
        except OSError as exc:
            log.warning(t("dns.hook_missing", command=command, error=exc))
        else:
            if done.returncode != 0:
                log.warning(t("dns.hook_failed", command=command, code=done.returncode))


async def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill the hook and its process group (its own session, see ``_run_hook``)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.name == "posix":
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        await process.wait()
