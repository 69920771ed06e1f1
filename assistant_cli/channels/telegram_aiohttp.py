"""Bot API requests over aiohttp: PTB's `BaseRequest` contract, with `platform.response` logs.

aiohttp rather than PTB's own httpx transport: under load httpx+httpcore dominated serve's
CPU profile, and aiohttp spends a fraction of that per request (see whatsapp_graph.py).

aiohttp is imported inside functions: `doctor` builds the Bot (and so this transport) on
a thread, and importing aiohttp there keeps it off the event loop it reports on.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from assistant_cli.channels.proxy import env_proxy
from assistant_cli.channels.telegram_http import log_response

if TYPE_CHECKING:
    import aiohttp

    # Type aliases only: PTB's public API has no names for them (nothing runs from here).
    from telegram._utils.types import ODVInput, UploadFileDict


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _given(value: ODVInput[float], default: float | None) -> float | None:
    """A timeout the caller gave (seconds, or None for none), else ours. PTB marks "not
    given" with `BaseRequest.DEFAULT_NONE`; testing for what was given instead keeps PTB's
    private DefaultValue class out of our imports."""
    return value if value is None or isinstance(value, int | float) else default


class AiohttpRequest(BaseRequest):
    """One aiohttp session (and connection pool) per request object, as HTTPXRequest has."""

    __slots__ = ("_closed", "_connect_timeout", "_connector", "_media_write_timeout", "_pool_size",
                 "_pool_timeout", "_proxies", "_read_timeout", "_session", "_write_timeout")

    def __init__(self, connection_pool_size: int = 256, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0,
                 media_write_timeout: float | None = 20.0,
                 connector: aiohttp.BaseConnector | None = None) -> None:
        """`connector` replaces the connection pool (tests); the caller keeps owning it."""
        self._connector = connector
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._proxies: dict[str, str | None] = {}  # per origin: every call goes to one host

    def _proxy(self, url: str) -> str | None:
        origin = url.split("/", 3)[2] if "//" in url else url
        if origin not in self._proxies:
            self._proxies[origin] = env_proxy(url)
        return self._proxies[origin]

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        # Not trust_env: it reads .netrc and the proxy variables in a thread on every
        # request; the proxy is looked up once per origin instead (channels/proxy.py).
        self._session = aiohttp.ClientSession(
            connector=self._connector or aiohttp.TCPConnector(limit=self._pool_size),
            connector_owner=self._connector is None,
            headers={"User-Agent": self.USER_AGENT})
        self._closed = False
        return self._session

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._open()

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        self._closed = True
        if session is not None and not session.closed:
            await session.close()
            await asyncio.sleep(0)  # lets the closed sockets' transports finish closing

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        # HTTPXRequest works before initialize() (doctor relies on that), so this does too.
        session = self._session or self._open()
        files = request_data.multipart_data if request_data else None
        timeout = self._timeout(read_timeout, connect_timeout, pool_timeout)
        # aiohttp has no write timeout; a stalled upload ends at sock_read instead, since
        # nothing comes back while it lasts. write_timeout is accepted for the contract only.
        del write_timeout
        coro = self._send(session, url, method, request_data, files, timeout)
        return await log_response(url, coro)

    def _timeout(self, read: ODVInput[float], connect: ODVInput[float],
                 pool: ODVInput[float]) -> aiohttp.ClientTimeout:
        import aiohttp

        read_s = _given(read, self._read_timeout)
        connect_s = _given(connect, self._connect_timeout)
        pool_s = _given(pool, self._pool_timeout)
        # aiohttp's `connect` covers waiting for a pooled connection plus opening one.
        acquire = None if connect_s is None or pool_s is None else connect_s + pool_s
        return aiohttp.ClientTimeout(total=None, connect=acquire, sock_connect=connect_s,
                                     sock_read=read_s)

    async def _send(self, session: aiohttp.ClientSession, url: str, method: str,
                    request_data: RequestData | None, files: UploadFileDict | None,
                    timeout: aiohttp.ClientTimeout) -> tuple[int, bytes]:
        import aiohttp

        params = request_data.json_parameters if request_data else None
        body: aiohttp.FormData | bytes | None = None
        headers = None
        if params and not files:
            # The form PTB's own transport sends, encoded here in one call: aiohttp's
            # FormData took a twentieth of serve's CPU building the same bytes.
            body = urlencode(params).encode()
            headers = _FORM
        if files:  # the parameters then travel as form fields next to the files
            form = aiohttp.FormData()
            for name, value in (params or {}).items():
                form.add_field(name, value)
            for name, (filename, content, mimetype) in files.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
            body = form
        try:
            async with session.request(method, url, data=body, headers=headers,
                                       timeout=timeout, proxy=self._proxy(url)) as resp:
                return resp.status, await resp.read()
        except asyncio.TimeoutError as exc:
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                raise TimedOut("Timed out waiting for a connection: the pool is busy or the "
                               "server is not answering") from exc
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            # Some aiohttp messages quote the URL, and the URL holds the bot token.
            text = str(exc).replace(url, "<Bot API URL>")
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {text}") from exc
