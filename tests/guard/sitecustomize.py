"""Installs tests/netguard.py in subprocesses started with tests/guard on PYTHONPATH."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from pathlib import Path

_GUARD_DIR = Path(__file__).resolve().parent
_NETGUARD_PATH = _GUARD_DIR.parent / "netguard.py"


def _load_netguard() -> None:
    # Loaded by path so the child does not need the repository root importable;
    # registered under a private name so it cannot shadow an application module.
    spec = importlib.util.spec_from_file_location("_assistant_cli_test_netguard", _NETGUARD_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load network guard from {_NETGUARD_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.install()


def _chain_next_sitecustomize() -> None:
    # We shadow whatever sitecustomize (venv, distro) came later on sys.path;
    # run it too so the child behaves as it would outside the tests.
    from importlib.machinery import PathFinder

    def _is_ours(entry: str) -> bool:
        try:
            return Path(entry or os.curdir).resolve() == _GUARD_DIR
        except OSError:
            return False

    search = [entry for entry in sys.path if not _is_ours(entry)]
    spec = PathFinder.find_spec("sitecustomize", search)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    # Not ours to report: the child must stay silent, and the guard is already
    # active, which is what matters for the tests.
    with contextlib.suppress(Exception):
        spec.loader.exec_module(module)


# Guard first: an exception here must surface (site prints it) rather than
# leave the child silently unguarded.
_load_netguard()
_chain_next_sitecustomize()
