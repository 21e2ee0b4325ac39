"""Web responses Faust's view helpers cannot make."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

# Chunks are grouped up to this size per write: small enough that one write never holds
# the loop for long, large enough that a 50 MB body is not 100,000 writes.
WRITE_BYTES = 256 * 1024


async def stream_response(
    request: web.Request, chunks: Sequence[bytes], content_type: str
) -> web.StreamResponse:
    """Send ``chunks`` in order as one body, yielding to the event loop between writes
    (``write`` waits for the socket to drain), so a large body never sits in one buffer."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.content_length = sum(len(c) for c in chunks)
    await response.prepare(request)
    batch: list[bytes] = []
    size = 0
    for chunk in chunks:
        batch.append(chunk)
        size += len(chunk)
        if size >= WRITE_BYTES:
            await response.write(b"".join(batch))
            batch, size = [], 0
    if batch:
        await response.write(b"".join(batch))
    await response.write_eof()
    return response
