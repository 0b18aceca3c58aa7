"""The exception queue as ADMINs work it: list the items, resolve one with a note.

The pipeline opens exceptions through `paywire.services.pipeline.open_exceptions`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from paywire.domain.audit_chain import AuditEntry
from paywire.domain.roles import Actor, Role, require_role
from paywire.domain.validation import Problems, text
from paywire.errors import Conflict, NotFound
from paywire.store import audit, exception_queue
from paywire.store.exception_queue import ExceptionItem
from paywire.store.tx import Db, connection, transaction

NOTE_MAX = 1000


async def list_exceptions(
    db: Db, *, limit: int, state: str | None = None, after: int | None = None
) -> list[ExceptionItem]:
    """Newest first; `after` is the id of the previous page's last item."""
    async with connection(db) as conn:
        return await exception_queue.page(conn, limit=limit, state=state, after=after)


async def resolve_exception(
    db: Db, exception_id: int, actor: Actor, note: object, *, request_id: str | None = None
) -> ExceptionItem:
    """OPEN → RESOLVED by an ADMIN, with a note saying what was done."""
    require_role(actor, Role.ADMIN)
    problems = Problems()
    why = text(note, "note", NOTE_MAX, problems)
    problems.raise_any("a note is required")
    assert why is not None
    now = datetime.now(UTC)
    async with transaction(db) as conn:
        before = await exception_queue.get(conn, exception_id, lock=True)
        if before is None:
            raise NotFound(f"no exception {exception_id}")
        after = await exception_queue.resolve(conn, exception_id, actor.username, why, now)
        if after is None:
            raise Conflict(f"exception {exception_id} is {before.state}, not OPEN")
        entry = AuditEntry(
            operator=actor.username,
            action="exception.resolve",
            entity="exception",
            entity_id=str(exception_id),
            before=before.as_dict(),
            after=after.as_dict(),
            request_id=request_id,
        )
        await audit.append(conn, [entry], now)
    return after
