"""POSTs at a fleet's rate for a small share of a core: keep-alive HTTP/1.1 connections written
and read directly (a request is its prepared bytes; an answer its status line, headers and
body), so that the load generator leaves the box to what it measures. An HTTP client library
spent about half a core here at 50 requests a second."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

TIMEOUT_S = 30.0  # as API Gateway's limit, and the agent's


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float = 0.0  # from a free connection to the answer: no wait for one counted


class Posts:
    """Up to ``size`` connections to one URL's server, each carrying one request at a time."""

    def __init__(self, url: str, size: int) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError(f"only http:// here, not {url}")
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.lanes = asyncio.Semaphore(size)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    def head(self, headers: dict[str, str], length: int) -> bytes:
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"Content-Length: {length}", *(f"{k}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def post(self, head: bytes, body: bytes) -> Answer:
        async with self.lanes:
            started = time.perf_counter()
            answer = await self._post(head, body)
            return replace(answer, elapsed_ms=(time.perf_counter() - started) * 1000)

    async def _post(self, head: bytes, body: bytes) -> Answer:
        while self.idle:
            # A kept connection the server closed while idle (its keep-alive timeout) ends
            # before any answer: the request goes again on a new one, as clients do.
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, head + body)
            except asyncio.IncompleteReadError as error:
                if error.partial:
                    raise
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(reader, writer, head + body)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> Answer:
        try:
            writer.write(request)
            answer, keep = await asyncio.wait_for(read_answer(reader), TIMEOUT_S)
        except BaseException:
            writer.close()
            raise
        if keep:
            self.idle.append((reader, writer))
        else:
            writer.close()
        return answer

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def read_answer(reader: asyncio.StreamReader) -> tuple[Answer, bool]:
    """One answer, and whether its connection may carry another request."""
    status_line = await reader.readuntil(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    headers: dict[str, str] = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    keep = headers.get("connection", "").lower() != "close"
    return Answer(status, headers, body), keep
