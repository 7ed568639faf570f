"""Fixtures of the loopback layer (real sockets on 127.0.0.1 / ::1)."""

from tests.support.app_kit import fakes

__all__ = ["fakes"]
