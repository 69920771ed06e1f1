"""The floors of docs/ARCHITECTURE.md hold, and no two modules import each other.

The floors are import-linter contracts in pyproject.toml (`[tool.importlinter]`); a wrong
arrow fails here with import-linter's report, which names the importing line. Cycles are
found by our own walk of the source, because it must count imports inside functions, which
are the ones that hid the cycles before.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "assistant_cli"


def test_every_package_depends_downward_only() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Contracts: 2 kept, 0 broken." in run.stdout, run.stdout


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:` (imported for annotations only)."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return hidden


def imported_modules(path: Path, root: Path, known: set[str]) -> Iterator[str]:
    """Our modules that `path` imports anywhere (functions included, TYPE_CHECKING not)."""
    tree = ast.parse(path.read_text(), str(path))
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    hidden = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target in known and target != me:
                yield target


def import_graph(root: Path) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    known = set(paths)
    return {name: set(imported_modules(path, root, known)) for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def describe(group: list[str], graph: dict[str, set[str]]) -> str:
    return "\n".join(f"  {a} -> {b}" for a in group for b in sorted(graph[a]) if b in group)


def test_no_import_cycles_even_counting_imports_inside_functions() -> None:
    graph = import_graph(PACKAGE)
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n\n".join(describe(g, graph) for g in found)


def test_the_cycle_finder_sees_an_import_hidden_in_a_function(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    (pkg / "d.py").write_text("import pkg.c\n")
    graph = import_graph(pkg)
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
    assert graph["pkg.c"] == set() and graph["pkg.d"] == {"pkg.c"}


def function_level_imports(path: Path) -> list[str]:
    """`line: module` of each import inside a function (TYPE_CHECKING blocks aside)."""
    tree = ast.parse(path.read_text(), str(path))
    hidden = _type_checking_only(tree)
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in hidden:
                    name = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                    found.append(f"{node.lineno}: {name}")
    return found


def test_imports_inside_functions_are_explained_in_the_module_docstring() -> None:
    """Only for start-up time or optional extras; the CLI's lazy commands say so once, in
    cli/__init__.py."""
    cli_doc = ast.get_docstring(ast.parse((PACKAGE / "cli" / "__init__.py").read_text()))
    assert cli_doc is not None and "inside their command functions" in cli_doc
    unexplained = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("cli", "proto") or "proto" in rel.parts:
            continue
        found = function_level_imports(path)
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if found and "inside functions" not in doc:
            unexplained[str(rel)] = found
    assert not unexplained, (
        "imports inside functions without a reason in the module docstring (move them to "
        f"the top, or say why they are lazy): {unexplained}")


def body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the end: a Typer command's
    signature is its interface, so it does not count."""
    body = fn.body
    if (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str) and len(body) > 1):
        body = body[1:]
    return (fn.end_lineno or fn.lineno) - body[0].lineno + 1


def test_no_function_is_longer_than_a_screen() -> None:
    """House rule: a function reads at once (about 60 lines); ruff's C901 holds complexity."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "proto" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and body_lines(node) > 60:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} "
                            f"({body_lines(node)} lines)")
    assert not long, "split these into named steps:\n" + "\n".join(long)


def test_every_package_has_a_floor() -> None:
    """A package in no layer would be checked by nothing."""
    # Read by pattern: tomllib is Python 3.11+, and the floors are one plain list.
    block = re.search(r"^layers = \[\n(.*?)^\]", (ROOT / "pyproject.toml").read_text(),
                      re.M | re.S)
    assert block is not None
    layers = re.findall(r'"([^"]+)"', block.group(1))
    placed = {name.strip() for layer in layers for name in layer.replace("|", ":").split(":")}
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages <= placed, (f"give {sorted(packages - placed)} a floor in "
                                "[tool.importlinter] (pyproject.toml) and docs/ARCHITECTURE.md")
