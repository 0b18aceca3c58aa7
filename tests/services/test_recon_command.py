"""`paywire recon daily --date D` and `recon balances` as real subprocesses against the test's
database: the reports, and an exit code that says whether everything matched."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from paywire.domain.statuses import Status
from tests.fixtures.breaks import one_of_each
from tests.fixtures.world import World
from tests.services.test_commands import base_env, migrated_and_seeded, paywire


async def test_recon_daily_prints_the_report_and_fails_on_unmatched_items(
    world: World, database: str, tmp_path: Path
) -> None:
    ids = [
        (await world.drive(await world.create(amount=f"{10 + i}.00"), Status.APPROVED)).id
        for i in range(4)
    ]
    breaks = await one_of_each(world.pool, world.owner, ids)
    # The day the payments were made, which is not "today" if the suite ran past midnight.
    made = await world.pool.fetchval("SELECT min(created_at) FROM payments")
    day = made.astimezone(UTC).date().isoformat()
    env = {
        **base_env(tmp_path),
        "DATABASE_URL": database,
        "PAYWIRE_ACK_TIMEOUT_S": "0.001",
        "PAYWIRE_MAX_ATTEMPTS": "1",
    }

    done = paywire(env, tmp_path, "recon", "daily", "--date", day)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"{day}: 4 unmatched item(s)"
    report = json.loads(done.stdout)
    assert report["totals"] == {"payments": 4, "matched": 1, "unmatched": 4}
    assert {i["category"]: i["payment_id"] or i["msg_id"] for i in report["unmatched"]} == {
        "MISSING_ACK": str(breaks.missing_ack),
        "LEDGER_MISMATCH": str(breaks.ledger_mismatch),
        "MISSING_REVERSAL": str(breaks.missing_reversal),
        "ORPHAN_ACK": breaks.orphan_msg_id,
    }

    out = tmp_path / "recon.csv"
    as_csv = paywire(env, tmp_path, "recon", "daily", "--date", day, "--format", "csv",
                     "--output", str(out))  # fmt: skip
    assert as_csv.returncode == 1
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["category"] for r in rows] == [i["category"] for i in report["unmatched"]]

    quiet_day = paywire(env, tmp_path, "recon", "daily", "--date", "2001-02-03")
    assert quiet_day.returncode == 0
    assert json.loads(quiet_day.stdout)["totals"] == {"payments": 0, "matched": 0, "unmatched": 0}

    bad = paywire(env, tmp_path, "recon", "daily", "--date", "tomorrow")
    assert bad.returncode == 2


@pytest.mark.parametrize("command", [("recon", "daily"), ("audit", "export")])
@pytest.mark.parametrize("when", ["9999-12-31", "the day after tomorrow"])
def test_a_day_s_report_refuses_a_day_after_today(
    tmp_path: Path, command: tuple[str, str], when: str
) -> None:
    """Its empty report (or export) would pass for a clean one: a cron job given a wrong date
    went green. Refused before the database is asked (none here); the day after tomorrow, as
    tomorrow may be today by the time the command runs."""
    day = when if when[0].isdigit() else (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    done = paywire(base_env(tmp_path), tmp_path, *command, "--date", day)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"paywire: --date {day} must not be after today (")
    assert done.stderr.rstrip().endswith("the report of a day can be made from that day on")
    assert done.stderr.count("\n") == 1
    assert done.stdout == ""


@pytest.mark.parametrize("day", ["20260101", "2026-W01-4"])
def test_recon_daily_takes_a_day_written_as_its_help_says_only(tmp_path: Path, day: str) -> None:
    """`date.fromisoformat` takes these too, which `--date YYYY-MM-DD` never promised."""
    done = paywire(base_env(tmp_path), tmp_path, "recon", "daily", "--date", day)
    assert done.returncode == 2, done.stderr
    assert f"argument --date: {day!r} is not a day: write YYYY-MM-DD" in done.stderr
    assert "Traceback" not in done.stderr


async def test_recon_balances_prints_every_account_out_of_balance_and_fails_on_one(
    empty_database: str, tmp_path: Path
) -> None:
    env = {**base_env(tmp_path), "DATABASE_URL": empty_database}
    migrated_and_seeded(env, tmp_path)  # one account, ACC-1, opened with 10.00
    balanced = paywire(env, tmp_path, "recon", "balances")
    assert balanced.returncode == 0, balanced.stderr
    assert json.loads(balanced.stdout) == {"accounts": 1, "out_of_balance": []}
    assert balanced.stderr.strip() == "1 account(s), 0 out of balance"

    conn = await asyncpg.connect(empty_database)
    try:
        await conn.execute("UPDATE accounts SET balance = 12.50 WHERE account = 'ACC-1'")
    finally:
        await conn.close()
    moved = paywire(env, tmp_path, "recon", "balances")
    assert moved.returncode == 1, moved.stderr
    assert json.loads(moved.stdout)["out_of_balance"] == [
        {"account": "ACC-1", "currency": "EUR", "balance": "12.50", "opening": "10.00",
         "entries": "0", "difference": "2.50"}
    ]  # fmt: skip
