"""docs/deploy/nginx.conf is a working nginx configuration (`nginx -t`), where nginx exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fakes.pki import make_pki

EXAMPLE = ROOT / "docs" / "deploy" / "nginx.conf"


def test_the_example_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    for needed in ("proxy_set_header Upgrade", "location /webhooks/", "location = /ws",
                   "X-Forwarded-For   $remote_addr", "127.0.0.1:8080"):
        assert needed in text
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if nginx is None:
        pytest.skip("nginx is not installed: the example was not checked with nginx -t")
    pki = make_pki(tmp_path / "pki")
    # The documented edit: point the two certificate lines at real files.
    site = text.replace("/etc/letsencrypt/live/assistant.example.com/fullchain.pem",
                        pki.path("server.pem")).replace(
        "/etc/letsencrypt/live/assistant.example.com/privkey.pem", pki.path("server.key"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n")
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "[warn]" not in done.stderr, done.stderr


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
