"""The Textual dashboard, driven with Pilot against a real gateway (fake channel, fake model),
plus an SVG snapshot of its main screen at 80x24.

Snapshot policy: the screenshot is taken from fixed data (a stub client, a frozen clock,
UTC), so it is deterministic. It is compared byte for byte with
tests/snapshots/dashboard_main.svg when the installed Textual is the version that file was
made with (recorded next to it); with another Textual the rendering may legitimately
differ, so only its structure (tiles, tabs, footer keys, figures) is checked. Regenerate
with `UPDATE_SNAPSHOTS=1 pytest tests/test_dashboard.py`.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, RichLog, Static, TabbedContent

from assistant_cli.domain.events import MessageFailed, ToolCalled, ToolConfirmed
from assistant_cli.i18n import messages as texts
from assistant_cli.i18n import translator
from assistant_cli.tui import app as app_module
from assistant_cli.tui.app import DashboardApp
from assistant_cli.tui.client import Target
from assistant_cli.tui.screens import Confirm, Help
from assistant_cli.tui.widgets import CodePrompt, MetricTile
from tests.fakes.openai_server import FakeOpenAI
from tests.gateway_harness import live_gateway

SNAPSHOTS = Path(__file__).parent / "snapshots"

PAIRED = texts.paired(translator("en"))


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


async def until(pilot: Pilot[Any], check: Callable[[], Any], what: str,
                timeout: float = 6.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"dashboard: timed out waiting for {what}")
        await pilot.pause(0.05)
    return value


async def connected(pilot: Pilot[Any], app: DashboardApp) -> None:
    """Wait until the dashboard is connected and has shown its first metrics."""
    await until(pilot, lambda: app.state == "connected", "connection")
    await until(pilot, lambda: app.metrics, "first metrics")


def text_of(widget: Static) -> str:
    return str(widget.render())


async def test_dashboard_shows_live_metrics_and_approves_a_pairing_request(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake) as h:
        app = DashboardApp(Target(h.base_url, lambda: h.token("dash")))
        async with app.run_test(size=(80, 24)) as pilot:
            await connected(pilot, app)
            messages = app.query_one("#t-messages", MetricTile)
            h.channel.feed("hello there")
            await until(pilot, lambda: app.metrics.get("messages_total") == 1,
                        "metrics to count the message")
            assert "total 1" in text_of(messages.query_one(".note", Static))
            assert "1/min" in text_of(messages.query_one(".value", Static))
            latency = app.query_one("#t-latency", MetricTile)
            assert "p99" in text_of(latency.query_one(".value", Static))
            assert latency.has_class("-ok")  # the fake model answers well under 500 ms
            assert "● connected" in text_of(app.query_one("#header", Static))

            h.channel.feed("let me in", sender="200", name="Ada")
            await until(pilot, lambda: app.pending, "the pairing request")
            await pilot.press("2")
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, CodePrompt), "the code prompt")
            code = h.channel.pairing_code("200")
            assert code is not None
            await pilot.press(*code.replace("-", ""))
            assert app.screen.query_one(Input).value == code.replace("-", "")
            await pilot.press("enter")
            await until(pilot, lambda: h.pairing.is_approved("telegram", "200"), "approval")
            await until(pilot, lambda: "approved telegram user 200" in app.last_action,
                        "the confirmation")
            await until(pilot, lambda: ("200", PAIRED) in h.channel.sent, "the user to be told")
            await until(pilot, lambda: not app.pending, "the queue to empty")
            await pilot.press("q")
        assert app.return_code in (0, None)
        entries = h.db.execute("SELECT actor, action, outcome FROM audit").fetchall()
        assert [tuple(e) for e in entries] == [("token:dash", "pairing.approve", "ok")]


async def test_wrong_code_from_the_dashboard_says_so_and_pairs_nobody(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake) as h:
        app = DashboardApp(Target(h.base_url, lambda: h.token()))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.state == "connected", "connection")
            h.channel.feed("hi", sender="300")
            await until(pilot, lambda: app.pending, "the pairing request")
            # From another tab, d only shows the queue: nobody is denied unseen.
            await pilot.press("d")
            assert app.query_one(TabbedContent).active == "pairing"
            assert "press d again" in app.last_action
            await pilot.pause(0.3)
            assert h.pairing.pending() and not h.db.execute("SELECT 1 FROM audit").fetchall()
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, CodePrompt), "the code prompt")
            await pilot.press(*"WRONGCODE234", "enter")
            await until(pilot, lambda: "wrong pairing code" in app.last_action, "the refusal")
            assert not h.pairing.is_approved("telegram", "300")
            await pilot.press("d")  # deny asks first; n keeps the request
            await until(pilot, lambda: isinstance(app.screen, Confirm), "the confirmation")
            assert "Deny telegram user 300?" in str(
                app.screen.query_one("#confirm-question", Static).render())
            await pilot.press("n")
            await pilot.pause(0.2)
            assert h.pairing.pending() and "denied" not in app.last_action
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, Confirm), "the confirmation")
            await pilot.press("y")
            await until(pilot, lambda: "denied telegram user 300" in app.last_action, "deny")


async def test_unreachable_gateway_and_refused_token_are_said_plainly(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    import socket

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    app = DashboardApp(Target(f"http://127.0.0.1:{port}", lambda: "x"))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.state == "unreachable", "unreachable")
        banner = text_of(app.query_one("#banner", Static))
        assert "gateway unreachable" in banner and "is `assistant-cli serve` running?" in banner
        assert "(connection refused)" in banner and "retrying in" in banner
        await pilot.press("q")

    async with live_gateway(tmp_path, fake) as h:
        expired = h.control.keys.mint("old", -120)
        app = DashboardApp(Target(h.base_url, lambda: expired))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.state == "unauthorized", "refusal")
            banner = text_of(app.query_one("#banner", Static))
            assert "the token has expired" in banner
            assert "assistant-cli gateway token --url" in banner
            await pilot.press("q")


async def test_a_self_minted_token_that_is_refused_points_at_the_printed_url(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    from assistant_cli.gateway.tokens import SigningKey, key_id, mint

    other = "o" * 40  # what this machine's config names, while serve got --jwt-secret
    async with live_gateway(tmp_path, fake) as h:
        app = DashboardApp(Target(h.base_url, lambda: mint(SigningKey(key_id(other), other),
                                                           "me", 60), refreshable=True))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.state == "unauthorized", "refusal")
            banner = text_of(app.query_one("#banner", Static))
            assert "--jwt-secret" in banner and "pass the URL it printed" in banner
            assert "run `assistant-cli dashboard`" not in banner  # what they just did
            await pilot.press("q")


async def test_dashboard_reconnects_when_the_gateway_comes_back(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake) as h:
        app = DashboardApp(Target(h.base_url, lambda: h.token()))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.state == "connected", "connection")
            for session in list(h.control.sessions):
                await session.ws.close()
            await until(pilot, lambda: app.state != "connected", "the drop")
            await until(pilot, lambda: app.state == "connected", "the reconnection")
            await pilot.press("q")


# -- snapshot -----------------------------------------------------------------------------
NOW = 1_700_000_000.0
CANNED: dict[str, Any] = {
    "status": {"version": "0.0.0", "uptime_s": 3725, "ready": True, "queue_depth": 0,
               "channels": {"telegram": {"ready": True, "last_error": None},
                            "console": {"ready": False, "last_error": "stdin closed"}}},
    "providers.status": {"providers": [
        {"name": "openai", "model": "gpt-4o-mini", "state": "ok", "failures": 0,
         "cooldown_s": 0, "last_error": None, "last_error_kind": None},
        {"name": "local", "model": "llama3.2", "state": "cooling_down", "failures": 3,
         "cooldown_s": 42, "last_error": "connection refused", "last_error_kind": "network"}]},
    "pairing.list": {"pending": [{"platform": "telegram", "user_id": "123456789",
                                  "name": "Ada", "status": "pending",
                                  "expires_at": NOW + 2400}]},
    "logs.tail": {"lines": [{"ts": "2023-11-14T22:13:00+00:00", "level": "INFO",
                             "event": "serve.ready", "msg": "assistant-cli ready"}]},
}
METRICS = [{"messages_per_min": n, "messages_total": 40 + n, "latency_p50_ms": 150.0 + n,
            "latency_p99_ms": 300.0 + 10 * n, "success_rate": 1.0, "cpu_percent": 5.0 + n,
            "rss_bytes": 62_914_560, "queue_depth": n % 3, "provider_errors_total": 1,
            "objectives": {"latency_p99_ms": 500.0, "success_rate": 0.999,
                           "cpu_percent": 70.0}} for n in range(12)]


class StubClient:
    """Answers from CANNED; connected at once, never touches the network."""

    def __init__(self, target: Target, on_event: Any, on_state: Any) -> None:
        self.on_event, self.on_state = on_event, on_state

    async def run(self) -> None:
        self.on_state("connected", "connected")
        await asyncio.Event().wait()

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return METRICS[0] if method == "metrics.snapshot" else CANNED[method]

    def retry_now(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def svg_text(svg: str) -> str:
    """The visible characters of a Rich/Textual SVG screenshot, in order."""
    parts = re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)
    return html.unescape("".join(parts)).replace("\xa0", " ")


async def test_main_screen_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    import textual

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(app_module, "__version__", "0.0.0")
    app = DashboardApp(Target("http://127.0.0.1:8080", lambda: "t"), client_factory=StubClient,
                       clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.pending, "canned data")
        for m in METRICS:
            app.apply_metrics(m)
        events: list[tuple[str, dict[str, Any]]] = [
            ("message.in", {"channel": "telegram", "sender": "42", "length": 17}),
            ("message.out", {"channel": "telegram", "sender": "42", "outcome": "answered",
                             "latency_ms": 312.0}),
            ("pairing.requested", {"channel": "telegram", "sender": "123456789",
                                   "name": "Ada"}),
            ("provider.failover", {"from": "local", "to": "openai", "kind": "network"})]
        for i, (name, data) in enumerate(events):
            app._on_event(name, data, NOW + i)
        # The footer fills in its keys asynchronously (slower on a busy machine).
        await until(pilot, lambda: len(app.query("FooterKey")) >= 5, "the footer keys")
        await until(pilot, lambda: len(app.query_one("#feed", RichLog).lines) == 4, "the feed")
        await pilot.pause(0.2)
        svg = app.export_screenshot()
    time.tzset()
    text = svg_text(svg)
    for expected in ("assistant-cli 0.0.0", "up 1h02m", "● connected", "Messages", "11/min",
                     "Latency", "p99 410 ms", "Success", "100.00 %", "CPU", "16 %", "60 MB",
                     "Queue", "1 Activity", "2 Pairing (1)", "3 Health", "4 Logs",
                     "← telegram 42  17 chars", "answered in 312 ms", "failover local → openai",
                     "Quit", "Approve", "Deny", "Log level", "Reconnect"):
        assert expected in text, f"{expected!r} not on the main screen"
    snapshot, recorded = SNAPSHOTS / "dashboard_main.svg", SNAPSHOTS / "dashboard_main.textual"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(svg, encoding="utf-8")
        recorded.write_text(textual.__version__ + "\n", encoding="utf-8")
    if recorded.read_text().strip() == textual.__version__:
        assert svg == snapshot.read_text(encoding="utf-8"), (
            "the dashboard's main screen changed; if intended, regenerate with "
            "UPDATE_SNAPSHOTS=1 and review the new tests/snapshots/dashboard_main.svg")


async def test_uptime_is_not_shown_while_disconnected() -> None:
    app = DashboardApp(Target("http://127.0.0.1:8080", lambda: "t"), client_factory=StubClient,
                       clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.status, "the status")
        assert "up 1h02m" in text_of(app.query_one("#header", Static))
        app._on_state("unreachable", "gateway unreachable")
        header = text_of(app.query_one("#header", Static))
        assert "up -" in header and "○ unreachable" in header
        await pilot.press("q")


async def test_bursts_of_events_refetch_at_most_once_a_second() -> None:
    calls: list[str] = []

    class Counting(StubClient):
        async def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
            calls.append(method)
            return await super().request(method, params)

    app = DashboardApp(Target("http://127.0.0.1:8080", lambda: "t"), client_factory=Counting)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "logs.tail" in calls, "the first refresh")
        calls.clear()
        for _ in range(200):
            app._on_event("provider.error", {"provider": "p", "kind": "overload"}, NOW)
            app._on_event("pairing.requested", {"channel": "telegram", "sender": "1"}, NOW)
        await until(pilot, lambda: "pairing.list" in calls, "the refetch", timeout=3)
        await pilot.pause(0.3)
        assert calls.count("providers.status") <= 2 and calls.count("pairing.list") <= 2
        await pilot.press("q")


async def test_the_queue_tile_counts_given_up_messages() -> None:
    app = DashboardApp(Target("http://127.0.0.1:8080", lambda: "t"), client_factory=StubClient,
                       clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.status, "the status")
        tile = app.query_one("#t-queue")
        app.apply_metrics({**METRICS[0], "failed_messages": 0})
        assert text_of(tile.query_one(".note", Static)) == "messages"
        app.apply_metrics({**METRICS[0], "failed_messages": 2})
        assert text_of(tile.query_one(".note", Static)) == "given up 2"
        assert tile.has_class("-bad")
        await pilot.press("q")


# -- operator's keys: filter, help, confirmation, senders ---------------------------------
def _log_text(app: DashboardApp) -> str:
    return "\n".join(strip.text for strip in app.query_one("#log", RichLog).lines)


async def test_slash_filters_the_log_by_text_and_escape_clears_it() -> None:
    app = DashboardApp(Target("http://127.0.0.1:8080", lambda: "t"), client_factory=StubClient,
                       clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.logs, "the log")
        await pilot.press("4")  # a wrapping log lays out its lines once it is shown
        app.add_log({"ts": "2023-11-14T22:14:00+00:00", "level": "WARNING",
                     "event": "provider.error", "msg": "openai timed out"})
        await until(pilot, lambda: "timed out" in _log_text(app), "both lines")
        await pilot.press("slash")
        assert app.query_one(TabbedContent).active == "logs"
        await pilot.press(*"TIMED")
        await until(pilot, lambda: "assistant-cli ready" not in _log_text(app), "the filter")
        assert "openai timed out" in _log_text(app)
        assert "matching 'timed'" in text_of(app.query_one("#log-filter", Static))
        await pilot.press("escape")
        await until(pilot, lambda: "assistant-cli ready" in _log_text(app), "the whole log")
        assert app.log_query == ""


async def test_question_mark_shows_the_help_overlay() -> None:
    app = DashboardApp(Target("http://127.0.0.1:8080", lambda: "t"), client_factory=StubClient)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, Help), "the help")
        assert "revoke the selected approved sender" in str(
            app.screen.query_one("#help-text", Static).render())
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, Help), "help closed")


async def test_a_result_on_the_status_line_gives_way_to_the_hint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant_cli.tui import pairing_actions

    monkeypatch.setattr(pairing_actions, "STATUS_SECONDS", 0.2)
    app = DashboardApp(Target("http://127.0.0.1:8080", lambda: "t"), client_factory=StubClient)
    async with app.run_test(size=(80, 24)) as pilot:
        status = app.query_one("#pairing-status", Static)
        app._say("denied telegram user 1")
        assert "denied" in text_of(status)
        await until(pilot, lambda: text_of(status) == pairing_actions.PAIRING_HINT, "the hint")


async def test_senders_tab_lists_approved_senders_and_revokes_after_confirmation(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake) as h:
        h.pairing.allow("telegram", "777", "owner", display_name="Grace")
        app = DashboardApp(Target(h.base_url, lambda: h.token()))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.approved, "the approved senders")
            await pilot.press("5")
            assert app.query_one("#senders-table", DataTable).row_count == 1
            await pilot.press("x")
            await until(pilot, lambda: isinstance(app.screen, Confirm), "the confirmation")
            await pilot.press("y")
            await until(pilot, lambda: "revoked telegram user 777" in app.last_action, "revoke")
            assert not h.pairing.is_approved("telegram", "777")
            await until(pilot, lambda: not app.approved, "the emptied list")
            audit = h.db.execute("SELECT action, target, outcome FROM audit").fetchall()
            assert ("pairing.revoke", "telegram:777", "ok") in [tuple(r) for r in audit]
            await pilot.press("q")


def _feed_text(app: DashboardApp) -> str:
    return "\n".join(strip.text for strip in app.query_one("#feed", RichLog).lines)


async def test_the_feed_shows_tool_calls_confirmations_and_given_up_messages(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    """Published on the real bus, forwarded by the real gateway, shown in the feed."""
    async with live_gateway(tmp_path, fake) as h:
        app = DashboardApp(Target(h.base_url, lambda: h.token("dash")))
        async with app.run_test(size=(120, 24)) as pilot:
            await connected(pilot, app)
            h.events.publish(ToolCalled(tool="files.read_text", outcome="ok", duration_ms=12.4))
            h.events.publish(ToolCalled(tool="t.add", outcome="timeout", duration_ms=5000.0))
            h.events.publish(ToolConfirmed(tool="files.read_text", decision="deny",
                                           channel="telegram", sender="42"))
            h.events.publish(MessageFailed(channel="telegram", id=7, reason="permanent",
                                           error="Forbidden: bot was blocked by the user"))
            feed = await until(pilot, lambda: "gave up" in _feed_text(app) and _feed_text(app),
                               "the given-up message in the feed")
            assert "⚙ tool files.read_text  ok in 12 ms" in feed
            assert "⚙ tool t.add  timeout in 5000 ms" in feed
            assert "✗ tool files.read_text: denied (telegram 42)" in feed
            assert ("✗ telegram: gave up message 7 (permanent): Forbidden: bot was blocked by "
                    "the user — assistant-cli inbox failed") in feed
            await pilot.press("q")


async def test_the_health_tab_lists_each_replica_with_its_role() -> None:
    now = [1000.0]
    app = DashboardApp(Target("http://127.0.0.1:8080", lambda: "t"), client_factory=StubClient,
                       clock=lambda: now[0])
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.status, "the status")
        app._on_event("replica.metrics", {"replica": "a", "role": "intake",
                                          "messages_per_min": 0, "queue_depth": 3,
                                          "held": 0}, now[0])
        app._on_event("replica.metrics", {"replica": "b", "role": "worker",
                                          "messages_per_min": 42, "latency_p99_ms": 12.4,
                                          "queue_depth": 3, "held": 2}, now[0])
        await pilot.pause()
        table = app.query_one("#replicas", DataTable)
        assert [table.get_row_at(i) for i in range(table.row_count)] == [
            ["a", "intake", "up", "0", "-", "3", "0"],
            ["b", "worker", "up", "42", "12", "3", "2"]]
        now[0] += 30  # a stopped: nothing more from it
        app._on_event("replica.metrics", {"replica": "b", "role": "worker"}, now[0])
        await pilot.pause()
        assert table.get_row_at(0)[2] == "silent 30 s"
        await pilot.press("q")
