"""Tencent Cloud EdgeOne (TEO API 2022-09-01) as a CDN origin, through the bundled common SDK.

``id`` = SecretId, ``token`` = SecretKey (TC3-HMAC-SHA256, signed by
``tencentcloud-sdk-python-common``'s ``CommonClient``: no product SDK needed).
``domain`` is the EdgeOne site (zone), ``<sub_domain>.<domain>`` the acceleration
domain, which must already exist. Calls: DescribeZones (filter ``zone-name``),
DescribeAccelerationDomains (filter ``domain-name``), ModifyAccelerationDomain
(``OriginInfo`` = ``IP_DOMAIN`` + the IP, ``HttpOriginPort`` = ``HttpsOriginPort`` =
the port; the origin protocol is left as configured). ``edgeone_intl`` is the same
API at the international site's endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar, cast
from urllib.parse import urlsplit

from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.base import REQUEST_TIMEOUT, ErrorTable, Fault, Provider, Record
from nat1_traversal.dns.cdn import CDN_TYPES, Origin, port_of, wanted_origin
from nat1_traversal.dns.sdk import require
from nat1_traversal.dns.spec import ProviderSpec
from nat1_traversal.errors import NetTimeout, NetworkError, ZoneNotFound

log = logging.getLogger(__name__)

SERVICE = "teo"
VERSION = "2022-09-01"
ORIGIN_TYPE = "IP_DOMAIN"
ERRORS = ErrorTable(
    codes={"AuthFailure.UnauthorizedOperation": Fault.FORBIDDEN, "UnauthorizedOperation": Fault.FORBIDDEN},
    prefixes=(
        ("RequestLimitExceeded", Fault.RATE),
        ("UnauthorizedOperation.", Fault.FORBIDDEN),
        ("OperationDenied", Fault.FORBIDDEN),
        ("AuthFailure", Fault.AUTH),
        ("ResourceNotFound", Fault.ZONE),
        ("InvalidParameter.ZoneNotFound", Fault.ZONE),
    ),
    permission="QcloudTEOFullAccess",
)
# The SDK logs whole requests (with the Authorization header) at DEBUG: keep it quiet.
logging.getLogger("tencentcloud_sdk_common").setLevel(logging.WARNING)

JsonObj = dict[str, object]


class EdgeOneProvider(Provider):
    label: ClassVar[str] = "腾讯云 EdgeOne"
    default_endpoint: ClassVar[str] = "teo.tencentcloudapi.com"

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(settings, timeout=timeout)
        credential, sdk_exception, client_profile, profile, common_client = require(
            "edgeone", "tencentcloud-sdk-python-common",
            "tencentcloud.common.credential",
            "tencentcloud.common.exception.tencent_cloud_sdk_exception",
            "tencentcloud.common.profile.client_profile",
            "tencentcloud.common.profile.http_profile",
            "tencentcloud.common.common_client",
        )
        self._sdk_error: type[Exception] = sdk_exception.TencentCloudSDKException
        http_profile = profile.HttpProfile(reqTimeout=max(1, round(timeout)))
        http_profile.endpoint = self.default_endpoint
        if settings.endpoint:
            parts = urlsplit(settings.endpoint)
            http_profile.endpoint = parts.netloc or parts.path
            http_profile.scheme = parts.scheme or "https"
            http_profile.protocol = http_profile.scheme
        cred = credential.Credential(settings.id or "", settings.token.reveal() if settings.token else "")
        self._client = common_client.CommonClient(SERVICE, VERSION, cred, "",
                                                  client_profile.ClientProfile(httpProfile=http_profile))
        self._zone_id: str | None = None

    @property
    def domain_name(self) -> str:
        return self.settings.fqdn

    async def _call(self, action: str, params: JsonObj) -> JsonObj:
        def call() -> JsonObj:
            return cast(JsonObj, self._client.call_json(action, params))

        try:
            answer = await self.blocking(call)
        except self._sdk_error as exc:
            code = str(getattr(exc, "code", "") or "")
            message = str(getattr(exc, "message", ""))
            if code in ("ClientNetworkError", "ServerNetworkError"):
                if "timed out" in message.lower() or "timeout" in message.lower():
                    raise NetTimeout("dns.timeout", provider=self.label, seconds=self.timeout) from exc
                raise NetworkError("dns.network", provider=self.label, detail=f"{code}: {message}") from exc
            raise ERRORS.error(provider=self.label, detail=f"{code}: {message}", zone=self.settings.domain,
                               codes=[code]) from exc
        response = answer.get("Response")
        return cast(JsonObj, response) if isinstance(response, dict) else {}

    async def _zone(self) -> str:
        if self._zone_id is None:
            zone = (self.settings.domain or "").strip(".")
            answer = await self._call("DescribeZones", {"Filters": [{"Name": "zone-name", "Values": [zone]}]})
            zones = answer.get("Zones")
            for item in zones if isinstance(zones, list) else []:
                if isinstance(item, dict) and str(item.get("ZoneName", "")).lower() == zone.lower():
                    self._zone_id = str(item["ZoneId"])
                    break
            else:
                raise ZoneNotFound("dns.zone_not_found", hint="dns.hint.zone", provider=self.label, zone=zone,
                                   detail=zone, permission=ERRORS.permission)
        return self._zone_id

    async def read_origin(self) -> Origin:
        """The acceleration domain's origin; ZoneNotFound (cdn.domain_missing) when it does not exist."""
        zone_id = await self._zone()
        answer = await self._call("DescribeAccelerationDomains", {
            "ZoneId": zone_id, "Filters": [{"Name": "domain-name", "Values": [self.domain_name]}],
        })
        domains = answer.get("AccelerationDomains")
        for item in domains if isinstance(domains, list) else []:
            if isinstance(item, dict) and str(item.get("DomainName", "")).lower() == self.domain_name.lower():
                detail = item.get("OriginDetail")
                detail = detail if isinstance(detail, dict) else {}
                ip = str(detail.get("Origin", "")) if str(detail.get("OriginType", "")).upper() == ORIGIN_TYPE else ""
                return Origin(ip, port_of(item.get("HttpOriginPort")), port_of(item.get("HttpsOriginPort")))
        raise ZoneNotFound("cdn.domain_missing", hint="cdn.hint.domain_missing", provider=self.label,
                           name=self.domain_name, zone=self.settings.domain, detail=self.domain_name)

    async def sync(self, records: Sequence[Record]) -> int:
        wanted = wanted_origin(records, self.label)
        current = await self.read_origin()
        if wanted.same(current):
            return 0
        log.debug("%s: origin of %s %s -> %s", self.label, self.domain_name, current, wanted)
        await self._call("ModifyAccelerationDomain", {
            "ZoneId": await self._zone(),
            "DomainName": self.domain_name,
            "OriginInfo": {"OriginType": ORIGIN_TYPE, "Origin": wanted.ip},
            "HttpOriginPort": wanted.http_port,
            "HttpsOriginPort": wanted.https_port,
        })
        return 1

    async def confirm(self, records: Sequence[Record]) -> bool:
        return wanted_origin(records, self.label).same(await self.read_origin())



PROVIDER = ProviderSpec("edgeone", EdgeOneProvider, needs=frozenset({"id", "token", "domain"}), order=70,
                        types=CDN_TYPES)
