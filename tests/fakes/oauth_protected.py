"""The Anthropic, Responses-WebSocket and KServe fakes, accepting exactly the OAuth access
tokens a `FakeOAuthServer` considers valid (as `OAuthProtectedOpenAI` does for chat
completions). A refused token gets each protocol's own refusal: HTTP 401 with the API's
error body, a 401 instead of the WebSocket upgrade, gRPC UNAUTHENTICATED."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
import grpc.aio
from aiohttp import web

from tests.fakes.anthropic_server import Error, FakeAnthropic
from tests.fakes.kserve_grpc_server import FakeKServe
from tests.fakes.oauth_server import FakeOAuthServer
from tests.fakes.openai_server import openai_error
from tests.fakes.openai_ws_server import FakeResponsesWS


def bearer_is_valid(oauth: FakeOAuthServer, headers: Mapping[str, str]) -> bool:
    """True when `Authorization` (or gRPC's `authorization`) carries a live access token."""
    value = headers.get("Authorization") or headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return scheme.lower() == "bearer" and oauth.is_valid(token.strip())


class OAuthProtectedAnthropic(FakeAnthropic):
    """Messages and model list for valid access tokens only (no x-api-key)."""

    def __init__(self, oauth: FakeOAuthServer, **kwargs: Any) -> None:
        kwargs.setdefault("api_key", None)
        super().__init__(**kwargs)
        self.oauth = oauth
        self.refused = 0

    def _token_error(self, request: web.Request) -> web.Response | None:
        if bearer_is_valid(self.oauth, request.headers):
            return None
        self.refused += 1
        return self._error(Error(401, "authentication_error", "invalid or expired OAuth token"))

    def _refusal(self, request: web.Request, body: Any) -> web.Response | None:
        return self._token_error(request) or super()._refusal(request, body)

    async def _models(self, request: web.Request) -> web.Response:
        return self._token_error(request) or await super()._models(request)


class OAuthProtectedResponsesWS(FakeResponsesWS):
    """WebSocket upgrades and the model list for valid access tokens only."""

    def __init__(self, oauth: FakeOAuthServer, **kwargs: Any) -> None:
        kwargs.setdefault("api_key", None)
        super().__init__(**kwargs)
        self.oauth = oauth
        self.refused = 0

    def _auth_error(self, request: web.Request) -> web.Response | None:
        if bearer_is_valid(self.oauth, request.headers):
            return None
        self.refused += 1
        return web.json_response(openai_error("invalid or expired access token",
                                              "invalid_request_error", "invalid_api_key"),
                                 status=401)


class OAuthProtectedKServe(FakeKServe):
    """Every call, readiness included, for valid access tokens only."""

    def __init__(self, oauth: FakeOAuthServer, **kwargs: Any) -> None:
        kwargs.setdefault("api_key", None)
        super().__init__(**kwargs)
        self.oauth = oauth
        self.guard_readiness = True
        self.refused = 0

    async def check_credentials(self, context: grpc.aio.ServicerContext) -> None:
        md = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        if not bearer_is_valid(self.oauth, md):
            self.refused += 1
            await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                "invalid or expired access token")
