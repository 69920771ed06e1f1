"""The plugin API's version and the check every kind of plugin passes before it loads.

Public through `assistant_cli.plugin`; kept here, below every floor that loads plugins
(handlers, locales, tools, providers, channels), so that each can check without importing
the public API module.
"""

from __future__ import annotations

from assistant_cli.errors import PluginError

# "MAJOR.MINOR": a plugin loads when the majors are equal and its minor is not newer.
API_VERSION = "1.0"


def check_api_version(package: str, declared: str) -> None:
    """Refuse a plugin built for an API this assistant-cli does not offer.

    Args:
        package: the plugin's distribution name, for the message.
        declared: the `API_VERSION` the plugin was built for ("MAJOR.MINOR").

    Raises:
        PluginError: naming the package, both versions and the fix, when the major versions
            differ, the plugin's minor version is newer than ours, or `declared` is not
            "MAJOR.MINOR".
    """
    ours_major, ours_minor = _parse(API_VERSION)
    try:
        major, minor = _parse(declared)
    except ValueError:
        raise PluginError(
            f"plugin {package} declares API version {declared!r}, which is not MAJOR.MINOR "
            f"(assistant-cli offers {API_VERSION})",
            hint=f"ask the author of {package} to set api_version = \"{API_VERSION}\"",
        ) from None
    if major == ours_major and minor <= ours_minor:
        return
    if (major, minor) > (ours_major, ours_minor):
        fix = f"upgrade assistant-cli (pip install -U assistant-cli), or install an older {package}"
    else:
        fix = f"upgrade the plugin (pip install -U {package}) to one built for API {API_VERSION}"
    raise PluginError(
        f"plugin {package} was built for plugin API {declared}, but this assistant-cli offers "
        f"API {API_VERSION}", hint=fix)


def _parse(version: str) -> tuple[int, int]:
    major, _, minor = str(version).partition(".")
    return int(major), int(minor or 0)
