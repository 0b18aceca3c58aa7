"""The three bench modes, each measured as throughput, latency, CPU and peak memory.

e2e and db run the pipeline exactly as `serve` does; db swaps the TLS pool for one that
answers every message at once, so what remains is the database work. transport sends stored
messages through the pool and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import resource
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from prometheus_client import REGISTRY

from paywire.bench.environment import DEBTOR, Bench
from paywire.commands.progress import Progress
from paywire.config import Settings
from paywire.domain.statuses import Status
from paywire.errors import ConfigError, PaywireError, host_port
from paywire.pipeline.runner import Pipeline
from paywire.pipeline.settler import Settler
from paywire.receiver.process import LOOPBACK_RECEIVER_BIC, LOOPBACK_SENDER_BIC
from paywire.services import payments
from paywire.services.screening import load_rules
from paywire.store.ledger import PostgresLedger
from paywire.transport import Message, OutcomeHandler, Unanswered
from paywire.transport.breaker import BreakerState
from paywire.transport.pool import ConnectionPool
from paywire.wire import NOT_PROVIDED, Answer, build_pacs002, build_pacs008, parse_answer

CREATE_WORKERS = 8
APPROVE_BATCH = 250
# How often an open-loop run approves the payments offered since the last time.
PACE_S = 0.02
POLL_S = 0.05
CHECK_S = 1.0
# A run whose count has not moved for this long is stuck (payments HELD by screening, or left
# TRANSMITTED by a receiver that stopped answering): it ends with what is left, not for ever.
STALL_S = 120.0
# Messages per submit_many in transport mode: the transmitter's batch.
TRANSPORT_BATCH = 500
# How long a run waits for its first connection to the receiver: three of the pool's attempts
# (10 s each at most). The circuit breaker opening ends the wait sooner.
REACH_S = 30.0


@dataclass(frozen=True, slots=True)
class Result:
    mode: str
    payments: int
    latencies_ms: Sequence[float]
    seconds: float
    cpu_s: float
    peak_rss_mb: float

    def as_dict(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        return {
            "mode": self.mode,
            "payments": self.payments,
            "seconds": round(self.seconds, 3),
            "payments_per_s": round(self.payments / self.seconds, 1) if self.seconds else 0.0,
            "latency_ms": {
                name: round(_percentile(ordered, q), 2)
                for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
            },
            "cpu_s_per_1000": round(1000 * self.cpu_s / max(self.payments, 1), 4),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }


class ImmediatePool:
    """Stands in for the TLS pool in db mode: every message is ACKed at once with a real
    pacs.002, parsed as the pool would parse it."""

    open_connections = 1
    room = 1 << 30

    class _Breaker:
        state = BreakerState.CLOSED

    breaker = _Breaker()

    async def submit_many(
        self,
        messages: Sequence[Message],
        on_outcome: OutcomeHandler,
        *,
        queue_by: float | None = None,
    ) -> None:
        for msg_id, _, uetr in messages:
            on_outcome(msg_id, _ack(msg_id, uetr))


def _ack(msg_id: str, uetr: str | None) -> Answer:
    return parse_answer(
        build_pacs002(
            msg_id="ACK" + msg_id[3:],
            created_at=datetime.now(UTC),
            original_msg_id=msg_id,
            original_uetr=uetr,
            status="ACSP",
        )
    )


class Meter:
    """Wall time, CPU time and peak memory of a run's timed part, from when it is made.

    The peak is the run's own: the high-water mark is reset first, so what the set-up did (for
    one, the 64 MiB argon2 takes to hash the bench operators' passwords, which had been every
    run's peak) does not hide what the payments cost."""

    def __init__(self) -> None:
        _reset_peak_rss()
        self.started = time.monotonic()
        self._cpu = _cpu()

    def read(self) -> tuple[float, float, float]:
        """Seconds, CPU seconds and peak RSS in MB so far, in `Result`'s order."""
        return time.monotonic() - self.started, _cpu() - self._cpu, _peak_rss_mb()


