"""httpx's network layer on aiohttp: the REST adapters keep httpx's API, aiohttp moves the bytes.

Under load httpcore (httpx's connection layer, on anyio) was the largest single item in
serve's CPU profile: about a fifth of all samples for one streamed chat completion per
message. aiohttp's C-accelerated parser and its plain asyncio transports do the same work
for a fraction of that, and aiohttp is already on serve's hot path (the Telegram and
WhatsApp channels, the gateway). Everything above the transport stays httpx: requests are
built, authenticated, redirected (or not), decoded and classified exactly as before, so the
adapters, their retries and error messages, and tests with `httpx.MockTransport` keep
working unchanged.

aiohttp's failures are raised as the httpx exceptions httpcore raises for the same case
(ConnectError, ConnectTimeout, ReadTimeout, ReadError, ...), with the aiohttp error as
their cause, so `providers/errors.py` classifies them as before (TLS failures included).

Requests that the environment sends through a proxy keep httpx's own transport (see
`HttpProvider.client`): httpx's proxy support (HTTP and SOCKS, NO_PROXY) stays as it was.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
from yarl import URL

# httpx's default pool: at most 100 connections.
POOL_LIMIT = 100


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncBaseTransport` over one aiohttp session (and connection pool)."""

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limit: int = POOL_LIMIT) -> None:
        """`verify`: an SSL context (CA bundle, client certificate), or True for the system's
        defaults, as httpx's `verify`; False turns verification off."""
        self._ssl: ssl.SSLContext | bool = verify
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit, ssl=self._ssl),
                # httpx decodes bodies and keeps cookies itself; aiohttp must not do it too.
                auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
                # Headers come from httpx, complete: aiohttp adds none of its own.
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"))
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._open()
        body = await request.aread()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        try:
            response = await session.request(
                request.method, URL(str(request.url), encoded=True), data=body or None,
                headers=headers, allow_redirects=False, timeout=_timeout(request))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _as_httpx(exc, request) from exc
        return httpx.Response(
            response.status, headers=list(response.raw_headers),
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1",
                        "reason_phrase": (response.reason or "").encode("latin-1")})

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


class _Body(httpx.AsyncByteStream):
    """A response body as httpx reads it: chunks as they arrive, errors as httpx's."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _as_httpx(exc, self._request) from exc

    async def aclose(self) -> None:
        self._response.release()


def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    """httpx's per-request timeouts (connect, read, pool) in aiohttp's terms."""
    given = request.extensions.get("timeout") or {}
    connect, read, pool = given.get("connect"), given.get("read"), given.get("pool")
    # aiohttp's `connect` covers waiting for a pooled connection plus opening one.
    acquire = None if connect is None or pool is None else connect + pool
    return aiohttp.ClientTimeout(total=None, connect=acquire, sock_connect=connect,
                                 sock_read=read)


def _as_httpx(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception httpcore raises for the same failure."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text, request=request)
    if isinstance(exc, asyncio.TimeoutError):
        return httpx.ReadTimeout(text, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(text, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(text, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(text, request=request)
    return httpx.ReadError(text, request=request)
