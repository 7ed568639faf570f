"""One harness per provider, so the contract suite can drive them all the same way.

Values are normalised: an address record's value is the address, an SRV value is
``"priority weight port target"`` (absolute target, no trailing dot).
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nat1_traversal.config import DnsSettings
from nat1_traversal.model import Secret
from tests.support.dns.fake_alidns import FakeAliDns
from tests.support.dns.fake_cloudflare import FakeCloudflare
from tests.support.dns.fake_dnspod import FakeDnspod
from tests.support.dns.fake_dynv6 import FakeDynv6
from tests.support.dns.fake_webhook import WebhookReceiver
from tests.support.dns.server import FakeApi

if TYPE_CHECKING:
    import dns.name
    import dns.tsig

ZONE = "example.com"
SUB = "mc"
# Tokens used by the tests; the secret-leak tests grep the logs for each of them.
SECRETS = {
    "cloudflare": "cf-TOKEN-5ecret-d3adbeef",
    "dynv6": "dynv6-TOKEN-5ecret-c0ffee",
    "webhook": "hook-TOKEN-5ecret-f00d",
    "tencentcloud": "tc-SECRETKEY-5ecret-abcdef",
    "alidns": "ali-SECRET-5ecret-123456",
    "rfc2136": base64.b64encode(b"rfc2136-tsig-5ecret-0123456789abcdef").decode(),
}


class Harness:
    kind = ""
    can_read = True
    http = True  # fault injection (429/502/stall) is possible
    fake: FakeApi
    endpoint: str

    def settings(self, **changes: Any) -> DnsSettings:
        raise NotImplementedError

    def bad_auth(self) -> DnsSettings:
        raise NotImplementedError

    def seed(self, rel: str, rtype: str, value: str, ttl: int = 600) -> None:
        self.fake.store.add(self.fake.store.absolute(rel), rtype, value, ttl)

    def values(self, rel: str, rtype: str) -> list[str]:
        return sorted(r.value for r in self.fake.store.find(self.fake.store.absolute(rel), rtype))

    def snapshot(self) -> list[tuple[str, str, str]]:
        return sorted((n, t, v) for n, t, v, _ in self.fake.store.snapshot())

    def writes(self) -> int:
        return self.fake.writes

    def set_page_size(self, size: int) -> None:
        self.fake.max_page_size = size

    def close(self) -> None:
        self.fake.stop()


class CloudflareHarness(Harness):
    kind = "cloudflare"
    fake: FakeCloudflare

    def __init__(self, legacy: bool = False) -> None:
        self.legacy = legacy
        self.fake = FakeCloudflare(ZONE, SECRETS["cloudflare"], email="admin@example.com",
                                   global_key=SECRETS["cloudflare"])
        self.endpoint = self.fake.start() + "/client/v4"

    def settings(self, **changes: Any) -> DnsSettings:
        base = DnsSettings(kind="cloudflare", id="admin@example.com" if self.legacy else None,
                           token=Secret(SECRETS["cloudflare"]), domain=ZONE, sub_domain=SUB, endpoint=self.endpoint)
        return replace(base, **changes)

    def bad_auth(self) -> DnsSettings:
        return self.settings(token=Secret("cf-wrong-token"))


class Dynv6Harness(Harness):
    kind = "dynv6"
    fake: FakeDynv6

    def __init__(self) -> None:
        self.fake = FakeDynv6(ZONE, SECRETS["dynv6"])
        self.endpoint = self.fake.start() + "/api/v2"

    def settings(self, **changes: Any) -> DnsSettings:
        base = DnsSettings(kind="dynv6", token=Secret(SECRETS["dynv6"]), domain=ZONE, sub_domain=SUB,
                           endpoint=self.endpoint)
        return replace(base, **changes)

    def bad_auth(self) -> DnsSettings:
        return self.settings(token=Secret("dynv6-wrong"))


class DnspodHarness(Harness):
    kind = "tencentcloud"
    fake: FakeDnspod

    def __init__(self) -> None:
        self.fake = FakeDnspod(ZONE, "AKIDnat1test", SECRETS["tencentcloud"])
        self.endpoint = self.fake.start()

    def settings(self, **changes: Any) -> DnsSettings:
        base = DnsSettings(kind="tencentcloud", id="AKIDnat1test", token=Secret(SECRETS["tencentcloud"]),
                           domain=ZONE, sub_domain=SUB, endpoint=self.endpoint)
        return replace(base, **changes)

    def bad_auth(self) -> DnsSettings:
        return self.settings(token=Secret("tc-wrong-key"))


class AliDnsHarness(Harness):
    kind = "alidns"
    fake: FakeAliDns

    def __init__(self) -> None:
        self.fake = FakeAliDns(ZONE, "LTAInat1test", SECRETS["alidns"])
        self.endpoint = self.fake.start()

    def settings(self, **changes: Any) -> DnsSettings:
        base = DnsSettings(kind="alidns", id="LTAInat1test", token=Secret(SECRETS["alidns"]),
                           domain=ZONE, sub_domain=SUB, endpoint=self.endpoint)
        return replace(base, **changes)

    def bad_auth(self) -> DnsSettings:
        return self.settings(token=Secret("ali-wrong-secret"))


class WebhookHarness(Harness):
    kind = "webhook"
    can_read = False
    fake: WebhookReceiver

    def __init__(self) -> None:
        self.fake = WebhookReceiver(ZONE, SECRETS["webhook"])
        self.endpoint = self.fake.start() + "/hook"

    def settings(self, **changes: Any) -> DnsSettings:
        base = DnsSettings(kind="webhook", id=self.endpoint, token=Secret(SECRETS["webhook"]), domain=ZONE,
                           sub_domain=SUB)
        return replace(base, **changes)

    def bad_auth(self) -> DnsSettings:
        return self.settings(token=Secret("hook-wrong"))


# --- Knot DNS ------------------------------------------------------------------

KNOT_CONF = """\
server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
control:
    listen: "{d}/knot.sock"
