"""Four eyes, attacked: the initiator never approves their own payment — not with a second
token, not holding CHECKER and ADMIN, not by naming it by reference — and the database refuses
the approval even when every layer above it is bypassed."""

from __future__ import annotations

import asyncpg
import pytest

from paywire.errors import PermissionDenied
from paywire.services import payments
from tests.api.world import World

PAYMENTS = "/api/v1/payments"


async def approve(world: World, key: str, token: str) -> int:
    response = await world.client.post(
        f"{PAYMENTS}/{key}/approve", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    return response.status


async def test_the_initiator_cannot_approve_by_any_token_or_name(world: World) -> None:
    created = await world.create_payment("boss")  # boss holds MAKER, CHECKER and ADMIN
    second = await world.login("boss")
    third = await world.login("BOSS")
    for token in (world.tokens["boss"], second, third):
        for key in (created["id"], created["reference"], created["id"].upper()):
            assert await approve(world, key, token) == 403, key
    row = await world.pool.fetchrow(
        "SELECT status, approved_by FROM payments WHERE id = $1", created["id"]
    )
    assert (row["status"], row["approved_by"]) == ("INITIATED", None)
    approvals = await world.pool.fetchval(
        "SELECT count(*) FROM audit_logs WHERE action LIKE '%approve%'"
    )
    assert approvals == 0
    # Another checker may: the rule is about who, not about the payment.
    assert await approve(world, created["reference"], world.tokens["checker"]) == 200


async def test_the_service_refuses_the_initiator_without_the_api(world: World) -> None:
    created = await world.create_payment("boss")
    with pytest.raises(PermissionDenied, match="four eyes"):
        await payments.approve(world.pool, created["id"], world.operators["boss"])


async def test_the_database_refuses_a_self_approval_written_by_hand(world: World) -> None:
    """The last line: a direct UPDATE that makes the initiator the approver violates
    `payments_four_eyes`, however it got past the service."""
    created = await world.create_payment()
    with pytest.raises(asyncpg.CheckViolationError) as refused:
        await world.pool.execute(
            "UPDATE payments SET status = 'APPROVED', approved_by = created_by,"
            " approved_at = now() WHERE id = $1",
            created["id"],
        )
    assert refused.value.constraint_name == "payments_four_eyes"
    assert await approve(world, created["id"], world.tokens["checker"]) == 200
    # Nor can an approval be handed to the initiator afterwards.
    with pytest.raises(asyncpg.PostgresError, match="approver of a payment are fixed"):
        await world.pool.execute(
            "UPDATE payments SET approved_by = created_by WHERE id = $1", created["id"]
        )
    status = await world.pool.fetchval(
        "SELECT approved_by FROM payments WHERE id = $1", created["id"]
    )
    assert status == "checker"
