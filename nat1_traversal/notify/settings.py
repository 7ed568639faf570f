"""The ``notify`` / ``notify_template`` config keys (SPEC section 15), and what in a URL is secret.

``config_load`` calls ``parse_notify_keys`` and adds the problems it returns to the
others, so that every problem in a file is still reported at once. A URL is checked
by letting Apprise parse it (``apprise_send.check_url``): only Apprise knows its
100-odd URL formats. No message ever quotes a URL: URLs hold tokens.
"""

from __future__ import annotations

import ipaddress
import json
import string
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from nat1_traversal.i18n import t
from nat1_traversal.model import Secret

# The fields a template may use (SPEC section 15), with sample values for the check at load.
TEMPLATE_FIELDS: MappingType[str, object] = {
    "name": "mcje-25565",
    "type": "mcje",
    "ip": "203.0.113.7",
    "port": 40123,
    "address": "203.0.113.7:40123",
    "domain": "example.com",
    "fqdn": "mc.example.com",
}
# Apprise's own URL options: their values are settings, not credentials.
_OPTION_KEYS = frozenset({
    "format", "overflow", "method", "retry", "wait", "optional", "image", "emojis", "cto", "rto",
    "verify", "mode", "tz", "silent", "preview", "detect", "content", "mdv", "album", "priority",
    "sound", "level", "lang", "rate",
})
# A host or path part is taken for a token when it has a digit and at least this many
# characters, or is long (real tokens are random and long; "hooks" or "notify" are words).
# Passwords, user names and query values are always treated as secrets.
_MIN_TOKEN_PART = 6
_LONG_PART = 16


@dataclass(frozen=True, slots=True)
class NotifyKeys:
    urls: tuple[Secret, ...]
    template: str | None  # None: the default Chinese line
    problems: tuple[str, ...]


def parse_notify_keys(notify: object, template: object) -> NotifyKeys:
    """Check both keys; every problem is returned, none raised."""
    problems: list[str] = []
    urls: list[Secret] = []
    if isinstance(notify, str):
        notify = [notify]
    if notify is not None and not isinstance(notify, list):
        problems.append(t("notify.bad_list"))
    elif notify:
        texts: list[tuple[str, str]] = []
        for index, item in enumerate(notify):
            field = f"notify[{index}]"
            if not isinstance(item, str) or not item.strip():
                problems.append(t("notify.bad_item", field=field))
                continue
            texts.append((field, item.strip()))
            urls.append(Secret(item.strip()))
        problems.extend(_url_problems(texts))
    checked_template: str | None = None
    if template is not None:
        if not isinstance(template, str):
            problems.append(t("config.not_text", field="notify_template"))
        elif template.strip():
            error = template_error(template)
            if error is None:
                checked_template = template
            else:
                problems.append(t("notify.bad_template", error=error, fields=", ".join(TEMPLATE_FIELDS)))
    return NotifyKeys(tuple(urls), checked_template, tuple(problems))


def _url_problems(texts: list[tuple[str, str]]) -> list[str]:
    if not texts:
        return []
    from nat1_traversal.log import register_secrets

    # Before Apprise sees them: whatever it might say about a URL is then redacted.
    for _, url in texts:
        register_secrets(notify_secrets(url))
    try:
        from nat1_traversal.notify.apprise_send import check_url
    except ImportError:
        return [t("notify.no_apprise")]
    problems: list[str] = []
    for field, url in texts:
        reason = check_url(url)
        if reason is not None:
            scheme = url.split("://", 1)[0] if "://" in url else "?"
            problems.append(t("notify.bad_url", field=field, scheme=_short(scheme),
                              reason=f"：{reason}" if reason else ""))
    return problems


def _short(scheme: str) -> str:
    """A scheme as typed, safe to show: letters, digits and + - . only, at most 16."""
    kept = "".join(ch for ch in scheme if ch.isascii() and (ch.isalnum() or ch in "+-."))
    return kept[:16] or "?"


def template_error(template: str) -> str | None:
    """Why ``template`` cannot be filled with the SPEC's fields, or None when it can."""
    try:
        for _, field, _, _ in string.Formatter().parse(template):
            if field is None:
                continue
            root = field.split(".", 1)[0].split("[", 1)[0]
            if root not in TEMPLATE_FIELDS:
                return t("notify.template_field", field=json.dumps(root, ensure_ascii=False)[1:-1])
        template.format(**TEMPLATE_FIELDS)
    except (ValueError, IndexError, KeyError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def notify_secrets(url: str) -> list[str]:
    """Everything in an Apprise URL that may be a credential, raw and percent-decoded.

    Apprise puts tokens anywhere: the host (``wecombot://KEY``), the user and password
    (``tgram://BOTID:TOKEN/CHAT``), path segments (``dingtalk://TOKEN/``) and query
    values (``?token=``, ``-X-Header=value``). Only IP literals, dotted host names and
    short path words are left visible, so that logs still say where a message went.
    """
    found: set[str] = {url}
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        if len(netloc) == 2:
            user, _, password = netloc[0].partition(":")
            found.update(value for value in (user, password) if value)
        host = netloc[-1]
        # "BOTID:TOKEN" (Telegram) is a host to urlsplit; "[v6]:port" and "host:port" are not secret.
        host_parts = [] if host.startswith("[") else [host, *host.split(":")]
        candidates = [*host_parts, *parts.path.split("/")]
        found.update(part for part in candidates if _looks_like_token(part))
        found.update(value for key, value in parse_qsl(parts.query) if key.lower() not in _OPTION_KEYS)
        if parts.fragment:
            found.add(parts.fragment)
    except ValueError:
        pass
    return sorted(found | {unquote(item) for item in found})


def _looks_like_token(part: str) -> bool:
    if len(part) < _MIN_TOKEN_PART or (len(part) < _LONG_PART and not any(ch.isdigit() for ch in part)):
        return False
    try:
        ipaddress.ip_address(part)
    except ValueError:
        return "." not in part
    return False
