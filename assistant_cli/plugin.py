"""The public plugin API: everything a plugin may import from assistant-cli, and its version.

A plugin imports from this module only; every other module of assistant-cli is private and
may change without notice. Plugins are found through entry points (see the guide in
`docs/plugins/`):

    [project.entry-points."assistant_cli.handlers"]
    remind = "assistant_cli_remind:RemindHandler"      # a Handler subclass

    [project.entry-points."assistant_cli.locales"]
    de = "assistant_cli_de:CATALOGS"                   # a Locale instance

    [project.entry-points."assistant_cli.tools"]
    dice = "assistant_cli_dice:TOOLS"                  # a Tool, or a list of them

    [project.entry-points."assistant_cli.providers"]   # a Provider subclass
    [project.entry-points."assistant_cli.channels"]    # a Channel subclass

`API_VERSION` is "MAJOR.MINOR". A plugin declares the version it was built for
(`api_version` on its class or Locale); it loads when the major versions are equal and its
minor version is not newer than ours.
"""

from __future__ import annotations

from assistant_cli.channels.base import Channel, ChannelContext, InboundSink
from assistant_cli.config.models import ProviderConfig
from assistant_cli.domain.messages import ChatTurn, InboundMessage
from assistant_cli.errors import PluginError
from assistant_cli.plugins.api import (
    Answer,
    Handler,
    HandlerContext,
    HandlerResult,
    KeyValueStore,
    Locale,
    Pass,
    Rewrite,
)
from assistant_cli.plugins.versions import API_VERSION, check_api_version
from assistant_cli.providers.base import (
    ChatRequest,
    Finished,
    Provider,
    ResponseInfo,
    SecretResolver,
    StreamEvent,
    TextDelta,
    Usage,
)

__all__ = [
    "API_VERSION",
    "Answer",
    "Caller",
    "Channel",
    "ChannelContext",
    "ChatRequest",
    "ChatTurn",
    "Finished",
    "Handler",
    "HandlerContext",
    "HandlerResult",
    "InboundMessage",
    "InboundSink",
    "KeyValueStore",
    "Locale",
    "Pass",
    "PluginError",
    "Provider",
    "ProviderConfig",
    "ResponseInfo",
    "Rewrite",
    "SecretResolver",
    "StreamEvent",
    "TextDelta",
    "Tool",
    "Usage",
    "check_api_version",
    "current_caller",
    "tool",
]

# --- tools ---------------------------------------------------------------------------------
# Tools the model may call (entry-point group `assistant_cli.tools`, naming a Tool or a list
# of them): `@tool` makes a Tool of a typed async function; `current_caller()` tells a
# running tool whom it runs for. Defined in assistant_cli.tools.base, public from here.
from assistant_cli.tools.base import Caller, Tool, current_caller, tool

# --- end of tools --------------------------------------------------------------------------