async def run_pipeline(
    bench: Bench, ids: Sequence[UUID], rate: float | None, *, immediate: bool
) -> Result:
    """e2e (or db, with `immediate`): entered payments approved in batches — as fast as
    possible or at `rate` per second — and driven by the pipeline until all are settled."""
    n = len(ids)
    ledger = PostgresLedger()
    settler = Settler(bench.db, ledger)
    pool: Any = (
        ImmediatePool()
        if immediate
        else ConnectionPool(bench.settings, on_unmatched=lambda answer, _p: settler.add(answer))
    )
    pipeline = Pipeline(bench.settings, bench.db, pool, settler, ledger, load_rules(bench.settings))
    if not immediate:
        await start_pool(pool, bench.settings)
    pipeline.start()
    progress = Progress("settled", n)
    try:
        meter = Meter()
        feeding = asyncio.create_task(approve(bench, ids, rate, pipeline.wake))
        answered_before, answered_then, quiet_since, done = _answered_here(), 0, meter.started, 0
        moved_at = meter.started
        while done < n:
            await asyncio.sleep(POLL_S)
            answered = _answered_here() - answered_before
            progress.update(min(answered, n))
            now = time.monotonic()
            if answered != answered_then:
                answered_then, quiet_since, moved_at = answered, now, now
            # A count in the database looks up every payment of the run, so it is made only when
            # the process's own counters have nothing more to say: all answered, or no answer
            # for CHECK_S (what they cannot see: payments rejected before they were sent).
            if answered >= n or now - quiet_since >= CHECK_S:
                counted, quiet_since = await _settled(bench, ids), time.monotonic()
                if counted != done:
                    done, moved_at = counted, quiet_since
                progress.update(done)
            if feeding.done():
                feeding.result()
                if done < n and now - moved_at >= STALL_S:
                    raise PaywireError(await _stuck(bench, ids, n - done))
        measured = meter.read()
    finally:
        progress.close()
        await pipeline.drain(5.0)
        if not immediate:
            await pool.close(deadline_s=0)
        if bench.settings.database_url is not None:
            await _warn_of_what_a_gateway_would_send(bench, ids)
    latencies = await _approval_to_settlement_ms(bench, ids)
    return Result("db" if immediate else "e2e", n, latencies, *measured)


async def run_transport(bench: Bench, n: int, rate: float | None) -> Result:
    """N stored-style messages through the pool only, in batches as the transmitter sends them;
    waits for every answer. A message left unanswered fails the run."""
    payloads = [_message(i) for i in range(n)]
    pool = ConnectionPool(bench.settings)
    await start_pool(pool, bench.settings)
    latencies: list[float] = []
    unanswered: list[Unanswered] = []
    sent_at: dict[str, float] = {}
    progress = Progress("answered", n)
    finished = asyncio.Event()

    def on_outcome(msg_id: str, outcome: Answer | Unanswered) -> None:
        if isinstance(outcome, Unanswered):
            unanswered.append(outcome)
        else:
            latencies.append(1000 * (time.monotonic() - sent_at.pop(msg_id)))
        progress.update(len(latencies))
        if len(latencies) + len(unanswered) == n:
            finished.set()

    size = max(1, math.ceil(rate * PACE_S)) if rate else TRANSPORT_BATCH
    try:
        meter = Meter()
        for offset in range(0, n, size):
            if rate:
                await _pace(meter.started + offset / rate)
            batch = payloads[offset : offset + size]
            now = time.monotonic()
            sent_at.update((msg_id, now) for msg_id, _ in batch)
            await pool.submit_many(
                [(msg_id, payload, None) for msg_id, payload in batch], on_outcome
            )
        await finished.wait()
        measured = meter.read()
    finally:
        progress.close()
        await pool.close(deadline_s=5)
    if unanswered:
        raise PaywireError(
            f"{len(unanswered)} of {n} messages went unanswered, e.g. {unanswered[0]}; "
            "is the receiver overloaded or refusing them?"
        )
    return Result("transport", n, latencies, *measured)


async def start_pool(pool: ConnectionPool, settings: Settings) -> None:
    """Start the pool and wait for one connection, else close it and refuse: a receiver that
    could not be reached left the run dialling for ever, with nothing sent and nothing said but
    the pool's warnings."""
    host, port = settings.receiver_host, settings.receiver_port
    # The pool was made to dial them.
    assert host is not None
    assert port is not None
    await pool.start()
    deadline = time.monotonic() + REACH_S
    while not pool.open_connections:
        if pool.breaker.state is BreakerState.OPEN or time.monotonic() >= deadline:
            errors = [slot["last_error"] for slot in pool.stats()["connections"]]
            await pool.close(deadline_s=0)
            why = next((f" ({error})" for error in reversed(errors) if error), "")
            raise ConfigError(
                f"cannot reach the receiver at {host_port(host, port)}{why}: check --receiver and "
                "--receiver-ca"
            )
        await asyncio.sleep(POLL_S)


