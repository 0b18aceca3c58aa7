"""Streamed responses: reports and exports written chunk by chunk as the database yields rows.

The headers the middlewares add to ordinary responses are set here, before the first byte goes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable

from aiohttp import web

from paywire.api.jsonio import JSON_CONTENT_TYPE
from paywire.api.keys import REQUEST_ID
from paywire.api.middlewares import REQUEST_ID_HEADER, add_security_headers

log = logging.getLogger(__name__)

CSV_CONTENT_TYPE = "text/csv"
# How long one chunk may wait for the client to take it. A stream holds a database connection
# (and its snapshot) until it ends: a client that stops reading must not hold it for ever.
WRITE_TIMEOUT_S = 30.0


async def stream(
    request: web.Request,
    chunks: AsyncIterable[bytes],
    *,
    content_type: str = JSON_CONTENT_TYPE,
    filename: str | None = None,
) -> web.StreamResponse:
    """Send `chunks` as the body of a 200 response; `filename` makes it a download."""
    response = web.StreamResponse()
    response.content_type = content_type
    if content_type == CSV_CONTENT_TYPE:
        response.charset = "utf-8"
    if filename is not None:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
    add_security_headers(request, response)
    await response.prepare(request)
    try:
        async for chunk in chunks:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await response.write(chunk)
    except Exception:
        transport = request.transport
        if transport is not None and not transport.is_closing():
            # Too late for an error response, the status is sent: cut the connection, so the
            # client sees a broken transfer rather than a body that looks complete.
            log.exception("streamed response broken off")
            transport.close()
        return response
    await response.write_eof()
    return response
