"""In the browser, the decisions operators make on payments beyond the maker's and checker's:
COMPLIANCE releases a payment screening held, an ADMIN asks for a retry and resolves an
exception with a note — each at the prompt, through the real pipeline and receiver."""

from __future__ import annotations

from paywire.api import create_app
from paywire.domain.exception_kinds import ORPHAN_ACK
from paywire.services import pipeline
from paywire.store.exception_queue import NewException
from tests.api.world import make_world
from tests.fixtures.browser import signed_in


async def test_compliance_releases_a_held_payment_an_admin_retries_and_resolves(
    browser, serve, settings, db_pool, start_gateway
) -> None:
    gateway = await start_gateway(amount_limits="EUR=1000.00")
    client = await serve(
        create_app(settings, db_pool, transport=gateway.pool, pipeline=gateway.pipeline)
    )
    world = await make_world(client, db_pool)
    held = await world.approved_payment(amount="5000.00")
    await gateway.wait_for([held], ["HELD"])
    reference = await db_pool.fetchval("SELECT reference FROM payments WHERE id = $1", held)
    (orphan,) = await pipeline.open_exceptions(
        db_pool, [NewException(ORPHAN_ACK, None, "NOSUCH-1", "ACK ACCP")]
    )
    url = str(client.make_url("/"))

    compliance, compliance_console = await signed_in(browser, url, "compliance")
    await compliance.enter(f"compliance {reference} release invoice checked with the debtor")
    await compliance.wait_for_text(f"{reference} released:")
    await gateway.wait_for([held], ["COMPLETED"])

    admin, admin_console = await signed_in(browser, url, "admin")
    # Settled by now: the API's refusal reaches the screen as it is.
    await admin.enter(f"retry {reference}")
    await admin.wait_for_text("payment is COMPLETED: there is nothing to retry")
    await admin.enter(f"resolve {orphan.id}")
    await admin.answer("action (note, resend, mark_settled) [note]:", "")
    await admin.answer("note (what was done, and why):", "the receiver confirmed a test answer")
    await admin.wait_for_text(f"exception {orphan.id} ORPHAN_ACK RESOLVED by admin")

    resolved = await db_pool.fetchrow(
        "SELECT state, resolved_by, note FROM exceptions WHERE id = $1", orphan.id
    )
    assert dict(resolved) == {
        "state": "RESOLVED",
        "resolved_by": "admin",
        "note": "the receiver confirmed a test answer",
    }
    released = await db_pool.fetchval(
        "SELECT count(*) FROM audit_logs WHERE action = 'payment.release'"
        " AND operator = 'compliance' AND entity_id = $1",
        str(held),
    )
    assert released == 1
    await compliance.page.context.close()
    await admin.page.context.close()
    assert compliance_console.errors == []
    # The browser reports the refused retry's response itself; nothing else went wrong.
    assert admin_console.errors == [
        "Failed to load resource: the server responded with a status of 409 (Conflict)"
    ]
