"""What the HTTP adapters share: one httpx client per provider and one way to call.

Every call goes the same way — send with credentials, keep status, latency and headers
for `providers test`, refresh an OAuth token once after a 401 and send again, then turn an
error answer or a connection failure into a classified ProviderError:

    async with self.post_stream(url, body) as response:   # streamed answers (SSE)
        async for line in response.aiter_lines(): ...
    response = await self.get(url, params={...})           # small JSON answers

The bytes travel over aiohttp below httpx (`aiohttp_transport.py`), which is imported
inside functions (`HttpProvider._network`) when the first client is built: commands that
only read provider settings, and `doctor`'s imports, do not pay for aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import ssl
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import httpx

from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import Provider, ResponseInfo, SecretResolver
from assistant_cli.providers.errors import classify_http_error, network_error

if TYPE_CHECKING:
    from assistant_cli.config.models import ProviderConfig


_EOL = re.compile(rb"\r\n|\r|\n")


async def sse_lines(response: httpx.Response) -> AsyncIterator[str]:
    """The lines of an event stream: split at CRLF, LF or CR, decoded as UTF-8.

    An event stream is UTF-8 by definition, so this skips httpx's `aiter_lines`, which
    looks for a charset in the headers per response and splits at every Unicode line
    break (a U+2028 inside JSON data would cut it): under load that was a tenth of the
    provider's share of serve's CPU."""
    buffer = b""
    async for chunk in response.aiter_bytes():
        buffer += chunk
        # A CR at the end may be the first half of a CRLF: keep it for the next chunk.
        ready, buffer = (buffer[:-1], b"\r") if buffer.endswith(b"\r") else (buffer, b"")
        lines = _EOL.split(ready)
        buffer = lines.pop() + buffer
        for line in lines:
            yield line.decode("utf-8", "replace")
    rest = _EOL.split(buffer)
    for line in rest if rest[-1] else rest[:-1]:
        yield line.decode("utf-8", "replace")


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) for each server-sent event, joining multi-line data.

    The one SSE parser of the REST adapters (OpenAI and Anthropic alike), after the WHATWG
    rules they need: `event:`/`data:` fields, comments, blank-line dispatch. Twenty lines
    of ours rather than httpx-sse, which would add a dependency for the same loop."""
    event = ""
    data: list[str] = []
    async for line in sse_lines(response):
        if not line:
            if data:
                yield event or "message", "\n".join(data)
            event, data = "", []
        elif line.startswith(":"):
            continue  # comment / keep-alive
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
    if data:
        yield event or "message", "\n".join(data)


