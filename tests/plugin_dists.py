"""Installing throwaway plugin packages for a test: a module plus a *.dist-info with entry
points, on a temporary sys.path entry, found by importlib.metadata like any installed one."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from assistant_cli.plugins import registry


def install_fake_dist(root: Path, monkeypatch: pytest.MonkeyPatch, package: str,
                      entry_points: dict[str, dict[str, str]], modules: dict[str, str]) -> None:
    """`entry_points` is {group: {name: "module:attr"}}; `modules` is {name: source}."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{package.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    lines = []
    for group, eps in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in eps.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(root))
    registry.available.cache_clear()  # callers clear it again after the test
