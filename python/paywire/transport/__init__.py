"""The TLS transport to the receiver: contexts, pipelined connections, the pool, the breaker.

What the rest of paywire uses of it is exported here: the pool, its outcome types and the
breaker's states.
"""

from paywire.transport.breaker import BreakerState, CircuitBreaker
from paywire.transport.connection import ConnectionState, Message, OutcomeHandler
from paywire.transport.errors import TransportError, Unanswered, UnansweredReason
from paywire.transport.pool import ConnectionPool, PoolState
from paywire.transport.tls import client_context, fingerprint_sha256

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "ConnectionPool",
    "ConnectionState",
    "Message",
    "OutcomeHandler",
    "PoolState",
    "TransportError",
    "Unanswered",
    "UnansweredReason",
    "client_context",
    "fingerprint_sha256",
]
