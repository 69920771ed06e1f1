"""docs/replicas.md's files: the nginx upstream over N replicas passes `nginx -t`, the
systemd template unit passes `systemd-analyze verify` (each where installed), they agree on
ports, and the guide's config block is a valid config for the PostgreSQL state."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.nginx_check import nginx_accepts

DEPLOY = ROOT / "docs" / "deploy"
NGINX = DEPLOY / "nginx-replicas.conf"
UNIT = DEPLOY / "assistant-cli@.service"
GUIDE = ROOT / "docs" / "replicas.md"


def test_nginx_balances_webhooks_and_the_websocket_over_the_replicas(tmp_path: Path) -> None:
    text = NGINX.read_text()
    ports = re.findall(r"server 127\.0\.0\.1:(\d+)", text)
    assert ports == ["8081", "8082", "8083"]
    for needed in ("location /webhooks/", "proxy_next_upstream error timeout http_502 "
                   "http_503 non_idempotent", "location = /ws", "proxy_set_header Upgrade",
                   "ssl_certificate ", "X-Forwarded-For   $remote_addr"):
        assert needed in text
    nginx_accepts(text, tmp_path)


def test_the_template_unit_runs_one_named_replica_per_instance(tmp_path: Path) -> None:
    unit = UNIT.read_text()
    [exec_start] = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert "serve --role ${ROLE} --replica %H-%i --port 808%i" in exec_start
    assert "LoadCredential=assistant-cli-keyring-password:" in unit
    assert "PASSWORD=" not in unit and "postgresql://" not in unit  # no secret, no URL
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: the unit was not verified")
    # The documented install puts the CLI in ~/.local/bin; here, this interpreter runs it.
    here = unit.replace("%h/.local/bin/assistant-cli", f"{sys.executable} -m assistant_cli")
    (tmp_path / "assistant-cli@.service").write_text(here)
    instance = tmp_path / "assistant-cli@2.service"
    instance.symlink_to(tmp_path / "assistant-cli@.service")
    done = subprocess.run(["systemd-analyze", "verify", str(instance)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "assistant-cli@" not in done.stderr, done.stderr


def test_the_guide_config_is_valid_and_its_numbers_agree(tmp_path: Path) -> None:
    from assistant_cli.config.loader import load_config

    guide = GUIDE.read_text()
    [block] = re.findall(r"```yaml\n(.*?)```", guide, re.S)
    (tmp_path / "config.yaml").write_text(block)
    config = load_config(tmp_path / "config.yaml")
    assert config.state.url is not None and config.state.url.startswith("postgresql://")
    assert config.state.password == "keyring:postgres_password"
    assert config.gateway.trusted_proxies == ["127.0.0.1"]
    for needed in ("max_connections", "synchronous_commit", "nginx-replicas.conf",
                   "assistant-cli@.service", "--role", "LoadCredential", "kill -9"):
        assert needed in guide, needed