async def create_payments(bench: Bench, n: int) -> list[UUID]:
    """N INITIATED payments through the real creation service (not timed)."""
    progress = Progress("entering", n)
    ids: list[UUID] = []
    body = {
        "amount": "10.00",
        "currency": "EUR",
        "value_date": date.today().isoformat(),
        "debtor": {"name": "paywire bench debtor", "account": DEBTOR},
        "creditor": {
            "name": "Globex SA",
            "account": "FR1420041010050500013M02606",
            "agent_bic": "BNPAFRPPXXX",
        },
    }

    async def worker(count: int) -> None:
        for _ in range(count):
            created = await payments.create_payment(bench.db, body, bench.maker)
            ids.append(created.payment.id)
            progress.update(len(ids))

    shares = [n // CREATE_WORKERS + (i < n % CREATE_WORKERS) for i in range(CREATE_WORKERS)]
    try:
        await asyncio.gather(*(worker(share) for share in shares if share))
    finally:
        progress.close()
    return ids


async def approve(
    bench: Bench, ids: Sequence[UUID], rate: float | None, wake: Callable[[], None]
) -> None:
    """Approve in batches: back to back, or at `rate` payments per second (open loop: each
    batch is approved on its schedule, whether or not the ones before it are done)."""

    async def approve_batch(batch: Sequence[UUID]) -> None:
        await payments.approve_many(bench.db, batch, bench.checker)
        wake()

    if rate is None:
        for offset in range(0, len(ids), APPROVE_BATCH):
            await approve_batch(ids[offset : offset + APPROVE_BATCH])
        return
    started = time.monotonic()
    size = max(1, math.ceil(rate * PACE_S))
    async with asyncio.TaskGroup() as group:
        for offset in range(0, len(ids), size):
            await _pace(started + offset / rate)
            group.create_task(approve_batch(ids[offset : offset + size]))


async def _pace(at: float) -> None:
    delay = at - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def _answered_here() -> int:
    """Payments this process has settled by an answer so far (its own metrics)."""
    return sum(
        int(REGISTRY.get_sample_value(name) or 0)
        for name in ("payments_completed_total", "payments_failed_total")
    )


async def _settled(bench: Bench, ids: Sequence[UUID]) -> int:
    value = await bench.db.fetchval(
        "SELECT count(*) FROM payments WHERE id = ANY($1::uuid[])"
        " AND status IN ('COMPLETED', 'FAILED', 'REJECTED')",
        ids,
    )
    return int(value)


async def _unsettled(bench: Bench, ids: Sequence[UUID], statuses: Sequence[Status]) -> str:
    """How many of `ids` are in each of `statuses`, e.g. "12 APPROVED, 500 POSTED"; empty when
    none is."""
    rows = await bench.db.fetch(
        "SELECT status, count(*) AS n FROM payments WHERE id = ANY($1::uuid[])"
        " AND status = ANY($2::text[]) GROUP BY status ORDER BY status",
        ids,
        [status.value for status in statuses],
    )
    return ", ".join(f"{row['n']} {row['status']}" for row in rows)


async def _warn_of_what_a_gateway_would_send(bench: Bench, ids: Sequence[UUID]) -> None:
    """A run cut short (Ctrl-C, a failure) leaves payments on their way in the database it was
    given: a gateway started on that database would send them to its own receiver. Said, with
    what to do; a database that cannot be asked any more (the failure may be its) goes unsaid."""
    try:
        left = await _unsettled(bench, ids, _UNDER_WAY)
    except (asyncpg.PostgresError, OSError):
        return
    if left:
        print(
            f"bench: warning: payments of this run are left on their way in --database-url's "
            f"database ({left}): a gateway started on it would send them to its receiver; drop "
            "the database, or run paywire bench on it again (its pipeline sends them on to its "
            "own receiver, those already sent once their lease has run out)",
            file=sys.stderr,
        )


# The statuses from which the pipeline sends a payment on.
_UNDER_WAY = (Status.APPROVED, Status.SCREENED, Status.POSTED, Status.TRANSMITTED)


async def _stuck(bench: Bench, ids: Sequence[UUID], left: int) -> str:
    statuses = await _unsettled(bench, ids, (*_UNDER_WAY, Status.INITIATED, Status.HELD))
    return (
        f"{left} payments did not settle and nothing moved for {STALL_S:.0f} s ({statuses}): "
        "HELD ones wait for a compliance decision (PAYWIRE_AMOUNT_LIMITS, "
        "PAYWIRE_SANCTIONS_FILE), TRANSMITTED ones for the receiver"
    )


async def _approval_to_settlement_ms(bench: Bench, ids: Sequence[UUID]) -> list[float]:
    rows = await bench.db.fetch(
        """
        SELECT 1000 * extract(epoch FROM m.answered_at - p.approved_at) AS ms
        FROM payments p JOIN messages m ON m.payment_id = p.id
        WHERE p.id = ANY($1::uuid[]) AND m.answered_at IS NOT NULL
        """,
        ids,
    )
    return [float(row["ms"]) for row in rows]


def _message(i: int) -> tuple[str, bytes]:
    msg_id = f"PWB{i:016d}"
    return msg_id, build_pacs008(
        msg_id=msg_id,
        created_at=datetime.now(UTC),
        instr_id=msg_id,
        end_to_end_id=NOT_PROVIDED,
        uetr=str(uuid.uuid4()),
        amount="10.00",
        currency="EUR",
        value_date=date.today(),
        instructing_bic=LOOPBACK_SENDER_BIC,
        instructed_bic=LOOPBACK_RECEIVER_BIC,
        debtor_name="paywire bench debtor",
        debtor_account=DEBTOR,
        debtor_agent_bic=LOOPBACK_SENDER_BIC,
        creditor_name="Globex SA",
        creditor_account="FR1420041010050500013M02606",
        creditor_agent_bic="BNPAFRPPXXX",
    )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reset_peak_rss() -> None:
    """Linux: restart the process's high-water mark from its present size (clear_refs, "5")."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    """The high-water mark since the last reset; elsewhere the process's lifetime peak."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]
