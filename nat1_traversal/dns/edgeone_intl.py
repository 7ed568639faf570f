"""Tencent Cloud EdgeOne, international site: the TEO API of ``edgeone`` at its intl endpoint."""

from __future__ import annotations

from typing import ClassVar

from nat1_traversal.dns.cdn import CDN_TYPES
from nat1_traversal.dns.edgeone import EdgeOneProvider
from nat1_traversal.dns.spec import ProviderSpec


class EdgeOneIntlProvider(EdgeOneProvider):
    label: ClassVar[str] = "Tencent Cloud EdgeOne"
    default_endpoint: ClassVar[str] = "teo.intl.tencentcloudapi.com"


PROVIDER = ProviderSpec("edgeone_intl", EdgeOneIntlProvider, needs=frozenset({"id", "token", "domain"}), order=71,
                        types=CDN_TYPES)
