"""``GET /metrics``: the registry as Prometheus text, through ``prometheus_client``.

A custom collector reads one snapshot per scrape, so the series always agree
with ``/api/status``. Its own ``CollectorRegistry`` keeps the library's default
process/platform collectors (and anything else in the global registry) out.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from nat1_traversal.status.registry import StatusRegistry

CONTENT_TYPE = CONTENT_TYPE_LATEST


class StatusCollector(Collector):
    def __init__(self, registry: StatusRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        snapshot = self._registry.snapshot()
        labels = ["service"]
        up = GaugeMetricFamily("nat1_up", "1 when the service holds a mapping", labels=labels)
        port = GaugeMetricFamily("nat1_mapping_port", "The public port of the current mapping", labels=labels)
        remaps = CounterMetricFamily("nat1_remaps", "Mapping changes after the first mapping", labels=labels)
        reachable = GaugeMetricFamily("nat1_reachable", "1 when the mapping was proved reachable from outside, "
                                      "0 when proved unreachable; absent while unknown", labels=labels)
        dns_ok = GaugeMetricFamily("nat1_dns_ok", "1 when DNS holds the current mapping; absent with no_dns",
                                   labels=labels)
        failures = CounterMetricFamily("nat1_publish_failures", "Failed DNS publish attempts", labels=labels)
        for view in snapshot.services:
            status = view.status
            name = [status.name]
            up.add_metric(name, 1.0 if status.state == "mapped" else 0.0)
            if status.mapping is not None:
                port.add_metric(name, float(status.mapping.rsplit(":", 1)[1]))
            remaps.add_metric(name, float(status.remaps))
            if status.reachable is not None:
                reachable.add_metric(name, 1.0 if status.reachable else 0.0)
            if status.dns.state != "off":
                dns_ok.add_metric(name, 1.0 if status.dns.state == "ok" else 0.0)
            failures.add_metric(name, float(view.publish_failures))
        yield from (up, port, remaps, reachable, dns_ok, failures)


def metrics_registry(registry: StatusRegistry) -> CollectorRegistry:
    collectors = CollectorRegistry(auto_describe=False)
    collectors.register(StatusCollector(registry))
    return collectors


def render_metrics(collectors: CollectorRegistry) -> bytes:
    return generate_latest(collectors)
