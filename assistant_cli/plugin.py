"""The public plugin API: everything a plugin may import from assistant-cli, and its version.

A plugin imports from this module only; every other module of assistant-cli is private and
may change without notice. Plugins are found through entry points (see the guide in
`docs/plugins/`):

    [project.entry-points."assistant_cli.handlers"]
    remind = "assistant_cli_remind:RemindHandler"      # a Handler subclass

    [project.entry-points."assistant_cli.locales"]
    de = "assistant_cli_de:CATALOGS"                   # a Locale instance

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
    API_VERSION,
    Answer,
    Handler,
    HandlerContext,
    HandlerResult,
    KeyValueStore,
    Locale,
    Pass,
    Rewrite,
    check_api_version,
)
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
    "Usage",
    "check_api_version",
]

# --- tools ---------------------------------------------------------------------------------
# Reserved for the coordinator: the tool types of `assistant_cli.tools` (the tool decorator
# and its types, entry-point group `assistant_cli.tools`) are re-exported here when that
# package lands, and added to __all__ above.
# --- end of tools --------------------------------------------------------------------------
