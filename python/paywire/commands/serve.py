"""`paywire serve`: run the gateway (pipeline, TLS pool, admin surface) until SIGTERM or Ctrl-C.

Refuses to start, naming the variable, when the receiver or the BICs are not configured.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvloop

from paywire.commands import configuration
from paywire.gateway import run_gateway
from paywire.observability.logging import configure_logging


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the gateway",
        description="Run the gateway: claim approved payments, transmit them to the receiver "
        "and serve the admin surface. SIGTERM drains: no new work is claimed, answers in flight "
        "get up to PAYWIRE_DRAIN_TIMEOUT_S (30 s), then everything closes; the next start "
        "resumes.",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = configuration.load(args)
    settings.require("receiver_host", "receiver_port", "sender_bic", "receiver_bic")
    configure_logging(settings)
    uvloop.run(run_gateway(settings))
    return 0
