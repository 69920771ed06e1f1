"""The dashboard's pairing decisions: approve (with the code), deny and revoke (confirmed),
and the status line that says what happened, then clears itself."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.timer import Timer
from textual.widgets import DataTable, Static, TabbedContent

from assistant_cli.tui.client import RequestFailed
from assistant_cli.tui.screens import Confirm
from assistant_cli.tui.widgets import CodePrompt

PAIRING_HINT = "a approve (asks for the code) · d deny · ? help"
SENDERS_HINT = "x revoke the selected sender · ? help"
STATUS_SECONDS = 6.0  # a result stays this long, then the hint returns (no stale line)


class PairingActions(App[None]):
    """Mixed into DashboardApp; needs its `client`, `pending`, `approved`, refresh_pairing()."""

    client: Any
    pending: list[dict[str, Any]]
    approved: list[dict[str, Any]]
    _status_timer: Timer | None = None

    async def refresh_pairing(self) -> None:
        raise NotImplementedError

    def _selected(self, table_id: str, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        table = self.query_one(table_id, DataTable)
        if not rows or table.cursor_row is None:
            return None
        return rows[min(table.cursor_row, len(rows) - 1)]

    def _say(self, text: str, error: bool = False, where: str = "#pairing-status") -> None:
        self.last_action = text
        self.query_one(where, Static).update(text)
        self.notify(text, severity="error" if error else "information")
        if self._status_timer is not None:
            self._status_timer.stop()
        self._status_timer = self.set_timer(STATUS_SECONDS, self._restore_hints)

    def _restore_hints(self) -> None:
        self._status_timer = None
        self.query_one("#pairing-status", Static).update(PAIRING_HINT)
        self.query_one("#senders-status", Static).update(SENDERS_HINT)

    def _on_tab(self, tab: str, verb: str, rows: list[dict[str, Any]], key: str) -> bool:
        """Keys act on the row the user can see selected; elsewhere they show it first."""
        tabs = self.query_one(TabbedContent)
        if tabs.active == tab:
            return True
        tabs.active = tab
        where = f"#{tab}-status"
        if rows:
            self._say(f"select one, then press {key} again to {verb} it", where=where)
        else:
            self._say(f"nothing to {verb}", True, where=where)
        return False

    def action_approve(self) -> None:
        if not self._on_tab("pairing", "approve", self.pending, "a"):
            return
        request = self._selected("#pairing-table", self.pending)
        if request is None:
            self._say("no pairing request to approve", True)
            return

        def done(code: str | None) -> None:
            if code:
                self.run_worker(self._decide("pairing.approve", request, code))

        self.push_screen(CodePrompt(request), done)

    def action_deny(self) -> None:
        if not self._on_tab("pairing", "deny", self.pending, "d"):
            return
        request = self._selected("#pairing-table", self.pending)
        if request is None:
            self._say("no pairing request to deny", True)
            return
        self._confirm(f"Deny {request['platform']} user {request['user_id']}? They get no "
                      "reply and can ask again after an hour.", "pairing.deny", request)

    def action_revoke(self) -> None:
        if not self._on_tab("senders", "revoke", self.approved, "x"):
            return
        sender = self._selected("#senders-table", self.approved)
        if sender is None:
            self._say("no approved sender to revoke", True, where="#senders-status")
            return
        self._confirm(f"Revoke {sender['platform']} user {sender['user_id']}? Their next "
                      "message starts pairing again.", "pairing.revoke", sender)

    def _confirm(self, question: str, method: str, row: dict[str, Any]) -> None:
        def done(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._decide(method, row, None))

        self.push_screen(Confirm(question), done)

    async def _decide(self, method: str, row: dict[str, Any], code: str | None) -> None:
        params = {"platform": row["platform"], "user_id": row["user_id"]}
        if code is not None:
            params["code"] = code
        who = f"{row['platform']} user {row['user_id']}"
        where = "#senders-status" if method == "pairing.revoke" else "#pairing-status"
        try:
            await self.client.request(method, params)
        except RequestFailed as exc:
            self._say(exc.message.replace("\n  fix: ", " — "), True, where=where)
            return
        done = {"pairing.approve": f"approved {who}; they are told within seconds",
                "pairing.deny": f"denied {who}", "pairing.revoke": f"revoked {who}"}[method]
        self._say(done, where=where)
        await self.refresh_pairing()
