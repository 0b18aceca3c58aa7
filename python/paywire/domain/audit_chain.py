"""The audit log's hash chain: each row's hash covers the previous hash and its own content.

hash = SHA-256(prev_hash as 64 ASCII hex digits + canonical JSON of the row); docs/DATABASE.md
spells out the canonical form, so anyone can re-verify an export without paywire.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from paywire.domain.roles import SYSTEM

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What a writer records; `before` and `after` hold JSON values without floats."""

    operator: str
    action: str
    entity: str
    entity_id: str
    before: Any = None
    after: Any = None
    request_id: str | None = None

    @classmethod
    def by_system(
        cls, action: str, entity: str, entity_id: str, *, before: Any = None, after: Any = None
    ) -> AuditEntry:
        """What the gateway records of its own doing, under its own name (`system`)."""
        return cls(SYSTEM, action, entity, entity_id, before, after)


def refuse_floats(entry: AuditEntry) -> None:
    """Raise ValueError if `before` or `after` holds a float, before the row is hashed.

    `jsonb` stores numbers as `numeric`: 1e16 comes back as 10000000000000000 and -0.0 as 0, so
    a float hashed as written would read back as other JSON, and the row would fail `audit
    verify` for ever, a false alarm of tampering. Checked where rows are written, not where they
    are read, so that a stored row of any shape is still verified (and named), not refused."""
    pending = [entry.before, entry.after]
    while pending:
        value = pending.pop()
        if isinstance(value, float):
            raise ValueError(
                f"audit {entry.action} of {entry.entity} {entry.entity_id}: before and after "
                "must not hold floats; write amounts as decimal strings"
            )
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)


def canonical(row_id: int, stamp: str, entry: AuditEntry) -> bytes:
    """The row's content as hashed: its fields as one JSON object, keys sorted at every level,
    no insignificant whitespace, UTF-8. `stamp` is the row's timestamp as `utc_iso` writes it,
    taken as text because a batch of rows shares one timestamp and formatting it costs more
    than hashing a row."""
    return orjson.dumps(
        {
            "id": row_id,
            "timestamp": stamp,
            "operator": entry.operator,
            "action": entry.action,
            "entity": entry.entity,
            "entity_id": entry.entity_id,
            "before": entry.before,
            "after": entry.after,
            "request_id": entry.request_id,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def chain_hash(prev_hash: str, row_id: int, stamp: str, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(row_id, stamp, entry)).hexdigest()
