"""The reference receiver in-process, driven by a bare wire client over loopback TLS."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from paywire.receiver import Faults, Receiver, Rules
from paywire.receiver.rules import normalise_bic
from paywire.wire import Answer, FrameDecoder, parse_answer
from tests.fixtures.tls import StartReceiver, TLSFiles, pacs008
from tests.fixtures.waiting import poll
from tests.receiver.wire_client import WireClient
from tests.wire.conftest import PACS008_NS

Connect = Callable[..., Any]


@pytest_asyncio.fixture
async def connect(tls_files: TLSFiles) -> AsyncIterator[Connect]:
    """`await connect(receiver, framing=..., cert=...)`: a WireClient closed after the test."""
    clients: list[WireClient] = []

    async def open_client(receiver: Receiver, **options: Any) -> WireClient:
        client = await WireClient.open(receiver.port, tls_files.ca_file, **options)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()


async def ask(client: WireClient, *payloads: bytes) -> list[Answer]:
    await client.send(*payloads)
    return [parse_answer(frame) for frame in await client.read(len(payloads))]


async def test_valid_message_is_acked(start_receiver: StartReceiver, connect: Connect) -> None:
    receiver = await start_receiver()
    client = await connect(receiver)
    uetr = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
    [answer] = await ask(client, pacs008("M1", uetr=uetr))
    assert (answer.kind, answer.status, answer.msg_id, answer.uetr) == ("ACK", "ACSP", "M1", uetr)
    assert receiver.stats.received == 1


async def test_nack_rules(start_receiver: StartReceiver, connect: Connect) -> None:
    receiver = await start_receiver(
        rules=Rules(
            nack_amount_over=Decimal("1000"),
            nack_creditor_bics=frozenset({normalise_bic("DEUTDEFF")}),
        )
    )
    client = await connect(receiver)
    at_limit, over, bic = await ask(
        client,
        pacs008("R1", amount="1000.00"),
        pacs008("R2", amount="1000.01"),
        pacs008("R3", creditor_bic="DEUTDEFFXXX"),
    )
    assert at_limit.kind == "ACK"
    assert (over.kind, over.status, over.reason_code) == ("NACK", "RJCT", "AM04")
    assert (bic.kind, bic.reason_code) == ("NACK", "RC01")
    assert bic.reason_text


async def test_random_nacks_follow_the_seed(
    start_receiver: StartReceiver, connect: Connect
) -> None:
    kinds = []
    for _ in range(2):
        receiver = await start_receiver(rules=Rules(nack_rate=0.5), seed=42)
        client = await connect(receiver)
        answers = await ask(client, *(pacs008(f"N{i}") for i in range(40)))
        kinds.append([a.kind for a in answers])
    assert kinds[0] == kinds[1]
    assert 5 < kinds[0].count("NACK") < 35
    assert {a.reason_code for a in answers if a.kind == "NACK"} == {"MS03"}


async def test_duplicate_msg_id_gets_the_same_bytes_on_any_connection(
    start_receiver: StartReceiver, connect: Connect
) -> None:
    receiver = await start_receiver(rules=Rules(nack_rate=0.5), seed=3)
    first, second = await connect(receiver), await connect(receiver)
    await first.send(pacs008("DUP1"))
    [original] = await first.read(1)
    await second.send(pacs008("DUP1"))
    [again] = await second.read(1)
    assert again == original
    assert receiver.stats.duplicates == 1
    assert receiver.stats.received == 2


@pytest.mark.parametrize("framing", ["u32be", "u16be", "ascii4"])
async def test_framings_and_heartbeats(
    start_receiver: StartReceiver, connect: Connect, framing: str
) -> None:
    receiver = await start_receiver(framing=framing)
    client = await connect(receiver, framing=framing)
    await client.send(b"", pacs008("F1"))
    heartbeat, answer = await client.read(2)
    assert heartbeat == b""
    assert parse_answer(answer).msg_id == "F1"
    assert receiver.stats.heartbeats_received == 1


async def test_unparseable_payload_gets_an_admi002(
    start_receiver: StartReceiver, connect: Connect
) -> None:
    receiver = await start_receiver()
    client = await connect(receiver)
    answers = await ask(
        client,
        b"<Document><GrpHdr><MsgId>BROKEN1</MsgId></GrpHdr>",
        b"\x00\x01 not xml",
        b"<Document><GrpHdr><MsgId>A\tB</MsgId></GrpHdr>",
        # The parser's complaint quotes the tag, a control character and all.
        f'<Document xmlns="{PACS008_NS}"><a\u0085></b></Document>'.encode(),
        pacs008("F1"),
    )
    rejects = sorted(
        (a.msg_id, a.kind, a.status, a.reason_code) for a in answers if a.msg_id != "F1"
    )
    # No MsgId to name, or none an admi.002 can carry (a raw tab): the reject names none.
    assert rejects == [
        ("BROKEN1", "NACK", "RJCT", "FF01"),
        ("NOTPROVIDED", "NACK", "RJCT", "FF01"),
        ("NOTPROVIDED", "NACK", "RJCT", "FF01"),
        ("NOTPROVIDED", "NACK", "RJCT", "FF01"),
    ]
    assert [a.kind for a in answers if a.msg_id == "F1"] == ["ACK"]
    assert receiver.stats.malformed == 4


async def test_framing_error_closes_the_connection(
    start_receiver: StartReceiver, connect: Connect
) -> None:
    receiver = await start_receiver(framing="ascii4")
    client = await connect(receiver, framing="ascii4")
    await client.send_raw(b"12x4")
    await client.wait_closed_by_peer()


async def test_message_log(tmp_path: Path, start_receiver: StartReceiver, connect: Connect) -> None:
    log_file = tmp_path / "logs" / "receiver.jsonl"
    receiver = await start_receiver(log_file=log_file, rules=Rules(nack_amount_over=Decimal(5)))
    client = await connect(receiver)
    uetr = "9b2d3c1e-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
    await ask(client, pacs008("L1", uetr=uetr), pacs008("L1", uetr=uetr))
    await receiver.stop()
    lines = [orjson.loads(line) for line in log_file.read_bytes().splitlines()]
    assert [(r["event"], r["duplicate"]) for r in lines] == [
        ("received", False),
        ("answer", False),
        ("received", True),
        ("answer", True),
    ]
    answer = lines[1]
    assert answer["msg_id"] == "L1"
    assert answer["uetr"] == uetr
    assert (answer["kind"], answer["status"], answer["reason_code"]) == ("NACK", "RJCT", "AM04")
    assert answer["conn"] == lines[0]["conn"] == "r1"
    assert answer["time"].endswith("+00:00")


async def test_message_log_tells_of_a_delayed_answer_once_it_is_sent(
    tmp_path: Path, start_receiver: StartReceiver, connect: Connect
) -> None:
    """The log has a line per answer sent, and the chaos checks read it as what the gateway
    was told: an answer held back by --ack-delay-ms whose connection ended first was never
    sent, and gets no line."""
    log_file = tmp_path / "receiver.jsonl"
    receiver = await start_receiver(faults=Faults(ack_delay_ms=300), log_file=log_file)
    gone = await connect(receiver)
    await gone.send(pacs008("GONE"))
    await poll(lambda: receiver.stats.received == 1, 5, what="the message received")
    await gone.close()
    # Its answer's delay ends first: this one is answered after it.
    staying = await connect(receiver)
    assert [a.msg_id for a in await ask(staying, pacs008("STAYS"))] == ["STAYS"]
    await receiver.stop()
    lines = [orjson.loads(line) for line in log_file.read_bytes().splitlines()]
    assert [(r["event"], r["msg_id"]) for r in lines] == [
        ("received", "GONE"),
        ("received", "STAYS"),
        ("answer", "STAYS"),
    ]
    received, answered = (datetime.fromisoformat(r["time"]) for r in lines[1:])
    assert answered > received  # when it was sent, not when it was decided


async def test_drop_after_closes_mid_flight(
    start_receiver: StartReceiver, connect: Connect
) -> None:
    receiver = await start_receiver(faults=Faults(drop_after=2))
    client = await connect(receiver)
    await client.send(pacs008("X1"), pacs008("X2"), pacs008("X3"))
    answers = [parse_answer(f).msg_id for f in await client.read(2)]
    assert answers == ["X1", "X2"]
    await client.wait_closed_by_peer()


async def test_duplicate_and_orphan_answers(
    start_receiver: StartReceiver, connect: Connect
) -> None:
    receiver = await start_receiver(faults=Faults(duplicate_rate=1.0, orphan_rate=1.0))
    client = await connect(receiver)
    await client.send(pacs008("Y1"))
    first, second, orphan = (parse_answer(f) for f in await client.read(3))
    assert first.msg_id == second.msg_id == "Y1"
    assert orphan.msg_id.startswith("ORPHAN")
    assert orphan.kind == "ACK"


async def test_withheld_answer_is_kept_for_the_resend(
    start_receiver: StartReceiver, connect: Connect
) -> None:
    receiver = await start_receiver(faults=Faults(no_answer_rate=1.0))
    client = await connect(receiver)
    await client.send(pacs008("W1"), b"")
    assert await client.read(1) == [b""], "only the heartbeat comes back"
    assert receiver.stats.withheld == 1


async def test_garbage_every_n_answers(start_receiver: StartReceiver, connect: Connect) -> None:
    receiver = await start_receiver(faults=Faults(garbage_every=2))
    client = await connect(receiver)
    await client.send(pacs008("Z1"), pacs008("Z2"))
    data = b""
    while not data.endswith(b"\xff\xff\xff\xff"):
        chunk = await client.read_raw()
        assert chunk, "closed before the garbage arrived"
        data += chunk
    frames = FrameDecoder("u32be", 1_048_576).feed(data[:-4])
    assert [parse_answer(f).msg_id for f in frames] == ["Z1", "Z2"], "answers, then garbage"


async def test_held_answers_leave_shuffled(start_receiver: StartReceiver, connect: Connect) -> None:
    """Held answers leave together, in random order. That the delay holds them is shown by
    cause, not by the clock: tests/transport/test_pool.py's answer later than the timeout."""
    receiver = await start_receiver(faults=Faults(ack_delay_ms=100, shuffle=True), seed=5)
    client = await connect(receiver)
    answers = await ask(client, *(pacs008(f"S{i:02d}") for i in range(30)))
    ids = [a.msg_id for a in answers]
    assert sorted(ids) == [f"S{i:02d}" for i in range(30)]
    assert ids != sorted(ids)


