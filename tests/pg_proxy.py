"""A TCP front for the test PostgreSQL server that a test can cut and restore.

`serve` is pointed at 127.0.0.1:PORT; `cut()` drops every open connection and refuses new
ones (the database "goes away" for the replica, as a network or server outage would), and
`restore()` listens on the same port again. Runs in a background thread with its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import socket
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


def socket_path(uri: str) -> str:
    """The Unix socket of a `postgresql://...?host=/dir` URI from tests/pg_server.py."""
    host = parse_qs(urlsplit(uri).query)["host"][0]
    found = glob.glob(str(Path(host) / ".s.PGSQL.*"))
    found = [f for f in found if not f.endswith(".lock")]
    assert found, f"no PostgreSQL socket in {host}"
    return found[0]


class PgProxy:
    """127.0.0.1:`port` → the server's Unix socket, until cut."""

    def __init__(self, uri: str) -> None:
        self.target = socket_path(uri)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.restore()

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]

    def restore(self) -> None:
        async def listen() -> None:
            self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port,
                                                      reuse_address=True)
        self._call(listen())

    def cut(self) -> None:
        async def drop() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()
        self._call(drop())

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._writers.difference_update((writer, up_writer))
