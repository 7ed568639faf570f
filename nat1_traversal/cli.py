"""Command line: parse options, load config, run one command, render errors once.

Everything user-facing ends here: exit code 0 success, 1 runtime failure,
2 bad usage or bad config (SPEC section 2). Below this module nothing prints
tracebacks for expected failures; they raise from ``nat1_traversal.errors``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from nat1_traversal import __version__, i18n
from nat1_traversal.addr import AddressError, parse_local, parse_remote
from nat1_traversal.config import Config
from nat1_traversal.errors import ConfigError, Nat1Error, UsageError
from nat1_traversal.i18n import t
from nat1_traversal.log import format_line, install_debug_signals, register_secrets, setup_logging, url_secrets
from nat1_traversal.model import Endpoint
from nat1_traversal.signals import GUARD, Stopped

if TYPE_CHECKING:
    from nat1_traversal.resolver import DohLookups

log = logging.getLogger("nat1_traversal.cli")

# option dest -> query kind understood by nat1_traversal.query.run_query
QUERY_KINDS: dict[str, str] = {
    "query": "all",
    "query_java": "java",
    "query_java_v6": "java6",
    "query_bedrock": "bedrock",
    "query_bedrock_v6": "bedrock6",
}
_UNSET = object()


@dataclass(frozen=True, slots=True)
class Options:
    help: bool = False
    version: bool = False
    debug: bool = False
    nat_type_test: bool = False
    config: Path = Path("config.json")
    config_given: bool = False
    local: Endpoint | None = None
    remote: Endpoint | None = None
    query_kind: str | None = None
    query_target: str | None = None
    lang: str | None = None
    status: bool = False


class _Finished(Exception):
    """Stop early with an exit code (the user declined or a file was just created)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse with our own help and Chinese usage errors."""

    def error(self, message: str) -> NoReturn:
        raise UsageError("cli.bad_args", detail=_translate_argparse(message))


_ARGPARSE_MESSAGES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"unrecognized arguments: (?P<v>.*)"), "cli.unrecognized", "args"),
    (re.compile(r"argument (?P<v>\S+): expected one argument"), "cli.needs_value", "option"),
    (re.compile(r"ambiguous option: (?P<v>\S+)"), "cli.ambiguous", "option"),
)


def _translate_argparse(message: str) -> str:
    for pattern, key, field in _ARGPARSE_MESSAGES:
        match = pattern.search(message)
        if match:
            return t(key, **{field: match.group("v")})
    return message


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nat1_traversal", add_help=False, allow_abbrev=False)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("-v", "--version", action="store_true")
    parser.add_argument("-d", "--debug", action="store_true")
    parser.add_argument("-t", "--nat-type-test", action="store_true", dest="nat_type_test")
    parser.add_argument("-c", "--config", default=None)
    parser.add_argument("-l", "--local", nargs="?", const="", default=None)
    parser.add_argument("-r", "--remote", nargs="?", const="", default=None)
    parser.add_argument("--lang", default=None)
    parser.add_argument("--status", action="store_true")
    for dest, flags in (
        ("query", ("-q", "--query")),
        ("query_java", ("-qj", "--query-java")),
        ("query_java_v6", ("-qj6", "--query-java-v6")),
        ("query_bedrock", ("-qb", "--query-bedrock")),
        ("query_bedrock_v6", ("-qb6", "--query-bedrock-v6")),
    ):
        parser.add_argument(*flags, dest=dest, nargs="?", const="", default=_UNSET)
    return parser


def parse_options(argv: Sequence[str]) -> Options:
    ns = build_parser().parse_args(list(argv))
    queries = [(dest, getattr(ns, dest)) for dest in QUERY_KINDS if getattr(ns, dest) is not _UNSET]
    if len(queries) > 1:
        raise UsageError("cli.conflict", first=_flag(queries[0][0]), second=_flag(queries[1][0]))
    if queries and ns.nat_type_test:
        raise UsageError("cli.conflict", first="-t", second=_flag(queries[0][0]))
    if ns.lang is not None and ns.lang.lower() not in ("zh", "en", "zh-cn", "en-us"):
        raise UsageError("cli.invalid_choice", option="--lang", value=ns.lang)
    query_kind = QUERY_KINDS[queries[0][0]] if queries else None
    query_target = (queries[0][1] or None) if queries else None
    return Options(
        help=ns.help,
        version=ns.version,
        debug=ns.debug,
        nat_type_test=ns.nat_type_test,
        config=Path(ns.config) if ns.config else Path("config.json"),
        config_given=ns.config is not None,
        local=_address("-l", ns.local, parse_local),
        remote=_address("-r", ns.remote, parse_remote),
        query_kind=query_kind,
        query_target=query_target,
        lang=ns.lang,
        status=ns.status,
    )


def _address(option: str, text: str | None, parse: Callable[[str], Endpoint]) -> Endpoint | None:
    if text is None:
        return None
    try:
        return parse(text)
    except AddressError as exc:
        raise UsageError("cli.bad_address", option=option, detail=t(exc.key, text=exc.text)) from None


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def apply_overrides(config: Config, options: Options) -> Config:
    """``-l``/``-r`` win over the config file (a file with two or more services: a usage error)."""
    if options.local is None and options.remote is None:
        return config
    if len(config.services) > 1:
        raise UsageError("services.cli_override", count=len(config.services))
    if options.local is not None:
        config = replace(config, local=options.local)
    if options.remote is not None:
        config = replace(config, remote=options.remote)
    if config.services:  # a list of one: the config is that service
        config = replace(config, services=(replace(config, services=()),))
    return config


def _load(options: Options, *, required: bool) -> Config:
    """Load the config file; when not required a missing file means defaults."""
    from nat1_traversal.config_load import config_exists, load_config, write_default_config
    from nat1_traversal.service_config import parse_file

    path = options.config
    if not config_exists(path):
        if not required and not options.config_given:
            return Config()
        if required and sys.stdin is not None and sys.stdin.isatty():
            answer = _ask(t("config.ask_create", path=str(path)))
            if answer.strip().lower() in ("y", "yes", "是"):
                write_default_config(path)
                print(t("config.created", path=str(path)))
                raise _Finished(0)
            print(t("config.not_created"))
            raise _Finished(2)
    config, warnings = load_config(path, parse=parse_file)
    for service in config.all_services:
        register_secrets([service.dns.token, service.status_token, *url_secrets(service.dns.id),
                          *url_secrets(service.resolver)])
    for warning in warnings:
        log.warning(warning)
    return config


def _use_resolver(config: Config) -> DohLookups | None:
    """SPEC section 15 ``resolver``: server names over DNS over HTTPS, unless "system"."""
    from nat1_traversal.net import set_name_lookup
    from nat1_traversal.resolver import lookups_for

    lookups = lookups_for(config.resolver)
    set_name_lookup(lookups.addresses if lookups is not None else None)
    return lookups


def _check_service(config: Config, options: Options) -> None:
    """No local address, or a forward target that cannot work: refused before anything starts."""
    from nat1_traversal.config_load import shown_path, topology_problems

    if len(config.services) > 1:
        problems = [t("services.in_service", path=f"services[{index}]", problem=problem)
                    for index, service in enumerate(config.services)
                    for problem in ([t("config.no_local")] if service.local is None else topology_problems(service))]
        if problems:
            raise ConfigError("config.invalid", problems=problems, path=shown_path(options.config))
        return
    if config.local is None:
        raise ConfigError("config.invalid", problems=[t("config.no_local")], path=shown_path(options.config))
    problems = topology_problems(config)
    if not problems:
        return
    if options.local is not None or options.remote is not None:  # (part of) it came from -l/-r
        raise UsageError("cli.bad_topology", detail=problems[0])
    raise ConfigError("config.invalid", problems=problems, path=shown_path(options.config))


def _ask(prompt: str) -> str:
    try:
        with GUARD.interruptible():
            return input(prompt)
    except EOFError:
        return ""


def _run(coro: Coroutine[Any, Any, int], *, fast_loop: bool = False) -> int:
    if sys.platform == "win32":
        # The UDP forwarder reads with add_reader, which the default Proactor loop lacks.
        asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())  # type: ignore[attr-defined,unused-ignore]
    if fast_loop and sys.platform != "win32" and not os.environ.get("NAT1_NO_UVLOOP"):
        try:
            import uvloop  # optional: only when the user installed it
        except ImportError:
            pass
        else:
            return uvloop.run(coro)
    return asyncio.run(coro)


async def _serve(config: Config) -> int:
    """The service inside the loop; the signal guard (nat1_traversal.signals) owns the signals."""
    loop = asyncio.get_running_loop()
    if not GUARD.installed:  # not the main thread (embedding): the app takes the signals itself
        from nat1_traversal.app import run_service

        with contextlib.suppress(NotImplementedError, RuntimeError):
            install_debug_signals(loop.add_signal_handler)
        return await run_service(config)
    stop = asyncio.Event()

    def on_stop(_signum: int) -> None:
        if not stop.is_set():
            log.info(t("keeper.stopping"))
            stop.set()

    GUARD.attach(loop, on_stop)
    try:
        from nat1_traversal.app import run_service

        if GUARD.received is not None:  # during start-up: nothing was started, nothing to undo
            on_stop(GUARD.received)
            return 0
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, OSError):
            install_debug_signals(GUARD.add_loop_handler)
        return await run_service(config, stop=stop, handle_signals=False)
    finally:
        GUARD.detach()


def _dispatch(options: Options) -> int:
    GUARD.check()
    if not _is_service(options):
        GUARD.uninstall()  # -q/-t/-h/...: Ctrl+C keeps Python's meaning ("interrupted", 130)
    if options.version:
        print(t("cli.version", version=__version__))
        return 0
    if options.help:
        print(t("cli.help"))
        return 0
    if options.query_kind is not None:
        from nat1_traversal.query import run_query
        from nat1_traversal.resolver import DohResolver

        try:  # only for `resolver`: a broken config.json must not stop a status query
            query_config = _load(options, required=False)
        except ConfigError as exc:
            log.warning(t("resolver.query_config_ignored", error=exc.render()))
            query_config = Config()
        lookups = _use_resolver(query_config)
        doh = DohResolver(lookups) if lookups is not None else None
        return _run(run_query(options.query_kind, options.query_target, resolver=doh))
    if options.status:
        from nat1_traversal.status.client import run_status_query

        return run_status_query(_load(options, required=False))
    if options.nat_type_test:
        from nat1_traversal.nat_type import run_nat_type_test

        config = _load(options, required=False)
        _use_resolver(config)
        return _run(run_nat_type_test(config, options.local))
    config = apply_overrides(_load(options, required=True), options)
    _check_service(config, options)
    _use_resolver(config)
    if any(service.proxy_protocol is not None and service.remote is None for service in config.all_services):
        log.warning(t("config.proxy_ignored"))
    GUARD.check()
    try:
        return _run(_serve(config), fast_loop=True)
    except KeyboardInterrupt:  # Ctrl+C where the loop cannot take signals (Windows): a normal stop
        log.info(t("keeper.stopping"))
        return 0


def _is_service(options: Options) -> bool:
    return not (options.version or options.help or options.query_kind is not None or options.status
                or options.nat_type_test)


def main(argv: Sequence[str] | None = None) -> int:
    """The console entry point. Stop signals are taken first of all (see signals.py); called
    with ``argv`` (tests, embedding) they are given back on return."""
    GUARD.install()
    GUARD.forced_line = lambda: format_line(logging.WARNING, t("keeper.forced_exit"))
    try:
        code = _main(argv)
    except Stopped:
        with contextlib.suppress(Exception):
            log.info(t("keeper.stopping"))
        code = 0
    if argv is not None:
        GUARD.uninstall()
        return code
    GUARD.finish()
    if GUARD.received is not None:
        _exit_now(code)
    return code


def _exit_now(code: int) -> NoReturn:
    """After a stop signal, end without interpreter finalization: it puts the default
    handlers back, and a second Ctrl+C in that moment would kill the process (-2)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    os._exit(code)


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    lang = _early_lang(args)
    if lang:
        i18n.set_language(lang)
    setup_logging("-d" in args or "--debug" in args)
    try:
        options = parse_options(args)
        return _dispatch(options)
    except _Finished as done:
        return done.code
    except Nat1Error as exc:
        log.error(exc.render())
        if isinstance(exc, UsageError):
            log.error(t("cli.usage_hint"))
        return exc.exit_code
    except KeyboardInterrupt:
        log.warning(t("cli.interrupted"))
        return 130
    except Exception as exc:  # the last line of defence: one line, not a traceback
        log.debug("unexpected error", exc_info=True)
        log.error(t("cli.unexpected", error=f"{type(exc).__name__}: {exc}"))
        return 1


def _early_lang(args: Sequence[str]) -> str | None:
    """``--lang`` must act before argparse errors are rendered."""
    for index, arg in enumerate(args):
        if arg == "--lang" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None
