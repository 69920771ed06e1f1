"""assistant-cli: a self-hosted AI assistant gateway driven from the terminal."""

import sys

__version__ = "0.1.0"

# httpx's package imports its own command-line client (`httpx._main`: click, rich's console
# and pygments' lexers) whenever those happen to be installed, as they are here. That costs
# `serve` about 6 MB of memory and the CLI ~50 ms for a program nobody runs from here. An
# entry of None makes that import fail, and httpx falls back to its stub `main` (its
# documented behaviour without the `httpx[cli]` extra). Nothing else of httpx changes.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
