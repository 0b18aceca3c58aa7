"""CSV and JSON rendered in chunks as rows arrive, for reports and exports of any length.

The admin surface writes the chunks to a streamed response, the commands to a file or stdout;
neither ever holds the whole document.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from typing import Any

import orjson

CHUNK_BYTES = 64 * 1024


async def csv_chunks(
    columns: Sequence[str], rows: AsyncIterable[Sequence[object]]
) -> AsyncIterator[bytes]:
    """A header row of `columns`, then `rows`, as UTF-8 CSV (RFC 4180 quoting and line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    async for row in rows:
        writer.writerow(row)
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def json_chunks(
    head: Mapping[str, Any], key: str, items: AsyncIterable[Mapping[str, Any]]
) -> AsyncIterator[bytes]:
    """One JSON object: the members of `head`, then `key` holding the list of `items`."""
    opening = orjson.dumps(dict(head))[:-1]
    parts = [opening, b"," if head else b"", orjson.dumps(key), b":["]
    size, separator = 0, b""
    async for item in items:
        encoded = orjson.dumps(item)
        parts += (separator, encoded)
        size, separator = size + len(encoded), b","
        if size >= CHUNK_BYTES:
            yield b"".join(parts)
            parts, size = [], 0
    parts.append(b"]}")
    yield b"".join(parts)