def _proxied(url: str) -> bool:
    """Whether HTTP(S)_PROXY / ALL_PROXY (less NO_PROXY) send `url` through a proxy."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return False
    proxies = urllib.request.getproxies()
    return bool(proxies.get(parts.scheme) or proxies.get("all"))


class HttpProvider(Provider):
    """A Provider that reaches its service over HTTP(S) with httpx."""

    url_schemes: ClassVar[tuple[str, ...] | None] = ("http", "https")
    # Response header with the service's id for a request, logged with each answer.
    request_id_header: ClassVar[str | None] = None
    _client: httpx.AsyncClient | None = None

    def __init__(self, name: str, config: ProviderConfig, resolve_secret: SecretResolver, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        """`transport` replaces httpx's network layer (tests: `httpx.MockTransport`)."""
        super().__init__(name, config, resolve_secret)
        self.transport = transport
        self._urls: dict[str, httpx.URL] = {}

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(type(self).__module__)

    async def headers(self) -> dict[str, str]:
        """Headers for every call: SSE accepted, the configured extras, credentials."""
        return {"Accept": "text/event-stream", **self.config.headers,
                **await self.auth.headers()}

    def classify(self, response: httpx.Response) -> ProviderError:
        """The ProviderError for an error answer; adapters add their API's own cases."""
        return classify_http_error(self.name, response)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            timeout = httpx.Timeout(self.config.timeout, connect=min(10.0, self.config.timeout))
            verify = self.auth.httpx_verify()
            self._client = httpx.AsyncClient(timeout=timeout, verify=verify,
                                             transport=self.transport or self._network(verify))
        return self._client

    def _network(self, verify: ssl.SSLContext | bool) -> httpx.AsyncBaseTransport | None:
        """aiohttp under httpx (see aiohttp_transport.py), unless the environment sends the
        service through a proxy: then httpx's own transport (None), with its proxy support."""
        if _proxied(self.config.base_url):
            return None
        from assistant_cli.providers.aiohttp_transport import AiohttpTransport

        return AiohttpTransport(verify=verify)

    def _parsed(self, url: str) -> httpx.URL:
        """`url` parsed once per provider: httpx parses (and percent-checks) a string URL on
        every request, half of its cost of building one (~60 us of ~115 us)."""
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    def endpoint(self, path: str) -> str:
        """`{base_url}/{path}`."""
        return self.config.base_url.rstrip("/") + "/" + path

    def _note(self, response: httpx.Response, started: float) -> float:
        latency = round((time.monotonic() - started) * 1000, 1)
        self.last_response = ResponseInfo(response.status_code, latency, dict(response.headers))
        return latency

    @staticmethod
    async def finish_body(rest: AsyncIterator[Any]) -> None:
        """Read what follows the end-of-answer marker (normally nothing) so the connection
        goes back to the pool; a server that keeps it open gets a second, then we hang up."""

        async def exhaust() -> None:
            async for _ in rest:
                pass

        with contextlib.suppress(asyncio.TimeoutError, httpx.HTTPError):
            if sys.version_info >= (3, 11):  # no extra task, unlike wait_for
                async with asyncio.timeout(1.0):
                    await exhaust()
            else:
                await asyncio.wait_for(exhaust(), timeout=1.0)

    def stream_json(self, data: str, what: str) -> dict[str, Any]:
        """One streamed JSON object ({} for any other JSON value); malformed: bad_request."""
        try:
            value = json.loads(data)
        except json.JSONDecodeError:
            raise ProviderError(f"{self.name} sent a malformed {what}", kind="bad_request",
                                provider=self.name) from None
        return value if isinstance(value, dict) else {}

    def _refused(self, response: httpx.Response) -> ProviderError:
        return self.auth.refused(self.classify(response))

    def _unreachable(self, url: str, exc: Exception) -> ProviderError:
        return self.auth.annotate(network_error(self.name, url, exc))

    @asynccontextmanager
    async def post_stream(self, url: str, body: dict[str, Any]
                          ) -> AsyncIterator[httpx.Response]:
        """POST `body` as JSON and hold the (2xx) answer open while it streams.

        Transport errors while the caller reads the stream become ProviderErrors too.
        """
        for attempt in (1, 2):
            started = time.monotonic()
            try:
                async with self.client.stream(
                    "POST", self._parsed(url), json=body, headers=await self.headers()
                ) as response:
                    latency = self._note(response, started)
                    fields: dict[str, Any] = {"provider": self.name,
                                              "status": response.status_code}
                    if self.request_id_header:
                        fields["request_id"] = response.headers.get(self.request_id_header)
                    fields["latency_ms"] = latency
                    self.log.info("%s answered %s", self.name, response.status_code,
                                  extra={"event": "provider.response", "fields": fields})
                    if response.status_code >= 400:
                        await response.aread()
                        # An OAuth token can be revoked or expire early: refresh once.
                        if (response.status_code == 401 and attempt == 1
                                and await self.auth.refresh_after_401()):
                            continue
                        raise self._refused(response)
                    yield response
                    return
            except httpx.HTTPError as exc:
                raise self._unreachable(url, exc) from None

    async def get(self, url: str, params: dict[str, str | int] | None = None
                  ) -> httpx.Response:
        """GET `url`; an error answer (after one token refresh on 401) raises."""
        for attempt in (1, 2):
            started = time.monotonic()
            try:
                response = await self.client.get(url, params=params,
                                                 headers=await self.headers())
            except httpx.HTTPError as exc:
                raise self._unreachable(url, exc) from None
            self._note(response, started)
            if not (response.status_code == 401 and attempt == 1
                    and await self.auth.refresh_after_401()):
                break
        if response.status_code >= 400:
            raise self._refused(response)
        return response

    def model_page(self, url: str, response: httpx.Response) -> tuple[list[str], dict[str, Any]]:
        """(model ids, whole body) of a `GET /models` answer shaped `{"data": [{"id"}]}`."""
        try:
            body = response.json()
            return [str(m["id"]) for m in body.get("data", [])], body
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ProviderError(f"{self.name}: {url} did not answer with a model list",
                                kind="bad_request", provider=self.name) from None

    async def list_models(self) -> list[str]:
        """Model ids from `GET {base_url}/models`."""
        url = self.endpoint("models")
        ids, _ = self.model_page(url, await self.get(url))
        return sorted(ids)

    async def health_check(self) -> ResponseInfo:
        """The cheapest authenticated call most APIs have: listing models."""
        await self.list_models()
        assert self.last_response is not None
        return self.last_response

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