async def test_own_heartbeats_when_idle(start_receiver: StartReceiver, connect: Connect) -> None:
    receiver = await start_receiver(faults=Faults(heartbeat_s=0.02))
    client = await connect(receiver)
    assert await client.read(2) == [b"", b""]


async def test_mutual_tls(
    tls_files: TLSFiles, start_receiver: StartReceiver, connect: Connect
) -> None:
    receiver = await start_receiver(client_ca_file=tls_files.ca_file)
    client = await connect(receiver, cert=(tls_files.client_cert_file, tls_files.client_key_file))
    [answer] = await ask(client, pacs008("T1"))
    assert answer.kind == "ACK"
    anonymous = await connect(receiver)
    # Refused by the receiver (TLS 1.3 says so after the handshake: an alert, or the connection
    # closed); a receiver that ignores the client leaves it waiting, a TimeoutError, not these.
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await ask(anonymous, pacs008("T2"))
    assert (receiver.stats.connections, receiver.stats.received) == (2, 1)


async def test_duplicates_are_remembered_for_two_generations(
    start_receiver: StartReceiver, connect: Connect
) -> None:
    receiver = await start_receiver(dedup_capacity=3)
    client = await connect(receiver)
    await client.send(pacs008("G0"))
    [original] = await client.read(1)
    # Three more fill the first generation and rotate it out of the current one.
    await client.send(*(pacs008(f"G{i}") for i in range(1, 4)))
    await client.read(3)
    await client.send(pacs008("G0"))
    assert await client.read(1) == [original], "still remembered in the older generation"
    await client.send(*(pacs008(f"H{i}") for i in range(6)))
    await client.read(6)
    await client.send(pacs008("G0"))
    [answered_again] = await client.read(1)
    assert answered_again != original, "forgotten after two rotations"
    assert receiver.stats.duplicates == 1


