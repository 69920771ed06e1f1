"""docs/deploy/nginx.conf is a working nginx configuration (`nginx -t`), where nginx exists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT
from tests.nginx_check import nginx_accepts

EXAMPLE = ROOT / "docs" / "deploy" / "nginx.conf"


def test_the_example_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    for needed in ("proxy_set_header Upgrade", "location /webhooks/", "location = /ws",
                   "X-Forwarded-For   $remote_addr", "127.0.0.1:8080"):
        assert needed in text
    nginx_accepts(text, tmp_path)


def test_the_deploy_guide_config_trusts_nginx_and_is_a_valid_config(tmp_path: Path) -> None:
    """The guide's `gateway:` block loads, and names nginx as the one trusted proxy."""
    from assistant_cli.config.loader import load_config

    guide = (ROOT / "docs" / "deploy.md").read_text()
    [block] = re.findall(r"```yaml\n(.*?)```", guide, re.S)
    (tmp_path / "config.yaml").write_text(block)
    config = load_config(tmp_path / "config.yaml")
    assert config.gateway.trusted_proxies == ["127.0.0.1"]
    assert config.gateway.host == "127.0.0.1"
    assert "does not yet have a setting" not in guide
    assert "gateway.trusted_proxies" in EXAMPLE.read_text()