log:
  - target: stderr
    any: info
database:
    storage: "{d}/db"
key:
  - id: nat1key.
    algorithm: {algorithm}
    secret: {secret}
acl:
  - id: nat1_update
    key: nat1key.
    action: [update, transfer]
zone:
  - domain: {zone}
    storage: "{d}"
    file: "{zone}.zone"
    acl: nat1_update
    zonefile-sync: -1
"""

ZONE_FILE = """\
$ORIGIN {zone}.
$TTL 300
@   SOA ns1 hostmaster 1 3600 600 86400 60
@   NS  ns1
ns1 A   127.0.0.1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KnotHarness(Harness):
    """A real knotd on 127.0.0.1:<high port>, stopped by pid in ``close``."""

    kind = "rfc2136"
    http = False

    def __init__(self, algorithm: str = "hmac-sha256") -> None:
        self.algorithm = algorithm
        import dns.tsigkeyring  # noqa: F401 - fail early when dnspython is missing

        self.dir = tempfile.TemporaryDirectory(prefix="nat1-knot-")
        d = Path(self.dir.name)
        (d / "db").mkdir()
        self.port = free_port()
        (d / "knot.conf").write_text(KNOT_CONF.format(d=d, port=self.port, secret=SECRETS["rfc2136"], zone=ZONE,
                                                              algorithm=algorithm))
        (d / f"{ZONE}.zone").write_text(ZONE_FILE.format(zone=ZONE))
        self.log = open(d / "knotd.log", "wb")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(["knotd", "-c", str(d / "knot.conf")], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self.endpoint = f"127.0.0.1:{self.port}"
        self._wait_ready()
        self.base_serial = self.serial()

    def _wait_ready(self) -> None:
        import dns.exception
        import dns.message
        import dns.query
        import dns.rcode

        for _ in range(100):  # bounded: about 10 s at most
            if self.process.poll() is not None:
                raise RuntimeError("knotd exited: " + Path(self.dir.name, "knotd.log").read_text())
            try:
                answer = dns.query.tcp(dns.message.make_query(ZONE + ".", "SOA"), "127.0.0.1", port=self.port,
                                       timeout=0.1)
                if answer.rcode() == dns.rcode.NOERROR and answer.answer:
                    return
            except (OSError, dns.exception.DNSException):
                pass
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(0.1)
        raise RuntimeError("knotd did not start")

    def _key(self) -> dict[dns.name.Name, dns.tsig.Key]:
        import dns.name
        import dns.tsig

        name = dns.name.from_text("nat1key.")
        algorithm = "HMAC-MD5.SIG-ALG.REG.INT" if self.algorithm == "hmac-md5" else self.algorithm
        return {name: dns.tsig.Key(name, SECRETS["rfc2136"], dns.name.from_text(algorithm))}

    def settings(self, **changes: Any) -> DnsSettings:
        base = DnsSettings(kind="rfc2136", id="nat1key.", token=Secret(SECRETS["rfc2136"]), domain=ZONE,
                           sub_domain=SUB, endpoint=self.endpoint, tsig_algorithm=self.algorithm)
        return replace(base, **changes)

    def bad_auth(self) -> DnsSettings:
        return self.settings(token=Secret(base64.b64encode(b"a-wrong-secret-of-the-right-size!!").decode()))

    def _query(self, name: str, rtype: str) -> list[str]:
        import dns.message
        import dns.query

        answer = dns.query.tcp(dns.message.make_query(name + ".", rtype), "127.0.0.1", port=self.port, timeout=2)
        out: list[str] = []
        for rrset in answer.answer:
            for rdata in rrset:
                text = rdata.to_text()
                out.append(text.rstrip(".") if rtype == "SRV" else text)
        return sorted(out)

    def serial(self) -> int:
        return int(self._query(ZONE, "SOA")[0].split()[2])

    def seed(self, rel: str, rtype: str, value: str, ttl: int = 600) -> None:
        import dns.query
        import dns.update

        update = dns.update.UpdateMessage(ZONE + ".", keyring=self._key())
        update.add(f"{rel}.{ZONE}.", ttl, rtype, value + ("." if rtype == "SRV" else ""))
        dns.query.tcp(update, "127.0.0.1", port=self.port, timeout=2)
        self.base_serial = self.serial()

    def values(self, rel: str, rtype: str) -> list[str]:
        return self._query(f"{rel}.{ZONE}" if rel not in ("", "@") else ZONE, rtype)

    def snapshot(self) -> list[tuple[str, str, str]]:
        import dns.query
        import dns.zone

        zone = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ZONE + ".", port=self.port, keyring=self._key(),
                                               timeout=2))
        out = []
        for name, rdataset in zone.iterate_rdatasets():
            if rdataset.rdtype.name in ("SOA",):
                continue
            for rdata in rdataset:
                out.append((name.to_text(), rdataset.rdtype.name, rdata.to_text()))
        return sorted(out)

    def writes(self) -> int:
        return self.serial() - self.base_serial

    def set_page_size(self, size: int) -> None:
        pass

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, 9)
                self.process.wait(5)
        self.log.close()
        self.dir.cleanup()


HTTP_HARNESSES = {
    "cloudflare": CloudflareHarness,
    "cloudflare-legacy": lambda: CloudflareHarness(legacy=True),
    "dynv6": Dynv6Harness,
    "tencentcloud": DnspodHarness,
    "alidns": AliDnsHarness,
    "webhook": WebhookHarness,
}
