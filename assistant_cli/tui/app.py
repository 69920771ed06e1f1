"""The dashboard app: header, metric tiles, activity feed, pairing queue, health, logs."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import (
    DataTable,
    Footer,
    Input,
    RichLog,
    Static,
    TabbedContent,
    TabPane,
)

from assistant_cli import __version__
from assistant_cli.tui.client import GatewayClient, RequestFailed, Target
from assistant_cli.tui.format import duration, feed_line, log_line, megabytes
from assistant_cli.tui.pairing_actions import PAIRING_HINT, SENDERS_HINT, PairingActions
from assistant_cli.tui.replicas import COLUMNS as REPLICA_COLUMNS
from assistant_cli.tui.replicas import ReplicaRoster
from assistant_cli.tui.screens import Help
from assistant_cli.tui.widgets import MetricTile

LEVELS = ("debug", "info", "warning", "error")
LEVEL_RANK = {"DEBUG": 0, "INFO": 1, "WARNING": 2, "ERROR": 3, "CRITICAL": 4}
REFRESH_SECONDS = 5.0
STATE_MARKS = {"connected": "● connected", "connecting": "◌ connecting",
               "unreachable": "○ unreachable", "unauthorized": "✗ token refused"}

ClientFactory = Callable[..., Any]


class DashboardApp(PairingActions):
    """A live console for one gateway."""

    # Absolute, so subclasses defined elsewhere (tests, benchmarks) find it too.
    CSS_PATH = str(Path(__file__).with_name("dashboard.tcss"))
    TITLE = "assistant-cli dashboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("a", "approve", "Approve"),
        Binding("d", "deny", "Deny"),
        Binding("l", "cycle_level", "Log level"),
        Binding("r", "reconnect", "Reconnect"),
        Binding("question_mark", "help", "Help"),
        Binding("x", "revoke", "Revoke", show=False),
        Binding("slash", "search", "Filter log", show=False),
        Binding("escape", "clear_search", "Clear filter", show=False),
        Binding("1", "show_tab('activity')", "Activity", show=False),
        Binding("2", "show_tab('pairing')", "Pairing", show=False),
        Binding("3", "show_tab('health')", "Health", show=False),
        Binding("4", "show_tab('logs')", "Logs", show=False),
        Binding("5", "show_tab('senders')", "Senders", show=False),
    ]

    def __init__(self, target: Target, *, client_factory: ClientFactory = GatewayClient,
                 clock: Callable[[], float] = time.time,
                 on_first_metrics: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.target = target
        self.clock = clock
        self.client = client_factory(target, self._on_event, self._on_state)
        self.on_first_metrics = on_first_metrics
        self.first_metrics_at: float | None = None
        self.state, self.state_detail = "connecting", ""
        self.status: dict[str, Any] = {}
        self.status_at = 0.0
        self.metrics: dict[str, Any] = {}
        self.pending: list[dict[str, Any]] = []
        self.approved: list[dict[str, Any]] = []
        self.log_query = ""
        self.level = "info"
        self.logs: deque[dict[str, Any]] = deque(maxlen=500)
        self.last_action = ""
        self._stale: set[str] = set()
        self.replicas = ReplicaRoster(clock)

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="header")
        yield Static(id="banner")
        with Horizontal(id="tiles"):
            yield MetricTile("Messages", "per min", id="t-messages")
            yield MetricTile("Latency", "<500 ms", id="t-latency")
            yield MetricTile("Success", ">99.9 %", id="t-success")
            yield MetricTile("CPU", "<70 %", id="t-cpu")
            yield MetricTile("Queue", "waiting", id="t-queue")
        with TabbedContent(initial="activity"):
            with TabPane("1 Activity", id="activity"):
                yield RichLog(id="feed", max_lines=500, wrap=False)
            with TabPane("2 Pairing", id="pairing"):
                yield DataTable(id="pairing-table", cursor_type="row", zebra_stripes=True)
                yield Static(PAIRING_HINT, id="pairing-status")
            with TabPane("3 Health", id="health"):
                yield DataTable(id="channels", cursor_type="none")
                yield DataTable(id="providers", cursor_type="none")
                yield DataTable(id="replicas", cursor_type="none")
            with TabPane("4 Logs", id="logs"):
                yield Static(id="log-filter")
                yield Input(placeholder="filter: text to look for (Esc clears)",
                            id="log-search")
                yield RichLog(id="log", max_lines=1000, wrap=True)  # long lines in full
            with TabPane("5 Senders", id="senders"):
                yield DataTable(id="senders-table", cursor_type="row", zebra_stripes=True)
                yield Static(SENDERS_HINT, id="senders-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#pairing-table", DataTable).add_columns(
            "platform", "user id", "name", "state", "expires")
        self.query_one("#senders-table", DataTable).add_columns(
            "platform", "user id", "name", "approved by", "via")
        self.query_one("#channels", DataTable).add_columns("channel", "state", "last error")
        self.query_one("#providers", DataTable).add_columns(
            "provider", "model", "state", "fails", "last error")
        self.query_one("#replicas", DataTable).add_columns(*REPLICA_COLUMNS)
        self._render_header()
        self._render_level()
        self.set_interval(1.0, self._tick)
        self.set_interval(REFRESH_SECONDS, self._periodic_refresh)
        self.run_worker(self.client.run(), name="gateway", exit_on_error=False)

    # -- from the client ----------------------------------------------------------------
    def _on_state(self, state: str, detail: str) -> None:
        self.state, self.state_detail = state, detail
        banner = self.query_one("#banner", Static)
        banner.update("" if state == "connected" else detail)
        banner.set_class(state != "connected", "-shown")
        self._render_header()
        if state == "connected":
            self.run_worker(self.refresh_all(), group="refresh")

    def _on_event(self, name: str, data: dict[str, Any], ts: float) -> None:
        if name == "metrics":
            self.apply_metrics(data)
        elif name == "replica.metrics":
            self.replicas.update(data)
            self.render_replicas()
        elif name == "log":
            self.add_log(data)
        else:
            line = feed_line(name, data, ts)
            if line is not None:
                self.query_one("#feed", RichLog).write(line)
            # Refetched on the next tick, not per event: a burst of provider errors must not
            # turn into a burst of requests (the gateway rate-limits clients).
            if name.startswith("pairing."):
                self._stale.add("pairing")
            elif name.startswith("provider."):
                self._stale.add("health")

    # -- fetching -------------------------------------------------------------------------
    async def refresh_all(self) -> None:
        try:
            self.apply_metrics(await self.client.request("metrics.snapshot"))
            await self.refresh_health()
            await self.refresh_pairing()
            self.apply_logs((await self.client.request(
                "logs.tail", {"n": 200, "level": self.level}))["lines"])
        except RequestFailed:
            pass  # disconnected meanwhile: the next connection refreshes again

    async def refresh_health(self) -> None:
        with_status = await self.client.request("status")
        self.apply_status(with_status)
        self.apply_providers(await self.client.request("providers.status"))

    async def refresh_pairing(self) -> None:
        data = await self.client.request("pairing.list")
        self.apply_pairing(data["pending"])
        self.apply_senders(data.get("approved", []))

    async def _tick(self) -> None:
        self._render_header()
        stale, self._stale = self._stale, set()
        if self.state != "connected" or not stale:
            return
        try:
            if "health" in stale:
                await self.refresh_health()
            if "pairing" in stale:
                await self.refresh_pairing()
        except RequestFailed:
            pass

    async def _periodic_refresh(self) -> None:
        if self.state == "connected":
            try:
                await self.refresh_health()
                await self.refresh_pairing()
            except RequestFailed:
                pass

    # -- showing --------------------------------------------------------------------------
    def _render_header(self) -> None:
        uptime = "-"  # while disconnected the last reading would go on ticking, wrongly
        if self.status and self.state == "connected":
            uptime = duration(float(self.status.get("uptime_s", 0)) + self.clock() - self.status_at)
        version = self.status.get("version", __version__)  # the serve's, once known
        self.query_one("#header", Static).update(
            f" assistant-cli {version} · up {uptime} · {self.target.base_url} · "
            f"{STATE_MARKS.get(self.state, self.state)}")
        self.query_one("#header", Static).set_class(self.state != "connected", "-down")

    def render_replicas(self) -> None:
        table = self.query_one("#replicas", DataTable)
        table.clear()
        for row in self.replicas.rows():
            table.add_row(*row)

    def apply_status(self, status: dict[str, Any]) -> None:
        self.status, self.status_at = status, self.clock()
        self._render_header()
        table = self.query_one("#channels", DataTable)
        table.clear()
        for name, ch in sorted(status.get("channels", {}).items()):
            table.add_row(name, "ready" if ch.get("ready") else "down", ch.get("last_error") or "")

    def apply_providers(self, data: dict[str, Any]) -> None:
        table = self.query_one("#providers", DataTable)
        table.clear()
        for p in data.get("providers", []):
            state = str(p["state"]).replace("_", " ")
            if p.get("cooldown_s"):
                state += f" {p['cooldown_s']:.0f}s"
            error = f"{p.get('last_error_kind') or ''}: {p.get('last_error') or ''}".strip(": ")
            table.add_row(p["name"], p.get("model", ""), state, str(p.get("failures", 0)), error)

    def apply_pairing(self, pending: list[dict[str, Any]]) -> None:
        self.pending = pending
        table = self.query_one("#pairing-table", DataTable)
        table.clear()
        now = self.clock()
        for r in pending:
            table.add_row(r["platform"], r["user_id"], r.get("name", ""), r.get("status", ""),
                          "in " + duration(float(r.get("expires_at", now)) - now))
        pane = self.query_one(TabbedContent).get_tab("pairing")
        pane.label = f"2 Pairing ({len(pending)})" if pending else "2 Pairing"  # type: ignore[assignment]

    def apply_senders(self, approved: list[dict[str, Any]]) -> None:
        self.approved = approved
        table = self.query_one("#senders-table", DataTable)
        table.clear()
        for s in approved:
            table.add_row(s["platform"], s["user_id"], s.get("name", ""),
                          s.get("approved_by", ""), s.get("via", ""))

    def apply_metrics(self, m: dict[str, Any]) -> None:
        self.metrics = m
        obj = m.get("objectives", {})
        p50, p99 = m.get("latency_p50_ms"), m.get("latency_p99_ms")
        rate, cpu = m.get("success_rate"), float(m.get("cpu_percent") or 0.0)
        self.query_one("#t-messages", MetricTile).show(
            f"{m.get('messages_per_min', 0)}/min", f"total {m.get('messages_total', 0)}",
            float(m.get("messages_per_min") or 0), None)
        self.query_one("#t-latency", MetricTile).show(
            "p99 -" if p99 is None else f"p99 {p99:.0f} ms",
            "p50 -" if p50 is None else f"p50 {p50:.0f} ms", p99 or 0.0,
            None if p99 is None else p99 <= obj.get("latency_p99_ms", 500))
        self.query_one("#t-success", MetricTile).show(
            "-" if rate is None else f"{rate * 100:.2f} %",
            f"errors {m.get('provider_errors_total', 0)}", rate if rate is not None else 1.0,
            None if rate is None else rate >= obj.get("success_rate", 0.999))
        self.query_one("#t-cpu", MetricTile).show(
            f"{cpu:.0f} %", megabytes(m.get("rss_bytes")), cpu,
            cpu <= obj.get("cpu_percent", 70))
        queue, failed = int(m.get("queue_depth") or 0), int(m.get("failed_messages") or 0)
        self.query_one("#t-queue", MetricTile).show(
            f"{queue}", f"given up {failed}" if failed else "messages", float(queue),
            False if failed else None)
        if self.first_metrics_at is None:
            self.first_metrics_at = time.monotonic()
            if self.on_first_metrics is not None:
                self.on_first_metrics()

    def add_log(self, rec: dict[str, Any]) -> None:
        self.logs.append(rec)
        if LEVEL_RANK.get(str(rec.get("level")), 1) < LEVELS.index(self.level):
            return
        line = log_line(rec)
        if self.log_query and self.log_query not in line.plain.casefold():
            return
        self.query_one("#log", RichLog).write(line)

    def apply_logs(self, lines: list[dict[str, Any]]) -> None:
        self.logs.clear()
        self.query_one("#log", RichLog).clear()
        for rec in lines:
            self.add_log(rec)

    def _render_level(self) -> None:
        matching = f" matching {self.log_query!r}" if self.log_query else ""
        self.query_one("#log-filter", Static).update(
            f"showing {self.level} and above{matching} · l changes the level · / filters")

    # -- actions --------------------------------------------------------------------------
    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_help(self) -> None:
        self.push_screen(Help())

    def action_search(self) -> None:
        self.query_one(TabbedContent).active = "logs"
        search = self.query_one("#log-search", Input)
        search.add_class("-shown")
        search.focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#log-search", Input)
        if search.has_class("-shown"):
            search.value = ""
            search.remove_class("-shown")
            self._set_log_query("")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "log-search":
            self._set_log_query(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "log-search":
            self.query_one("#log", RichLog).focus()

    def _set_log_query(self, text: str) -> None:
        self.log_query = text.strip().casefold()
        self._render_level()
        self.apply_logs(list(self.logs))

    def action_reconnect(self) -> None:
        self.client.retry_now()

    def action_cycle_level(self) -> None:
        self.level = LEVELS[(LEVELS.index(self.level) + 1) % len(LEVELS)]
        self._render_level()
        if self.state == "connected":
            self.run_worker(self._reload_logs(), group="refresh")
        else:
            self.apply_logs(list(self.logs))

    async def _reload_logs(self) -> None:
        try:
            self.apply_logs((await self.client.request(
                "logs.tail", {"n": 200, "level": self.level}))["lines"])
        except RequestFailed as exc:
            self.notify(exc.message, severity="error")

    async def action_quit(self) -> None:
        await self.client.stop()
        self.exit()
