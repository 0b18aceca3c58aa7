"""A bare-bones wire-protocol client for poking the receiver: frames out, frames in, no policy.

Uses asyncio streams on purpose: independent of the gateway's transport code.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

from paywire.wire import FrameDecoder, encode_frames
from tests.fixtures.tls import LOOPBACK, SERVER_NAME


class WireClient:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, framing: str
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._framing = framing
        self._decoder = FrameDecoder(framing, 1_048_576)
        self._frames: list[bytes] = []

    @classmethod
    async def open(
        cls,
        port: int,
        ca_file: Path,
        *,
        framing: str = "u32be",
        cert: tuple[Path, Path] | None = None,
    ) -> WireClient:
        context = ssl.create_default_context(cafile=str(ca_file))
        if cert is not None:
            context.load_cert_chain(*cert)
        reader, writer = await asyncio.open_connection(
            LOOPBACK, port, ssl=context, server_hostname=SERVER_NAME
        )
        return cls(reader, writer, framing)

    async def send(self, *payloads: bytes) -> None:
        self._writer.write(encode_frames(list(payloads), self._framing))
        await self._writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def read(self, n: int, timeout_s: float = 5.0) -> list[bytes]:
        """The next `n` frames (heartbeats included, as b"")."""
        async with asyncio.timeout(timeout_s):
            while len(self._frames) < n:
                data = await self._reader.read(65536)
                if not data:
                    raise ConnectionError(f"closed after {len(self._frames)} of {n} frames")
                self._frames.extend(self._decoder.feed(data))
        frames, self._frames = self._frames[:n], self._frames[n:]
        return frames

    async def read_raw(self, timeout_s: float = 5.0) -> bytes:
        """Whatever arrives next, undecoded; b"" once the receiver has closed."""
        async with asyncio.timeout(timeout_s):
            return await self._reader.read(65536)

    async def wait_closed_by_peer(self, timeout_s: float = 5.0) -> None:
        """Drain what is left until the receiver closes; TimeoutError if it never does."""
        async with asyncio.timeout(timeout_s):
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                while await self._reader.read(65536):
                    pass

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self._writer.wait_closed()
