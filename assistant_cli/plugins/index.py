"""`plugins search`: plugins published on a package index under the naming convention.

The convention: the PyPI name is `assistant-cli-<name>` and the package has the keyword
`assistant-cli-plugin`. Package indexes offer no search API, so this reads the index's
project list (PEP 691 JSON, `/simple/`), keeps the names with the prefix that contain the
term, and asks the JSON API (`/pypi/<name>/json`) about each of those.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import httpx

from assistant_cli.errors import AssistantError
from assistant_cli.plugins.scaffold import KEYWORD

PREFIX = "assistant-cli-"
MAX_RESULTS = 20
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class Published:
    """A plugin on the index."""

    name: str
    version: str
    summary: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def search(index_url: str, term: str, *, timeout: float = 20.0,
           transport: httpx.BaseTransport | None = None) -> list[Published]:
    """Plugins whose name contains `term` (case-insensitive), with the plugin keyword."""
    base = index_url.rstrip("/")
    wanted = term.lower().replace("_", "-")
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=True) as client:
            listing = _get(client, f"{base}/simple/", {"Accept": SIMPLE_JSON})
            names = sorted(p["name"] for p in listing.get("projects", [])
                           if _normal(p.get("name", "")).startswith(PREFIX)
                           and wanted in _normal(p.get("name", ""))[len(PREFIX):])
            found = []
            for name in names[:MAX_RESULTS]:
                info = _get(client, f"{base}/pypi/{name}/json", {}).get("info", {})
                if KEYWORD in _keywords(info.get("keywords")):
                    found.append(Published(name, str(info.get("version", "?")),
                                           str(info.get("summary") or "")))
            return found
    except httpx.HTTPError as exc:
        raise AssistantError(f"cannot search the package index at {base}: {exc}",
                             hint="check the network, or set plugins.index_url (or pass "
                                  "--index-url) to an index with a JSON API") from None


def _get(client: httpx.Client, url: str, headers: dict[str, str]) -> Any:
    response = client.get(url, headers=headers)
    if response.status_code != 200:
        raise AssistantError(f"the package index answered {response.status_code} for {url}",
                             hint="check plugins.index_url (or --index-url): it must offer "
                                  "/simple/ as JSON (PEP 691) and /pypi/<name>/json")
    try:
        return response.json()
    except ValueError:
        raise AssistantError(f"the package index sent no JSON for {url}",
                             hint="use an index with a JSON API (PEP 691), e.g. "
                                  "https://pypi.org") from None


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _keywords(value: Any) -> set[str]:
    if isinstance(value, list):
        return {str(v).strip() for v in value}
    return {k.strip() for k in str(value or "").replace(",", " ").split()}
