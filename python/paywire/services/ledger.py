"""The ledger behind the gateway, as an interface: post on approval, reverse on NACK.

`paywire.store.ledger.PostgresLedger` is the built-in implementation; another adapter (a core
banking system) must still join the caller's transaction or make its calls idempotent, and
answer within PAYWIRE_DB_COMMAND_TIMEOUT_S: the caller's transaction waits for it, and the
server rolls back one that waited on the gateway longer (docs/DATABASE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from paywire.domain.accounts import PostingRequest
from paywire.domain.payment import Reason
from paywire.store.tx import Conn


class LedgerAdapter(Protocol):
    async def post(self, conn: Conn, requests: Sequence[PostingRequest]) -> dict[UUID, Reason]:
        """Post each request; return those refused (e.g. INSUFFICIENT_FUNDS) with the reason."""
        ...

    async def reverse(self, conn: Conn, payment_ids: Sequence[UUID]) -> list[UUID]:
        """Reverse the postings of these payments; return the payments reversed now."""
        ...
