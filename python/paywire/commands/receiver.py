"""`paywire receiver`: run the reference receiver until SIGTERM or Ctrl-C.

Prints `listening on HOST:PORT` once it accepts connections, so scripts can start it with --port 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import uvloop

from paywire.config import (
    DEFAULT_MAX_FRAME_BYTES,
    FRAMINGS,
    MIN_FRAME_BYTES,
    TLS_MIN_VERSIONS,
    host_problem,
)
from paywire.errors import ConfigError, host_port
from paywire.receiver import Faults, Receiver, ReceiverConfig, Rules, ensure_certificates
from paywire.receiver.certs import CertificateFiles
from paywire.receiver.config import check_port
from paywire.receiver.rules import normalise_bic


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "receiver",
        help="run the reference receiver (TLS server speaking the wire protocol)",
        description="The reference receiver: answers each pacs.008 with an ACK or NACK by rule, "
        "and can delay, drop, duplicate or garble answers on purpose.",
    )
    listen = parser.add_argument_group("listening")
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    listen.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    listen.add_argument("--cert", type=Path, help="server certificate (PEM, with chain)")
    listen.add_argument("--key", type=Path, help="private key of --cert (PEM)")
    listen.add_argument(
        "--data-dir",
        type=Path,
        help="instead of --cert/--key: generate (or reuse) a CA and certificates in DIR/tls "
        "and print the CA file's path",
    )
    listen.add_argument("--client-ca", type=Path, help="require client certificates from this CA")
    listen.add_argument("--tls-min-version", choices=tuple(TLS_MIN_VERSIONS), default="1.2")
    listen.add_argument("--framing", choices=FRAMINGS, default="u32be")
    listen.add_argument("--max-frame-bytes", type=int, default=DEFAULT_MAX_FRAME_BYTES)
    rules = parser.add_argument_group("answers")
    rules.add_argument(
        "--nack-amount-over", type=_amount, metavar="AMOUNT", help="NACK (AM04) larger amounts"
    )
    rules.add_argument(
        "--nack-creditor-bic",
        action="append",
        default=[],
        metavar="BIC",
        help="NACK (RC01) payments to this creditor agent; repeatable",
    )
    rules.add_argument("--nack-rate", type=_rate, default=0.0, help="NACK (MS03) at random")
    rules.add_argument("--seed", type=int, help="seed of every random choice")
    faults = parser.add_argument_group("faults")
    faults.add_argument("--ack-delay-ms", type=float, default=0.0, help="hold answers this long")
    faults.add_argument(
        "--drop-after", type=int, default=0, metavar="N", help="close a connection after N messages"
    )
    faults.add_argument(
        "--garbage-every", type=int, default=0, metavar="N", help="a garbage frame every N answers"
    )
    faults.add_argument("--garbage-kind", choices=("header", "payload"), default="header")
    faults.add_argument("--no-answer-rate", type=_rate, default=0.0, help="withhold answers")
    faults.add_argument("--duplicate-rate", type=_rate, default=0.0, help="send answers twice")
    faults.add_argument(
        "--orphan-rate", type=_rate, default=0.0, help="also answer MsgIds never received"
    )
    faults.add_argument("--shuffle", action="store_true", help="answer each read in random order")
    faults.add_argument(
        "--heartbeat-s", type=float, default=0.0, help="send own heartbeats after this long idle"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--log", type=Path, help="JSON line per message received and answer sent")
    out.add_argument("--dedup-capacity", type=int, default=1_000_000, metavar="N")
    out.add_argument(
        "--progress-s", type=float, default=10.0, help="counters to stderr this often; 0: never"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    _check_options(args)
    files = ensure_certificates(args.data_dir / "tls") if args.data_dir is not None else None
    config = _config(args, files)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(config, files, args.progress_s))
    return 0


def _config(args: argparse.Namespace, files: CertificateFiles | None) -> ReceiverConfig:
    cert, key = (files.cert_file, files.key_file) if files is not None else (args.cert, args.key)
    return ReceiverConfig(
        cert_file=cert,
        key_file=key,
        host=args.host,
        port=args.port,
        client_ca_file=args.client_ca,
        tls_min_version=args.tls_min_version,
        framing=args.framing,
        max_frame_bytes=args.max_frame_bytes,
        rules=Rules(
            nack_amount_over=args.nack_amount_over,
            nack_creditor_bics=frozenset(normalise_bic(b) for b in args.nack_creditor_bic),
            nack_rate=args.nack_rate,
        ),
        faults=Faults(
            ack_delay_ms=args.ack_delay_ms,
            drop_after=args.drop_after,
            garbage_every=args.garbage_every,
            garbage_kind=args.garbage_kind,
            no_answer_rate=args.no_answer_rate,
            duplicate_rate=args.duplicate_rate,
            orphan_rate=args.orphan_rate,
            shuffle=args.shuffle,
            heartbeat_s=args.heartbeat_s,
        ),
        seed=args.seed,
        log_file=args.log,
        dedup_capacity=max(1, args.dedup_capacity),
    )


def _check_options(args: argparse.Namespace) -> None:
    """Every option refused before anything is made: a refusal after the certificates were
    generated and their paths printed read as a receiver that had started."""
    if args.config is not None:
        # Taken and ignored, a file of receiver settings would not have been what ran.
        raise ConfigError(
            f"--config {args.config}: the receiver reads no settings file; give its options on"
            " the command line (paywire receiver --help)"
        )
    if args.data_dir is not None and (args.cert or args.key):
        raise ConfigError("give either --data-dir or --cert and --key, not both")
    if args.data_dir is None and not (args.cert and args.key):
        raise ConfigError("the receiver needs --cert and --key, or --data-dir to generate them")
    problem = host_problem(args.host)
    if problem:
        raise ConfigError(f"--host {args.host}: {problem}; the port is --port")
    check_port(args.port)
    for name in ("drop_after", "garbage_every", "dedup_capacity", "ack_delay_ms", "heartbeat_s"):
        if not getattr(args, name) >= 0:  # NaN too
            raise ConfigError(f"--{name.replace('_', '-')} must not be negative")
    if args.max_frame_bytes < MIN_FRAME_BYTES:
        raise ConfigError(
            f"--max-frame-bytes must be at least {MIN_FRAME_BYTES}, as the gateway's limit:"
            " a pacs.008 can take 4,029 bytes"
        )
    # The CA --data-dir makes on a first start may be the one named: the way a deployment
    # trusts its gateways' certificates, issued by that CA (docs/RUNBOOK.md, "Staging").
    if args.client_ca is not None and not args.client_ca.is_file():
        made = args.data_dir is not None and args.client_ca.resolve() == (
            CertificateFiles.in_directory(args.data_dir / "tls").ca_file.resolve()
        )
        if not made:
            raise ConfigError(f"--client-ca {args.client_ca}: no such file")


async def _serve(config: ReceiverConfig, files: CertificateFiles | None, progress_s: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    receiver = Receiver(config)
    await receiver.start()
    if files is not None:
        _print_files(files)
    print(f"listening on {host_port(config.host, receiver.port)}", flush=True)
    reporter = asyncio.create_task(_report(receiver, progress_s)) if progress_s > 0 else None
    try:
        await stop.wait()
    finally:
        if reporter is not None:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
        await receiver.stop()
        print(f"stopped: {_counters(receiver)}", file=sys.stderr, flush=True)


def _print_files(files: CertificateFiles) -> None:
    """Printed once the receiver listens: a `--log` or port it refuses (exit 2) after the paths
    were printed read as a receiver that had started."""
    print(f"ca-file: {files.ca_file.resolve()}", flush=True)
    print(f"client-cert: {files.client_cert_file.resolve()}", flush=True)
    print(f"client-key: {files.client_key_file.resolve()}", flush=True)


async def _report(receiver: Receiver, every_s: float) -> None:
    last = ""
    while True:
        await asyncio.sleep(every_s)
        line = _counters(receiver)
        if line != last:
            print(line, file=sys.stderr, flush=True)
            last = line


def _counters(receiver: Receiver) -> str:
    s = receiver.stats
    return (
        f"connections {s.connections}, received {s.received}, duplicates {s.duplicates}, "
        f"malformed {s.malformed}, answers sent {s.answers_sent}, withheld {s.withheld}"
    )


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"not a rate: {text!r} (a number between 0 and 1)")
    return value


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}")
    return value
