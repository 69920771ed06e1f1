"""A loopback package index: PEP 691 JSON project list, PEP 503 simple pages for pip, and
the `/pypi/<name>/json` API, serving wheels from a directory."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class FakeIndex:
    """`projects` is name → JSON info (version, summary, keywords); wheels from `files`."""

    def __init__(self, projects: dict[str, dict[str, Any]], files: Path | None = None) -> None:
        self.projects = projects
        self.files = files
        self.paths: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                index.paths.append(self.path)
                status, kind, body = index.answer(self.path, self.headers.get("Accept", ""))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, accept: str) -> tuple[int, str, bytes]:
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts == ["simple"] and "json" in accept:
            body = {"meta": {"api-version": "1.0"},
                    "projects": [{"name": n} for n in self.projects]}
            return 200, "application/vnd.pypi.simple.v1+json", json.dumps(body).encode()
        if len(parts) == 2 and parts[0] == "simple" and self.files is not None:
            stem = parts[1].replace("-", "_")
            links = "".join(f'<a href="/files/{w.name}">{w.name}</a>\n'
                            for w in self.files.glob(f"{stem}-*.whl"))
            return 200, "text/html", f"<html><body>{links}</body></html>".encode()
        if len(parts) == 2 and parts[0] == "files" and self.files is not None:
            wheel = self.files / parts[1]
            if wheel.is_file():
                return 200, "application/octet-stream", wheel.read_bytes()
        if len(parts) == 3 and parts[0] == "pypi" and parts[1] in self.projects:
            info: dict[str, Any] = {"name": parts[1]}
            info.update(self.projects[parts[1]])
            body = {"info": info}
            return 200, "application/json", json.dumps(body).encode()
        return 404, "text/plain", b"not found"

    def __enter__(self) -> FakeIndex:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
