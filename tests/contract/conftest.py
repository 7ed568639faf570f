"""Fixtures of the provider contract suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dns.contract import make_harness
from tests.support.dns.harness import Harness


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Parametrised per test through ``kinds(...)``: only where the test applies."""
    made = make_harness(request.param)
    try:
        yield made
    finally:
        made.close()
