"""The ``reach_check`` / ``reach_interval`` config keys (SPEC section 13), checked without I/O.

``reach_check``: null = the built-in checkers, ``[]`` = no external checker (the
hairpin still runs), a list = the user's URL templates. ``false`` (an extension)
turns every reachability check off, hairpin included: for a router that logs every
hairpin, and for tests, whose fake mapped addresses must never be contacted.
``reach_interval``: seconds between checks of the same mapping, a finite number
from 1 s to one day; with the built-in (public) checkers at least 60 s, so that a
typo cannot turn us into a load on services others run for free.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from nat1_traversal.i18n import t
from nat1_traversal.reach import checkers
from nat1_traversal.reach.checkers import Checker, from_templates, template_problem

DEFAULT_INTERVAL = 300.0
MIN_INTERVAL = 1.0
MIN_BUILTIN_INTERVAL = 60.0
MAX_INTERVAL = 86400.0
MAX_TEMPLATES = 16


@dataclass(frozen=True, slots=True)
class ReachKeys:
    templates: tuple[str, ...] | None  # None = the built-in list
    enabled: bool
    interval: float
    problems: tuple[str, ...]


def parse_reach_keys(check: object, interval: object) -> ReachKeys:
    problems: list[str] = []
    templates: tuple[str, ...] | None = None
    enabled = True
    if check is False:
        enabled = False
        templates = ()
    elif isinstance(check, list) and len(check) <= MAX_TEMPLATES:
        good: list[str] = []
        for item in check:
            key = template_problem(item)
            if key is not None:
                problems.append(t(key, value=json.dumps(item, ensure_ascii=False)))
            else:
                assert isinstance(item, str)
                good.append(item.strip())
        templates = tuple(good)
    elif check is not None:
        problems.append(t("reach.config.bad_list", max=MAX_TEMPLATES))
    seconds = DEFAULT_INTERVAL
    if interval is not None:
        number = float(interval) if isinstance(interval, (int, float)) and not isinstance(interval, bool) else None
        minimum = MIN_BUILTIN_INTERVAL if templates is None else MIN_INTERVAL
        if number is None or not math.isfinite(number) or not minimum <= number <= MAX_INTERVAL:
            problems.append(t(
                "reach.config.bad_interval", value=json.dumps(interval), minimum=f"{minimum:g}",
                maximum=f"{MAX_INTERVAL:g}",
            ))  # fmt: skip
        else:
            seconds = number
    return ReachKeys(templates, enabled, seconds, tuple(problems))


def checkers_for(templates: tuple[str, ...] | None) -> tuple[Checker, ...]:
    """The checkers a config names: ``None`` is the built-in list."""
    if templates is None:
        return checkers.BUILTIN  # looked up at call time: the test suite replaces it with a tripwire
    return from_templates(templates)
