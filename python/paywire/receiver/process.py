"""The reference receiver in a process of its own, for `paywire demo` and `paywire bench`.

A separate process gets its own core and its own event loop, as a real receiver would.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
# The BICs of the gateway (the sender) and of this receiver when demo or bench run them together
# and the settings name none.
LOOPBACK_SENDER_BIC = "PAYWDEFFXXX"
LOOPBACK_RECEIVER_BIC = "RCVRGB2LXXX"


@dataclass(frozen=True, slots=True)
class ReceiverProcess:
    """Where it listens, and the `key: value` lines it printed first (e.g. `ca-file`)."""

    host: str
    port: int
    printed: dict[str, str]


@contextlib.asynccontextmanager
async def receiver_process(*args: str, host: str = "127.0.0.1") -> AsyncIterator[ReceiverProcess]:
    """`paywire receiver --host HOST --port 0 ARGS…`, running until the block ends."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "paywire.cli", "receiver",
        "--host", host, "--port", "0", "--progress-s", "0", *args,
        stdout=asyncio.subprocess.PIPE,
        # Ctrl-C in a terminal reaches the whole process group; the caller stops it in order.
        start_new_session=True,
    )  # fmt: skip
    drain: asyncio.Task[None] | None = None
    try:
        printed = await _read_until_listening(process)
        # Whatever it prints later must not fill the pipe and stall it.
        drain = asyncio.create_task(_discard(process))
        yield ReceiverProcess(host, int(printed.pop("port")), printed)
    finally:
        await _stop(process)
        if drain is not None:
            await drain


async def _read_until_listening(process: asyncio.subprocess.Process) -> dict[str, str]:
    assert process.stdout is not None
    printed: dict[str, str] = {}
    async with asyncio.timeout(START_TIMEOUT_S):
        while line := (await process.stdout.readline()).decode().strip():
            if line.startswith("listening on "):
                printed["port"] = line.rsplit(":", 1)[1]
                return printed
            key, _, value = line.partition(": ")
            printed[key] = value
    raise RuntimeError("the reference receiver exited before listening; see its output above")


async def _discard(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    while await process.stdout.read(65536):
        pass


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
