"""Lookups the admin surface needs beyond the payment store: a payment id from a reference.

Operators type references (PW-20261127-…), the API's paths take either form.
"""

from __future__ import annotations

from uuid import UUID

from paywire.store.tx import Conn


async def payment_id_by_reference(conn: Conn, reference: str) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        "SELECT id FROM payments WHERE reference = $1", reference
    )
    return found
