"""The proxy the environment chooses for a URL.

aiohttp's `trust_env` re-reads the proxy variables (and .netrc) in a thread on every
request; channels ask here once per client and origin instead.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit


def env_proxy(url: str) -> str | None:
    """What HTTPS_PROXY / HTTP_PROXY / NO_PROXY choose for `url`, as httpx would."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")
