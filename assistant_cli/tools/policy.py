"""Who may trigger which tool, and which tools ask first (`tools.policy` in config.yaml).

A rule is chosen by the tool's name: an exact key first, then the most specific glob
pattern (`files.read_*`), then `default`; without any of these the tool is for the owner
only and asks first. Owner: the terminal, or a sender in the platform's `allow_from`.
Paired: the owner or a sender approved by pairing. Anyone: whoever reached the model.
"""

from __future__ import annotations

import fnmatch

from assistant_cli.config.models import ToolAllow, ToolRule

LEVELS: dict[str, int] = {"anyone": 0, "paired": 1, "owner": 2}
DEFAULT_RULE = ToolRule()


class ToolPolicy:
    """Picks the rule for a tool and says whether a sender of some standing may use it."""

    def __init__(self, rules: dict[str, ToolRule]) -> None:
        self.rules = rules
        self.default = rules.get("default", DEFAULT_RULE)
        # Longest pattern first: "files.read_*" beats "files.*".
        self._patterns = sorted((k for k in rules if k != "default" and _is_glob(k)),
                                key=len, reverse=True)

    def rule_for(self, tool: str) -> ToolRule:
        if tool in self.rules and tool != "default":
            return self.rules[tool]
        for pattern in self._patterns:
            if fnmatch.fnmatchcase(tool, pattern):
                return self.rules[pattern]
        return self.default

    def permits(self, tool: str, level: ToolAllow) -> bool:
        return LEVELS[level] >= LEVELS[self.rule_for(tool).allow]

    def describe(self, tool: str) -> str:
        rule = self.rule_for(tool)
        return f"allow: {rule.allow}, confirm: {'yes' if rule.confirm else 'no'}"


def _is_glob(key: str) -> bool:
    return any(ch in key for ch in "*?[")
