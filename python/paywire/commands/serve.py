"""`paywire serve`: run the gateway (pipeline, TLS pool, admin surface) until SIGTERM or Ctrl-C.

Refuses to start, naming the variable, when the receiver or the BICs are not configured.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import uvloop

from paywire.commands import configuration
from paywire.errors import PaywireError
from paywire.gateway import run_gateway
from paywire.observability.logging import configure_logging

log = logging.getLogger(__name__)


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
    try:
        uvloop.run(run_gateway(settings))
    except PaywireError as exc:
        # The CLI says it on stderr too; the application log is where an operator looks when
        # a service has stopped, and found nothing there.
        log.error("refused to start: %s", exc.message)
        raise
    return 0
