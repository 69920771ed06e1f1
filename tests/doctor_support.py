"""Helpers shared by the doctor and rotation tests: configs, running checks, free ports."""

from __future__ import annotations

import socket
import textwrap

from assistant_cli.doctor.base import DoctorContext, Result
from assistant_cli.doctor.runner import Outcome, run
from assistant_cli.paths import Paths, resolve

JWT = "j" * 40  # a gateway secret long enough to pass


def write_config(text: str, mode: int = 0o600) -> Paths:
    """Write config.yaml into the test's home and return the resolved paths."""
    paths = resolve()
    paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    paths.config_file.chmod(mode)
    return paths


def outcomes(*only: str, timeout: float = 3.0, offline: bool = False,
             fix: bool = False) -> dict[str, Outcome]:
    """Run the selected checks in-process; outcomes by check id."""
    ctx = DoctorContext(resolve(), offline=offline, timeout=timeout)
    return {o.check.id: o for o in run(ctx, only=list(only) or None, fix=fix)}


def result(check_id: str, *, timeout: float = 3.0, offline: bool = False) -> Result:
    """The result of one check."""
    return outcomes(check_id, timeout=timeout, offline=offline)[check_id].result


def free_port() -> int:
    """A loopback port nobody listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
