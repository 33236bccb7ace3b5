"""Prometheus metrics of a service (``prometheus-client``; a registry of their own per service, served at
``/metrics``)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram("mtpf_request_seconds", "time from a request's arrival to its answer, by adapter",
                                 ["adapter"], buckets=LATENCY_BUCKETS, registry=r)
        self.requests = Counter("mtpf_requests_total", "answered requests by route and status", ["route", "status"],
                                registry=r)
        self.refusals = Counter("mtpf_refusals_total", "requests refused, by reason", ["reason"], registry=r)
        self.queue = Gauge("mtpf_queue_depth", "requests admitted and not yet answered", registry=r)
        self.batch_rows = Histogram("mtpf_batch_rows", "rows in one backbone pass", buckets=ROW_BUCKETS, registry=r)
        self.batch_adapters = Histogram("mtpf_batch_adapters", "distinct adapters in one backbone pass",
                                        buckets=ROW_BUCKETS, registry=r)
        self.batch_seconds = Histogram("mtpf_batch_seconds", "time of one backbone pass", buckets=LATENCY_BUCKETS,
                                       registry=r)

    def on_batch(self, stats) -> None:
        """``MixedBatcher``'s report after each pass."""
        self.batch_rows.observe(stats.rows)
        self.batch_adapters.observe(stats.adapters)
        self.batch_seconds.observe(stats.seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
