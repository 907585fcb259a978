"""Prometheus metrics, one registry per process, served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

MOVEMENTS = Counter(
    "zhongshu_movements_total", "Ledger movements by kind and result", ["kind", "result"], registry=REGISTRY
)
REFUSED = Counter("zhongshu_refusals_total", "Requests refused, by reason", ["reason"], registry=REGISTRY)
INBOUND = Counter("zhongshu_inbound_events_total", "Inbound events by source and outcome", ["source", "outcome"],
                  registry=REGISTRY)  # fmt: skip
JOBS = Gauge("zhongshu_jobs", "Durable jobs by state", ["state"], registry=REGISTRY)
HTTP_LATENCY = Histogram(
    "zhongshu_http_request_seconds", "API latency by route", ["method", "route"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)  # fmt: skip
PUSH_LATENCY = Histogram(
    "zhongshu_push_latency_seconds", "Change committed → platform acknowledged the push", ["source"], registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5, 1, 2, 5),
)  # fmt: skip
PUSH_ERRORS = Counter("zhongshu_push_errors_total", "Push errors by source and class", ["source", "kind"],
                      registry=REGISTRY)  # fmt: skip
DRIFT = Gauge("zhongshu_drift_listings", "Listings whose platform figure differs from the expected one", ["source"],
              registry=REGISTRY)  # fmt: skip