@pytest.mark.parametrize(
    ("rules", "reasons"),
    [
        (Rules(), {None, "FF01"}),
        (Rules(nack_amount_over=Decimal(100), nack_rate=0.3), {None, "AM04", "MS03", "FF01"}),
    ],
    ids=["accept-all", "rules"],
)
async def test_answers_are_the_same_with_the_log_on(
    tmp_path: Path,
    start_receiver: StartReceiver,
    connect: Connect,
    rules: Rules,
    reasons: set[str | None],
) -> None:
    # Without rules, the wire core answers a whole read (AnswerBook.accept); the log sends reads
    # down the general path. Faults off, the answers must not change.
    payloads = [pacs008(f"P{i}", amount="150.00" if i % 5 == 0 else "1.00") for i in range(30)]
    seen = []
    for log_file in (None, tmp_path / "receiver.jsonl"):
        receiver = await start_receiver(rules=rules, seed=9, log_file=log_file)
        client = await connect(receiver)
        answers = await ask(client, *payloads, payloads[3], b"\x00junk")
        seen.append([(a.msg_id, a.kind, a.status, a.reason_code, a.uetr) for a in answers])
        assert (receiver.stats.received, receiver.stats.duplicates) == (31, 1)
        assert receiver.stats.malformed == 1
        assert receiver.stats.answers_sent == 32
    assert seen[0] == seen[1]
    assert {reason for _, _, _, reason, _ in seen[0]} == reasons
