"""Loopback fake of a KServe v2 / Triton gRPC inference server (grpc.aio, from our stubs).

Serves `inference.GRPCInferenceService`: ServerReady, ModelReady, ModelInfer and Triton's
ModelStreamInfer, for one text model with a BYTES input and output, the way Triton's
TensorRT-LLM ensemble looks from outside (shape [1, 1], deltas when streaming).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

import grpc
import grpc.aio

from assistant_cli.providers.proto import grpc_predict_v2_pb2 as pb
from assistant_cli.providers.proto import grpc_predict_v2_pb2_grpc as pb_grpc
from tests.fakes.loop_thread import Hang, HangAfter, ThreadedFake
from tests.fakes.openai_server import split_tokens


@dataclass(frozen=True)
class Reply:
    """Answer with this text (streamed token by token on ModelStreamInfer)."""

    text: str


@dataclass(frozen=True)
class Abort:
    """End the call with this gRPC status."""

    code: grpc.StatusCode
    details: str = "scripted failure"


@dataclass(frozen=True)
class StreamError:
    """Stream `after` pieces, then a ModelStreamInferResponse with error_message set."""

    message: str
    after: int = 1
    text: str = "partial answer that breaks off"


Behaviour: TypeAlias = Reply | Abort | StreamError | Hang | HangAfter


@dataclass(frozen=True)
class Recorded:
    """One inference request and the metadata it came with."""

    rpc: str
    request: Any  # pb.ModelInferRequest
    metadata: dict[str, str]

    def input(self, name: str) -> Any:
        return next(t for t in self.request.inputs if t.name == name)

    @property
    def prompt(self) -> str:
        return bytes(self.input("text_input").contents.bytes_contents[0]).decode()


class FakeKServe(ThreadedFake[Behaviour, Recorded]):
    """A grpc.aio inference server on 127.0.0.1 (TLS when given server credentials)."""

    def __init__(self, *, model: str = "ensemble", api_key: str | None = "grpc-test-token",
                 input_tensor: str = "text_input", output_tensor: str = "text_output",
                 cumulative: bool = False, raw_output: bool = False,
                 final_marker: bool = False, token_delay: float = 0.0,
                 credentials: Any = None, script: Iterable[Behaviour] = (), port: int = 0
                 ) -> None:
        super().__init__(script, port)
        self.model, self.api_key = model, api_key
        self.input_tensor, self.output_tensor = input_tensor, output_tensor
        self.cumulative = cumulative  # each piece repeats the whole text so far
        self.raw_output = raw_output  # answers in raw_output_contents, as Triton does
        self.final_marker = final_marker  # end with an empty triton_final_response
        self.token_delay = token_delay
        self.server_ready = True
        self.model_ready = True
        # ServerReady/ModelReady ask for credentials too, as behind an authenticating proxy.
        self.guard_readiness = False
        self.credentials = credentials
        self._server: grpc.aio.Server | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"grpc{'s' if self.credentials else ''}://{self.target}"

    def reply(self, prompt: str) -> str:
        """Echo the last `User:` line of the transcript (tests may replace this)."""
        users = [ln[len("User: "):] for ln in prompt.splitlines() if ln.startswith("User: ")]
        return "echo: " + (users[-1] if users else "")

    async def _startup(self) -> int:
        server = grpc.aio.server()
        register: Any = pb_grpc.add_GRPCInferenceServiceServicer_to_server
        register(_Servicer(self), server)
        address = f"127.0.0.1:{self._port}"
        if self.credentials is not None:
            port: int = server.add_secure_port(address, self.credentials)
        else:
            port = server.add_insecure_port(address)
        await server.start()
        self._server = server
        return port

    async def _shutdown(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=0.2)
            self._server = None

    # ------------------------------------------------------------- behaviour

    async def check_credentials(self, context: grpc.aio.ServicerContext) -> None:
        """Abort with UNAUTHENTICATED unless the call carries the bearer token."""
        if self.api_key is not None:
            md = dict(context.invocation_metadata() or ())
            if md.get("authorization") != f"Bearer {self.api_key}":
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid bearer token")

    async def check(self, request: Any, context: grpc.aio.ServicerContext) -> None:
        """The checks Triton makes before it runs a model; aborts the call on failure."""
        await self.check_credentials(context)
        if request.model_name != self.model:
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"Request for unknown model: '{request.model_name}' is not found")
        names = {t.name for t in request.inputs}
        if self.input_tensor not in names:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"[request id: {request.id}] expected input "
                                f"'{self.input_tensor}' for model '{self.model}'")
        unexpected = names - {self.input_tensor, "max_tokens", "stream", "temperature"}
        if unexpected:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"unexpected inference input '{sorted(unexpected)[0]}' for "
                                f"model '{self.model}'")

    def response(self, request: Any, text: str, *, final: bool = False) -> Any:
        out = pb.ModelInferResponse(model_name=self.model, model_version="1", id=request.id)
        tensor = out.outputs.add(name=self.output_tensor, datatype="BYTES", shape=[1, 1])
        data = text.encode()
        if self.raw_output:
            out.raw_output_contents.append(len(data).to_bytes(4, "little") + data)
        else:
            tensor.contents.bytes_contents.append(data)
        if final:
            out.parameters["triton_final_response"].bool_param = True
        return out

    def record(self, rpc: str, request: Any, context: grpc.aio.ServicerContext) -> None:
        md = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        copy = pb.ModelInferRequest()
        copy.CopyFrom(request)
        self._record(Recorded(rpc, copy, md))


class _Servicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, fake: FakeKServe) -> None:
        self.fake = fake

    async def ServerReady(self, request: Any, context: Any) -> Any:
        if self.fake.guard_readiness:
            await self.fake.check_credentials(context)
        return pb.ServerReadyResponse(ready=self.fake.server_ready)

    async def ModelReady(self, request: Any, context: Any) -> Any:
        if self.fake.guard_readiness:
            await self.fake.check_credentials(context)
        return pb.ModelReadyResponse(
            ready=self.fake.model_ready and request.name == self.fake.model)

    async def ModelInfer(self, request: Any, context: Any) -> Any:
        fake = self.fake
        fake.record("ModelInfer", request, context)
        await fake.check(request, context)
        behaviour = fake._next()
        if isinstance(behaviour, Abort):
            await context.abort(behaviour.code, behaviour.details)
        if isinstance(behaviour, (Hang, HangAfter)):
            await fake._stall()
        text = behaviour.text if isinstance(behaviour, Reply) else fake.reply(_prompt(request))
        return fake.response(request, text)

    async def ModelStreamInfer(
        self, request_iterator: AsyncIterator[Any], context: Any
    ) -> AsyncIterator[Any]:
        fake = self.fake
        async for request in request_iterator:
            fake.record("ModelStreamInfer", request, context)
            await fake.check(request, context)
            behaviour = fake._next()
            if isinstance(behaviour, Abort):
                await context.abort(behaviour.code, behaviour.details)
            if isinstance(behaviour, Hang):
                await fake._stall()
            scripted = behaviour.text if isinstance(
                behaviour, (Reply, StreamError, HangAfter)) else None
            # Unscripted, or a HangAfter of the usual reply: the echo.
            text = scripted if scripted is not None else fake.reply(_prompt(request))
            tokens = split_tokens(text)
            if isinstance(behaviour, StreamError):
                tokens = tokens[:behaviour.after]
            elif isinstance(behaviour, HangAfter):
                tokens = tokens[:behaviour.n_tokens]
            sent = ""
            for token in tokens:
                if fake.token_delay:
                    await asyncio.sleep(fake.token_delay)
                sent += token
                piece = sent if fake.cumulative else token
                yield pb.ModelStreamInferResponse(infer_response=fake.response(request, piece))
            if isinstance(behaviour, StreamError):
                yield pb.ModelStreamInferResponse(error_message=behaviour.message)
                continue
            if isinstance(behaviour, HangAfter):
                await fake._stall()
            if fake.final_marker:
                final = pb.ModelInferResponse(model_name=fake.model, id=request.id)
                final.parameters["triton_final_response"].bool_param = True
                yield pb.ModelStreamInferResponse(infer_response=final)


def _prompt(request: Any) -> str:
    for tensor in request.inputs:
        if tensor.datatype == "BYTES" and tensor.contents.bytes_contents:
            return bytes(tensor.contents.bytes_contents[0]).decode("utf-8", "replace")
    return ""


__all__ = ["Abort", "FakeKServe", "Hang", "HangAfter", "Recorded", "Reply", "StreamError"]
