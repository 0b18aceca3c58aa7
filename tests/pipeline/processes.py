"""`paywire serve` and `paywire receiver` as real subprocesses, for crash and drain tests.

Each process gets its environment and arguments as an operator would give them; the helpers
read what the processes print (JSON log lines, `listening on HOST:PORT`) to find their ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tests.fixtures.environ import clean_environ
from tests.fixtures.tls import LOOPBACK, SERVER_NAME, TLSFiles

START_TIMEOUT_S = 60.0


@dataclass
class Process:
    """A child process whose output lines are kept, and awaited for a marker."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None
    _new_line: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def spawn(cls, *args: str, env: Mapping[str, str]) -> Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "paywire.cli",
            *args,
            env={**clean_environ(), **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        child = cls(process)
        child._reader = asyncio.create_task(child._read())
        return child

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode(errors="replace").rstrip("\n"))
            self._new_line.set()
        self._new_line.set()

    async def wait_for_line(self, marker: str, timeout_s: float = START_TIMEOUT_S) -> str:
        """The first output line containing `marker`; fails if the process ends first."""
        async with asyncio.timeout(timeout_s):
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if marker in line:
                        return line
                seen = len(self.lines)
                if self._reader is not None and self._reader.done():
                    tail = "\n".join(self.lines[-30:])
                    raise AssertionError(f"process ended without {marker!r}:\n{tail}")
                self._new_line.clear()
                await self._new_line.wait()

    async def ready(self, marker: str, timeout_s: float = START_TIMEOUT_S) -> str:
        """`wait_for_line`, for a process the caller gets only once it is ready: stopped if the
        wait fails (a timeout, an early exit, a cancellation), so it cannot outlive the test."""
        try:
            return await self.wait_for_line(marker, timeout_s)
        except BaseException:
            await self.stop()
            raise

    def signal(self, signum: int) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signum)

    async def wait(self, timeout_s: float = 60.0) -> int:
        async with asyncio.timeout(timeout_s):
            code = await self.process.wait()
            if self._reader is not None:
                await self._reader
        return code

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        with contextlib.suppress(TimeoutError):
            await self.wait(10)


async def start_receiver(
    tls_files: TLSFiles, log_file: Path, *args: str, port: int = 0
) -> tuple[Process, int]:
    """The reference receiver on `port` (0: any), logging every message to `log_file`."""
    child = await Process.spawn(
        "receiver",
        "--port", str(port),
        "--cert", str(tls_files.cert_file),
        "--key", str(tls_files.key_file),
        "--log", str(log_file),
        "--progress-s", "0",
        *args,
        env={},
    )  # fmt: skip
    line = await child.ready("listening on ")
    return child, int(line.rsplit(":", 1)[1])


def gateway_env(
    dsn: str, tls_files: TLSFiles, receiver_port: int, log_dir: Path, **settings: object
) -> dict[str, str]:
    """The environment of a `paywire serve` on the test database and receiver."""
    env = {
        "DATABASE_URL": dsn,
        "PAYWIRE_HTTP_PORT": "0",
        "PAYWIRE_RECEIVER_HOST": LOOPBACK,
        "PAYWIRE_RECEIVER_PORT": str(receiver_port),
        "PAYWIRE_RECEIVER_SERVER_NAME": SERVER_NAME,
        "PAYWIRE_RECEIVER_CA_FILE": str(tls_files.ca_file),
        "PAYWIRE_SENDER_BIC": "PAYWDEFFXXX",
        "PAYWIRE_RECEIVER_BIC": "RCVRGB2LXXX",
        "PAYWIRE_LOG_DIR": str(log_dir),
    }
    env.update({f"PAYWIRE_{k.upper()}": str(v) for k, v in settings.items()})
    return env


async def start_gateway(env: Mapping[str, str]) -> tuple[Process, str]:
    """`paywire serve`, once its admin surface answers; returns the process and its URL."""
    child = await Process.spawn("serve", env=env)
    line = await child.ready('"gateway ready"')
    return child, str(orjson.loads(line)["url"])


async def health(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    """The status and body of a started gateway's /health (`url` from `start_gateway`)."""
    async with http.get(f"{url}/health") as response:
        return response.status, await response.json()


async def kill(child: Process) -> None:
    child.signal(signal.SIGKILL)
    await child.wait()
