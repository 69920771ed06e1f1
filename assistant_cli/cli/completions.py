"""Static shell completion scripts (bash, zsh, fish) generated from the command tree.

Static scripts complete instantly (no Python start per Tab press). `completions/` in the
repository holds the generated files; a test fails when they drift from the tree.
Regenerate with: python -m assistant_cli.cli.completions completions/
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROG = "assistant-cli"
SHELLS = ("bash", "zsh", "fish")


@dataclass
class Node:
    """One command: its path from the root, options, subcommands and help line."""

    path: tuple[str, ...]
    help: str
    options: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    # option → shell command printing its values ("" = a free value: complete nothing)
    values: dict[str, str] = field(default_factory=dict)
    argument: str | None = None  # shell command printing values for the argument


def tree() -> Node:
    import typer.main

    from assistant_cli.cli.app import app

    return _walk(typer.main.get_command(app), ())


def _walk(cmd: Any, path: tuple[str, ...]) -> Node:
    from assistant_cli.cli.completion_values import argument_values, option_values

    known = option_values(path)
    options: list[str] = []
    values: dict[str, str] = {}
    for param in cmd.params:
        if getattr(param, "param_type_name", "") == "option" and not param.hidden:
            names = [o for o in [*param.opts, *param.secondary_opts] if o.startswith("--")]
            options += names
            if not param.is_flag:
                values.update({n: known.get(n, "") for n in names})
    options.append("--help")
    help_line = (cmd.help or "").strip().split("\n")[0].replace("`", "")
    has_arg = any(getattr(p, "param_type_name", "") == "argument" for p in cmd.params)
    node = Node(path, help_line, sorted(set(options)), values=values,
                argument=argument_values(path) if has_arg else None)
    for name, sub in _subcommands(cmd):
        if sub is not None and not sub.hidden:
            node.children.append(_walk(sub, (*path, name)))
    return node


def _subcommands(cmd: Any) -> list[tuple[str, Any]]:
    """A group's subcommands, sorted; lazy ones are loaded through the group's own lookup."""
    if not hasattr(cmd, "list_commands"):
        return []
    ctx = cmd.context_class(cmd)
    return sorted((name, cmd.get_command(ctx, name)) for name in cmd.list_commands(ctx))


def _nodes(root: Node) -> list[Node]:
    out = [root]
    for child in root.children:
        out += _nodes(child)
    return out


def _words(node: Node) -> str:
    return " ".join([*(c.path[-1] for c in node.children), *node.options])


def bash(root: Node) -> str:
    nodes = _nodes(root)
    known = "|".join(f'"/{"/".join(n.path)}"' for n in nodes if n.path)
    cases = "\n".join(
        f'        "{_key(n)}") words="{_words(n)}"{_bash_arg(n)} ;;'
        for n in nodes
    )
    value_cases = "\n".join(
        f'        "{_key(n)} {opt}") COMPREPLY=({_bash_values(cmd)}); return ;;'
        for n in nodes for opt, cmd in sorted(n.values.items()))
    return f"""# bash completion for {PROG} (generated; do not edit)
_assistant_cli() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" words="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "$path/${{COMP_WORDS[i]}}" in
            {known}) path="$path/${{COMP_WORDS[i]}}" ;;
        esac
    done
    case "$path ${{COMP_WORDS[COMP_CWORD-1]}}" in
{value_cases}
    esac
    case "$path" in
{cases}
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _assistant_cli {PROG}
"""


def _key(node: Node) -> str:
    return "/" + "/".join(node.path) if node.path else ""


def _bash_values(cmd: str) -> str:
    # An option with no known values completes nothing (not option names), except files.
    return f'$(compgen -W "$({cmd})" -- "$cur")' if cmd else '$(compgen -f -- "$cur")'


def _bash_arg(node: Node) -> str:
    if not node.argument:
        return ""
    return f'; [[ "$cur" != -* ]] && words="$({node.argument})"'


def zsh(root: Node) -> str:
    nodes = _nodes(root)
    known = "|".join(f'"/{"/".join(n.path)}"' for n in nodes if n.path)
    cases = []
    for n in nodes:
        key = "/" + "/".join(n.path) if n.path else ""
        items = [f"'{c.path[-1]}:{_quote(c.help)}'" for c in n.children]
        items += [f"'{o}'" for o in n.options]
        arg = (f'; [[ "${{words[CURRENT]}}" != -* ]] && compadd -- $({n.argument})'
               if n.argument else "")
        cases.append(f'        "{key}") items=({" ".join(items)}){arg} ;;')
    body = "\n".join(cases)
    value_cases = "\n".join(
        f'        "{_key(n)} {opt}") '
        + (f"compadd -- $({cmd}); return ;;" if cmd else "_files; return ;;")
        for n in nodes for opt, cmd in sorted(n.values.items()))
    return f"""#compdef {PROG}
# zsh completion for {PROG} (generated; do not edit)
_assistant_cli() {{
    local path="" i
    local -a items
    for ((i = 2; i < CURRENT; i++)); do
        case "$path/${{words[i]}}" in
            {known}) path="$path/${{words[i]}}" ;;
        esac
    done
    case "$path ${{words[CURRENT-1]}}" in
{value_cases}
    esac
    case "$path" in
{body}
    esac
    _describe -t commands '{PROG}' items
}}
compdef _assistant_cli {PROG}
"""


def fish(root: Node) -> str:
    lines = [f"# fish completion for {PROG} (generated; do not edit)",
             f"complete -c {PROG} -f"]
    for n in _nodes(root):
        names = " ".join(c.path[-1] for c in n.children)
        parts = [f"__fish_seen_subcommand_from {p}" for p in n.path]
        if not n.path:
            parts = ["__fish_use_subcommand"]
        if n.path and names:
            parts.append(f"not __fish_seen_subcommand_from {names}")
        cond_sub = "; and ".join(parts)
        for c in n.children:
            lines.append(f"complete -c {PROG} -n '{cond_sub}' -a {c.path[-1]} "
                         f"-d '{_quote(c.help)}'")
        for o in n.options:
            cmd = n.values.get(o)
            takes = "" if cmd is None else f" -xa '({cmd})'" if cmd else " -r -F"
            lines.append(f"complete -c {PROG} -n '{cond_sub}' -l {o[2:]}{takes}")
        if n.argument:
            lines.append(f"complete -c {PROG} -n '{cond_sub}' -a '({n.argument})'")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return text.replace("'", "").replace(":", " -")[:70]


def render(shell: str) -> str:
    root = tree()
    return {"bash": bash, "zsh": zsh, "fish": fish}[shell](root)


FILES = {"bash": f"{PROG}.bash", "zsh": f"_{PROG}", "fish": f"{PROG}.fish"}


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in FILES.items():
        path = directory / name
        path.write_text(render(shell), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "completions")):
        print(f"wrote {p}")
