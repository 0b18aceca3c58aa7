"""Every Prometheus metric of SPEC §8, defined once on the process registry.

Dashboards and alerts depend on these names; change none of them.
"""

from __future__ import annotations

from typing import Literal, get_args

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_ACK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

payments_initiated_total = Counter("payments_initiated_total", "Payments created by makers")
payments_approved_total = Counter("payments_approved_total", "Payments approved by checkers")
payments_completed_total = Counter("payments_completed_total", "Payments settled by an ACK")
payments_failed_total = Counter("payments_failed_total", "Payments failed by a NACK")
payment_processing_duration_seconds = Histogram(
    "payment_processing_duration_seconds",
    "Time from approval to settlement (ACK or NACK)",
    buckets=_LATENCY_BUCKETS,
)

tls_connections_active = Gauge("tls_connections_active", "TLS connections to the receiver up")
tls_connection_errors_total = Counter(
    "tls_connection_errors_total", "TLS connection failures and protocol errors", ["reason"]
)
tls_acks_received_total = Counter("tls_acks_received_total", "ACKs received from the receiver")
tls_nacks_received_total = Counter("tls_nacks_received_total", "NACKs received from the receiver")
tls_circuit_breaker_state = Gauge(
    "tls_circuit_breaker_state", "Circuit breaker state: 0 CLOSED, 1 HALF_OPEN, 2 OPEN"
)
tls_messages_inflight = Gauge("tls_messages_inflight", "Messages sent and not yet answered")
tls_ack_latency_seconds = Histogram(
    "tls_ack_latency_seconds", "Time from a frame's write to its answer", buckets=_ACK_BUCKETS
)
tls_protocol_anomalies_total = Counter(
    "tls_protocol_anomalies_total", "Answers that were neither a usable ACK nor NACK", ["kind"]
)
# Its kinds (docs/RUNBOOK.md, "Protocol anomalies"), each exported from the start at 0: a kind
# that appears only with its first anomaly reads as "no data", and `rate()` misses that first one.
AnomalyKind = Literal[
    "duplicate",
    "contradiction",
    "orphan",
    "unparseable",
    "uetr_mismatch",
    "unsettleable",
    "overflow",
]
for _kind in get_args(AnomalyKind):
    tls_protocol_anomalies_total.labels(kind=_kind)

http_request_duration_seconds = Histogram(
    "http_request_duration_seconds",
    "Admin surface request latency",
    ["method", "route", "status"],
)

db_pool_connections = Gauge("db_pool_connections", "Database pool connections by state", ["state"])
reconciliation_unmatched_items = Gauge(
    "reconciliation_unmatched_items", "Unmatched items in the latest reconciliation"
)
exceptions_open = Gauge("exceptions_open", "Exceptions in state OPEN")

# Not in SPEC §8's list: what GET /health answers, for the "health check failing" alert.
health_status = Gauge("health_status", "What GET /health answers: 0 ok, 1 degraded, 2 error")
