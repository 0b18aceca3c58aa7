"""The audit hash's canonical form, pinned by a vector anyone can recompute."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from paywire.domain.audit_chain import GENESIS, AuditEntry, canonical, chain_hash
from paywire.domain.payment import utc_iso

ENTRY = AuditEntry(
    operator="carol",
    action="payment.approve",
    entity="payment",
    entity_id="0b7d3c1e-5f7a-4c1e-9a55-2f1f3c6f7a10",
    before={"status": "INITIATED"},
    after={"status": "APPROVED", "reason": None},
    request_id="req-1",
)
AT = utc_iso(datetime(2026, 11, 26, 16, 29, 0, tzinfo=UTC))


def test_canonical_form_is_sorted_compact_utf8_with_utc_microseconds() -> None:
    assert canonical(7, AT, ENTRY) == (
        b'{"action":"payment.approve","after":{"reason":null,"status":"APPROVED"},'
        b'"before":{"status":"INITIATED"},"entity":"payment",'
        b'"entity_id":"0b7d3c1e-5f7a-4c1e-9a55-2f1f3c6f7a10","id":7,"operator":"carol",'
        b'"request_id":"req-1","timestamp":"2026-11-26T16:29:00.000000Z"}'
    )


def test_the_hash_covers_the_previous_hash_and_the_content() -> None:
    expected = hashlib.sha256(GENESIS.encode() + canonical(1, AT, ENTRY)).hexdigest()
    assert chain_hash(GENESIS, 1, AT, ENTRY) == expected
    assert chain_hash("1" * 64, 1, AT, ENTRY) != expected
    assert chain_hash(GENESIS, 2, AT, ENTRY) != expected


def test_the_same_instant_in_another_zone_is_stamped_the_same() -> None:
    instant = datetime(2026, 11, 26, 16, 29, 0, tzinfo=UTC)
    assert utc_iso(instant.astimezone(timezone(timedelta(hours=9)))) == AT
