"""`assistant-cli gateway token` and the dashboard's local discovery of `serve`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from assistant_cli.cli.app import app
from assistant_cli.config.models import GatewayConfig
from assistant_cli.errors import StateError, UsageError
from assistant_cli.gateway.local import (
    client_url,
    local_base_url,
    local_keys,
    parse_duration,
    split_dashboard_url,
)
from assistant_cli.gateway.tokens import AUDIENCE
from assistant_cli.paths import resolve
from assistant_cli.store.audit import AuditLog, key_from_store
from assistant_cli.store.db import Database

runner = CliRunner()


@pytest.fixture
def config(isolated_home: Path) -> Path:
    path = isolated_home / "config.yaml"
    path.write_text("version: 1\ngateway:\n  port: 8123\n")
    return path


def test_gateway_token_mints_a_token_serve_accepts_and_audits_it(config: Path) -> None:
    result = runner.invoke(app, ["gateway", "token", "--ttl", "2h", "--sub", "laptop"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    keys = local_keys(resolve(), GatewayConfig())
    claims = keys.verify(token)
    assert claims["sub"] == "laptop" and claims["exp"] - claims["iat"] == 7200
    assert jwt.decode(token, keys.current.secret, algorithms=["HS256"], audience=AUDIENCE)
    db = Database(resolve().database)
    from assistant_cli.secrets.store import SecretStore

    entries = AuditLog(db, key_from_store(SecretStore(resolve(), db))).entries()
    assert [(e.action, e.target, e.outcome) for e in entries] == [("gateway.token", "laptop", "ok")]
    assert token not in json.dumps([e.detail for e in entries])


def test_gateway_token_url_uses_the_configured_address(config: Path) -> None:
    result = runner.invoke(app, ["gateway", "token", "--url"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("http://127.0.0.1:8123/?token=eyJ")


def test_bad_ttl_is_a_usage_error() -> None:
    assert parse_duration("90") == 90 and parse_duration("10m") == 600
    assert parse_duration("7d") == 604800
    for bad in ("soon", "0", "-1h", "1y"):
        with pytest.raises(UsageError):
            parse_duration(bad)


def test_running_serve_is_found_through_its_state_file(isolated_home: Path) -> None:
    paths = resolve()
    paths.ensure_state_dir()
    (paths.state_dir / "gateway.json").write_text(json.dumps(
        {"url": "http://127.0.0.1:40123", "pid": os.getpid(), "tls": False}))
    assert local_base_url(paths, GatewayConfig(port=0)) == "http://127.0.0.1:40123"
    # A stale file (its serve is gone) is ignored.
    (paths.state_dir / "gateway.json").write_text(json.dumps(
        {"url": "http://127.0.0.1:40123", "pid": 2**22 + 12345, "tls": False}))
    assert local_base_url(paths, GatewayConfig(host="0.0.0.0")) == "http://127.0.0.1:8080"
    with pytest.raises(StateError) as info:
        local_base_url(paths, GatewayConfig(port=0))
    assert "not running" in info.value.message


def test_dashboard_url_is_split_into_address_and_token() -> None:
    assert split_dashboard_url("https://gw.example:8443/?token=eyJabc") == (
        "https://gw.example:8443", "eyJabc")
    with pytest.raises(UsageError):
        split_dashboard_url("http://127.0.0.1:8080/")


async def test_dashboard_without_a_url_finds_the_local_serve_and_mints_its_token(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant_cli.tui.app import DashboardApp
    from tests.fakes.openai_server import FakeOpenAI
    from tests.gateway_harness import live_gateway

    (isolated_home / "config.yaml").write_text("version: 1\ngateway:\n  port: 0\n")
    started: list[DashboardApp] = []
    monkeypatch.setattr(DashboardApp, "run", lambda self, **kw: started.append(self))
    monkeypatch.setattr("assistant_cli.cli.dashboard_cmd._need_terminal", lambda: None)
    with FakeOpenAI() as fake:
        # The harness keeps its state where this home's commands look (ASSISTANT_CLI_HOME).
        async with live_gateway(isolated_home, fake) as h:
            result = runner.invoke(app, ["dashboard"])
            assert result.exit_code == 0, result.output
            target = started[0].target
            assert target.base_url == h.base_url and target.refreshable
            claims = h.control.keys.verify(target.token())
            assert claims["sub"].endswith("@dashboard") and claims["exp"] - claims["iat"] == 3600


def test_wildcard_addresses_are_reached_through_loopback() -> None:
    assert client_url("0.0.0.0", 8080, False) == "http://127.0.0.1:8080"
    assert client_url("::", 8443, True) == "https://[::1]:8443"
    assert client_url("192.0.2.7", 80, False) == "http://192.0.2.7:80"
    assert client_url("fe80::1", 80, False) == "http://[fe80::1]:80"
