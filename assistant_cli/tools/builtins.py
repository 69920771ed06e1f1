"""Built-in tools that need no network: the time in the user's zone, a per-sender memory.

Both are off unless enabled under `tools.builtins` in config.yaml.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant_cli.config.models import BuiltinToolsConfig
from assistant_cli.errors import ConfigError
from assistant_cli.store.tool_calls import MemoryStore
from assistant_cli.tools.base import Tool, current_caller, tool


def builtin_tools(config: BuiltinToolsConfig, memory: MemoryStore) -> list[Tool]:
    """The built-ins config.yaml enables."""
    out: list[Tool] = []
    if config.time:
        out.append(_time_tool(config.timezone))
    if config.memory:
        out.extend(_memory_tools(memory))
    return out


def _zone(name: str | None) -> dt.tzinfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"tools.builtins.timezone: unknown time zone {name!r}",
                          hint="use an IANA name such as Europe/Lisbon") from None


def _time_tool(zone_name: str | None) -> Tool:
    zone = _zone(zone_name)

    @tool(name="time.now", source="built-in")
    async def now() -> str:
        """The current date, time and weekday in the user's time zone."""
        moment = dt.datetime.now(zone).astimezone(zone)
        return f"{moment.isoformat(timespec='seconds')} ({moment:%A}, {moment.tzname()})"

    return now


def _memory_tools(store: MemoryStore) -> list[Tool]:
    @tool(name="memory.remember", source="built-in")
    async def remember(text: str) -> str:
        """Remember a short fact about the user for later conversations.

        Args:
            text: the fact, in one sentence.
        """
        store.remember(current_caller().sender, text[:1000])
        return "remembered"

    @tool(name="memory.recall", source="built-in")
    async def recall(query: str = "") -> str:
        """Recall facts remembered about the user, optionally only those containing a word.

        Args:
            query: a word to look for; empty for everything.
        """
        found = store.recall(current_caller().sender, query)
        return "\n".join(found) if found else "nothing remembered"

    return [remember, recall]
