"""gRPC model services speaking the KServe Open Inference Protocol v2 (kind `grpc`).

`inference.GRPCInferenceService` as served by Triton, KServe and MLServer: ServerReady and
ModelReady for health, ModelInfer for one answer, and Triton's ModelStreamInfer extension
for streamed answers (`stream: true`, the default).

What goes over the wire, following the convention of Triton's TensorRT-LLM ensemble
(which vLLM's Triton backend shares for the first two):
- the conversation, rendered as one transcript ("System: ...\\nUser: ...\\nAssistant:"),
  as a BYTES tensor named `input_tensor` (default `text_input`), shape [1, 1];
- `stream` (BOOL [1, 1], only when streaming), `max_tokens` (INT32 [1, 1]) and
  `temperature` (FP32 [1, 1]) as input tensors when set — tensors rather than request
  parameters because the ensemble declares them as inputs and ignores parameters;
- the answer comes back in the BYTES tensor `output_tensor` (default `text_output`), in
  `contents.bytes_contents` or in `raw_output_contents` (both are decoded).
Streamed pieces are deltas (what TensorRT-LLM sends); with `cumulative: true` each piece
is taken as the whole text so far and only its new tail is passed on.

Credentials come from `Provider.auth`: an API key or OAuth token as `authorization: Bearer`
metadata on every call (refreshed once after UNAUTHENTICATED), and for grpcs:// or any
configured TLS file the CA bundle and client chain as channel credentials.

grpcio is an optional extra: `pip install 'assistant-cli[grpc]'`.

grpcio and the generated stubs are imported inside functions: gRPC is an optional extra
(`pip install assistant-cli[grpc]`), and the rest of the CLI never needs it.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

from assistant_cli.config.models import ProviderConfig
from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import (
    ChatRequest,
    Finished,
    Provider,
    ResponseInfo,
    SecretResolver,
    StreamEvent,
    TextDelta,
    estimated_usage,
)
from assistant_cli.providers.errors import stalled_error

log = logging.getLogger("assistant_cli.providers.grpc")

INSTALL_HINT = "pip install 'assistant-cli[grpc]'"
ROLE_LABELS = {"system": "System", "user": "User", "assistant": "Assistant"}

# gRPC status name -> (error kind, what to do about it).
STATUS_KINDS: dict[str, tuple[str, str]] = {
    "UNAUTHENTICATED": ("auth", "check the token in providers.{n}.api_key (sent as "
                        "`authorization: Bearer` metadata) or the client certificate"),
    "PERMISSION_DENIED": ("auth", "the credentials are valid but not allowed to use this "
                          "model; ask the service's operator"),
    "RESOURCE_EXHAUSTED": ("rate_limit", "wait, lower the request rate, or add a fallback "
                           "provider"),
    "UNAVAILABLE": ("network", "check that the service is running and that network policy "
                    "or a firewall lets {target} through"),
    "DEADLINE_EXCEEDED": ("network", "the service did not answer in time; raise "
                          "providers.{n}.timeout or check its load"),
    "CANCELLED": ("network", "the call was cut off; retry"),
    "NOT_FOUND": ("not_found", "check providers.{n}.model against the models the server "
                  "has loaded"),
    "INVALID_ARGUMENT": ("bad_request", "check providers.{n}.input_tensor and output_tensor "
                         "against the model's configuration"),
    "FAILED_PRECONDITION": ("bad_request", "check the model's configuration on the server"),
    "OUT_OF_RANGE": ("bad_request", "lower providers.{n}.max_tokens"),
    "UNIMPLEMENTED": ("bad_request", "the server lacks this call; for servers without "
                      "ModelStreamInfer set providers.{n}.stream: false"),
}


def load_grpc(name: str) -> tuple[Any, Any, Any]:
    """(grpc, messages module, stubs module), or a ProviderError naming the install command."""
    try:
        import grpc
        import grpc.aio  # a submodule: binds grpc.aio

        from assistant_cli.providers.proto import grpc_predict_v2_pb2 as pb
        from assistant_cli.providers.proto import grpc_predict_v2_pb2_grpc as pb_grpc
    except ImportError as exc:
        raise ProviderError(
            f"{name}: kind 'grpc' needs the optional gRPC support, which is not installed "
            f"({exc}); install it with: {INSTALL_HINT}", kind="bad_request", provider=name,
            hint=f"{INSTALL_HINT} (adds grpcio and protobuf), or remove providers.{name}",
        ) from None
    return grpc, pb, pb_grpc


def parse_target(name: str, base_url: str) -> tuple[str, bool]:
    """(host:port, use TLS) from grpc://, grpcs://, http(s):// or a bare host:port."""
    text = base_url.strip()
    parts = urlsplit(text if "://" in text else f"grpc://{text}")
    tls = parts.scheme in ("grpcs", "https")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("grpc", "grpcs", "http", "https") or not parts.hostname or (
        port == -1
    ) or parts.path.strip("/"):
        raise ProviderError(
            f"providers.{name}.base_url: {base_url!r} is not a gRPC address", kind="bad_request",
            provider=name,
            hint="write grpc://HOST:PORT (plain) or grpcs://HOST:PORT (TLS), e.g. "
            "grpc://127.0.0.1:8001",
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port or (443 if tls else 8001)}", tls


def transcript(request: ChatRequest) -> str:
    """The conversation as one prompt, ending where the assistant's answer should start."""
    lines = [f"{ROLE_LABELS.get(t.role, t.role.title())}: {t.content}" for t in request.turns]
    return "\n".join([*lines, "Assistant:"])


def split_bytes_tensor(raw: bytes) -> list[bytes]:
    """Elements of a BYTES tensor in raw form: each a 4-byte little-endian length + data."""
    out, i = [], 0
    while i + 4 <= len(raw):
        size = int.from_bytes(raw[i:i + 4], "little")
        out.append(raw[i + 4:i + 4 + size])
        i += 4 + size
    return out


class KServeGrpcProvider(Provider):
    """Open Inference Protocol v2 over gRPC, streaming through ModelStreamInfer."""

    url_schemes: ClassVar[tuple[str, ...] | None] = ("grpc", "grpcs", "http", "https")

    @classmethod
    def base_url_problem(cls, url: str) -> str | None:
        try:
            parse_target("", url)
        except ProviderError as exc:
            return exc.hint
        return None

    def __init__(self, name: str, config: ProviderConfig, resolve_secret: SecretResolver) -> None:
        super().__init__(name, config, resolve_secret)
        self.grpc, self.pb, self.pb_grpc = load_grpc(name)
        self.target, tls = parse_target(name, config.base_url)
        self.secure = tls or self.auth.tls.custom
        self._channel: Any = None
        self._stub: Any = None

    # ------------------------------------------------------------------ plumbing

    @property
    def stub(self) -> Any:
        if self._stub is None:
            grpc = self.grpc
            if self.secure:
                creds = grpc.ssl_channel_credentials(*self.auth.tls_bytes())
                self._channel = grpc.aio.secure_channel(self.target, creds)
            else:
                self._channel = grpc.aio.insecure_channel(self.target)
            self._stub = self.pb_grpc.GRPCInferenceServiceStub(self._channel)
        return self._stub

    async def metadata(self) -> list[tuple[str, str]]:
        """Configured headers and credentials, as metadata (whose keys must be lowercase)."""
        headers = {**self.config.headers, **await self.auth.headers()}
        return [(k.lower(), v) for k, v in headers.items()]

    async def _renewed(self, exc: Any) -> bool:
        """After UNAUTHENTICATED: True when a new OAuth token makes one retry worthwhile."""
        return bool(exc.code() == self.grpc.StatusCode.UNAUTHENTICATED
                    and await self.auth.refresh_after_401())

    def _note(self, started: float, *metadata: Any) -> None:
        """Keep latency and response metadata (rate-limit headers from a gateway, say) for
        `providers test`; gRPC has no HTTP status to show."""
        headers = {str(k): v for md in metadata for k, v in (md or ()) if isinstance(v, str)}
        self.last_response = ResponseInfo(None, round((time.monotonic() - started) * 1000, 1),
                                          headers)

    def error(self, exc: Any, started: float | None = None) -> ProviderError:
        """A ProviderError for a failed call (grpc.aio.AioRpcError)."""
        if started is not None:
            self._note(started, exc.initial_metadata(), exc.trailing_metadata())
        code = exc.code()
        status = getattr(code, "name", str(code))
        kind, hint = STATUS_KINDS.get(status, ("overload", "the service failed; retry later "
                                               "or add a fallback provider"))
        what = "timed out" if status == "DEADLINE_EXCEEDED" else f"failed ({status})"
        details = str(exc.details() or "")
        if status == "UNAVAILABLE" and "handshake failed" in details.lower():
            # Like a REST TLS failure: retrying cannot fix trust.
            kind, hint = "auth", ("check providers.{n}.ca_file (the CA that signed the "
                                  "server's certificate) and, for mutual TLS, cert_file/key_file")
        elif status == "UNAVAILABLE" and self.secure and not self.auth.tls.client_auth:
            hint += "; if the server requires a client certificate, set cert_file and key_file"
        error = ProviderError(
            f"{self.name}: {self.target} {what}: {details or 'no details'}", kind=kind,
            provider=self.name, hint=hint.format(n=self.name, target=self.target),
        )
        if status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return self.auth.refused(error, status)
        return self.auth.annotate(error)

    def infer_request(self, request: ChatRequest, *, streaming: bool) -> Any:
        req = self.pb.ModelInferRequest(model_name=self.config.model, id=uuid.uuid4().hex)

        def add(name: str, datatype: str) -> Any:
            return req.inputs.add(name=name, datatype=datatype, shape=[1, 1]).contents

        add(self.config.input_tensor, "BYTES").bytes_contents.append(
            transcript(request).encode("utf-8")
        )
        if streaming:
            add("stream", "BOOL").bool_contents.append(True)
        max_tokens = self.max_tokens_for(request)
        if max_tokens:
            add("max_tokens", "INT32").int_contents.append(max_tokens)
        temperature = self.temperature_for(request)
        if temperature is not None:
            add("temperature", "FP32").fp32_contents.append(temperature)
        req.outputs.add(name=self.config.output_tensor)
        return req

    def output_bytes(self, response: Any) -> bytes | None:
        """The answer tensor's bytes; None for a response without outputs (a final marker)."""
        if not response.outputs:
            return None
        for index, out in enumerate(response.outputs):
            if out.name == self.config.output_tensor:
                if response.raw_output_contents:
                    return b"".join(split_bytes_tensor(response.raw_output_contents[index]))
                return b"".join(out.contents.bytes_contents)
        names = ", ".join(o.name for o in response.outputs)
        raise ProviderError(
            f"{self.name}: the model sent no output tensor {self.config.output_tensor!r} "
            f"(it sent: {names})", kind="bad_request", provider=self.name,
            hint=f"set providers.{self.name}.output_tensor to one of: {names}",
        )

    # ------------------------------------------------------------------- calls

    async def check_ready(self) -> None:
        """Raise a ProviderError unless the server and the configured model are ready."""
        server = await self._unary("ServerReady", self.pb.ServerReadyRequest())
        model = await self._unary(
            "ModelReady", self.pb.ModelReadyRequest(name=self.config.model)
        ) if server.ready else None
        if not server.ready:
            raise ProviderError(
                f"{self.name}: {self.target} is up but not ready to serve", kind="overload",
                provider=self.name, hint="wait for the server to finish loading, then retry",
            )
        if model is not None and not model.ready:
            raise ProviderError(
                f"{self.name}: model {self.config.model!r} is not ready on {self.target}",
                kind="not_found", provider=self.name,
                hint=f"check providers.{self.name}.model against the models the server "
                "has loaded",
            )

    async def health_check(self) -> ResponseInfo:
        """ServerReady, then ModelReady for the configured model."""
        await self.check_ready()
        assert self.last_response is not None
        return self.last_response

    async def _unary(self, rpc: str, message: Any) -> Any:
        """One short unary call with credentials, retried once after a token refresh."""
        retried = False
        while True:
            started = time.monotonic()
            call = getattr(self.stub, rpc)(message, metadata=await self.metadata(),
                                           timeout=min(10.0, self.config.timeout))
            try:
                response = await call
            except self.grpc.aio.AioRpcError as exc:
                if not retried and await self._renewed(exc):
                    retried = True
                    continue
                raise self.error(exc, started) from None
            self._note(started, await call.initial_metadata())
            return response

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        started = time.monotonic()
        produced: list[str] = []
        model: str | None = None
        for attempt in (1, 2):
            try:
                pieces = self._streamed(request) if self.config.stream else (
                    self._single(request))
                async for text, model_name in pieces:
                    model = model_name or model
                    if text:
                        produced.append(text)
                        yield TextDelta(text)
                break
            except self.grpc.aio.AioRpcError as exc:
                # Nothing reached the user yet, so a refused token can be renewed and retried.
                if attempt == 1 and not produced and await self._renewed(exc):
                    continue
                raise self.error(exc, started) from None
        log.info("%s answered", self.name, extra={"event": "provider.response", "fields": {
            "provider": self.name, "status": "OK",
            "latency_ms": round((time.monotonic() - started) * 1000, 1)}})
        # The protocol has no usage fields, so token counts are estimates.
        yield Finished("stop", estimated_usage(request, produced), model)

    async def _single(self, request: ChatRequest) -> AsyncIterator[tuple[str, str | None]]:
        started = time.monotonic()
        call = self.stub.ModelInfer(
            self.infer_request(request, streaming=False), metadata=await self.metadata(),
            timeout=self.config.timeout,
        )
        response = await call
        self._note(started, await call.initial_metadata())
        data = self.output_bytes(response) or b""
        yield data.decode("utf-8", errors="replace"), response.model_name or None

    async def _streamed(self, request: ChatRequest) -> AsyncIterator[tuple[str, str | None]]:
        started = time.monotonic()
        call = self.stub.ModelStreamInfer(metadata=await self.metadata())
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        sent = ""  # cumulative mode: the text passed on so far
        first = True
        try:
            await call.write(self.infer_request(request, streaming=True))
            # One request per call: closing our side lets the server end the stream once
            # the (decoupled) model has sent its last response.
            await call.done_writing()
            while True:
                try:
                    message = await asyncio.wait_for(call.read(), timeout=self.config.timeout)
                except asyncio.TimeoutError:
                    raise stalled_error(self.name, self.target, self.config.timeout) from None
                if first:
                    first = False
                    self._note(started, await call.initial_metadata())
                if message is self.grpc.aio.EOF:
                    break
                if message.error_message:
                    raise self._stream_error(message.error_message)
                response = message.infer_response
                data = self.output_bytes(response)
                if data is not None:
                    if self.config.cumulative:
                        text = data.decode("utf-8", errors="replace")
                        piece = ""
                        # Text already shown cannot be taken back; a rewrite is skipped.
                        if text.startswith(sent):
                            piece, sent = text[len(sent):], text
                    else:
                        piece = decoder.decode(data)
                    yield piece, response.model_name or None
                final = response.parameters.get("triton_final_response")
                if final is not None and final.bool_param:
                    break
            yield decoder.decode(b"", final=True), None
        finally:
            call.cancel()

    def _stream_error(self, message: str) -> ProviderError:
        """Classify an error_message from the stream by its wording (it has no code)."""
        lower = message.lower()
        if "unknown model" in lower or "not found" in lower:
            kind, hint = "not_found", f"check providers.{self.name}.model"
        elif "unexpected inference input" in lower or "invalid" in lower or "shape" in lower:
            kind, hint = "bad_request", (
                f"check providers.{self.name}.input_tensor and output_tensor against the "
                "model's configuration")
        else:
            kind, hint = "overload", "the model failed; retry later or add a fallback provider"
        return ProviderError(f"{self.name} failed mid-answer: {message}", kind=kind,
                             provider=self.name, hint=hint)

    async def aclose(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None
