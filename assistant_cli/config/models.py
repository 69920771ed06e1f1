"""Typed models of config.yaml; the one place that knows the file's shape.

Every model forbids unknown keys. Secret values are references — `keyring:NAME` or
`env:NAME` — resolved at the edge by `assistant_cli.secrets.store`; a literal is accepted with a
warning (see loader.literal_secret_warnings).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

DmPolicy = Literal["pairing", "allowlist", "open", "disabled"]
LogLevel = Literal["debug", "info", "warning", "error"]

# Keys whose values are secrets wherever they appear; used to mask and to warn on literals.
SECRET_KEYS = frozenset(
    {"api_token", "api_key", "webhook_secret", "access_token", "app_secret", "verify_token",
     "jwt_secret", "client_secret", "password"}
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _id_text(value: object) -> object:
    # Chat and user ids are compared as text; YAML reads an unquoted id as a number.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# User or chat ids on a platform, written quoted or not: [123456789] or ["123456789"].
IdList = list[Annotated[str, BeforeValidator(_id_text)]]
IdText = Annotated[str, BeforeValidator(_id_text)]  # one such id, or a phone number


class GroupEntry(Strict):
    """One allowed group chat; `members: any` lets every member in, not only allowed ones."""

    id: IdText
    members: Literal["allowed", "any"] = "allowed"


def _group_entry(value: object) -> object:
    # A bare id is the common case: a group whose members must themselves be allowed.
    return {"id": value} if isinstance(value, (str, int)) and not isinstance(value, bool) else value


class GroupsConfig(Strict):
    enabled: bool = False
    # Deny by default: an empty list means no group at all, never every group.
    allow: list[Annotated[GroupEntry, BeforeValidator(_group_entry)]] = Field(
        default_factory=list)
    require_mention: bool = True

    def entry(self, chat_id: str) -> GroupEntry | None:
        """The allow entry of this group chat, or None when the group is not listed."""
        return next((g for g in self.allow if g.id == chat_id), None)


class ConsoleConfig(Strict):
    # None means: chat in the terminal when no other platform is enabled.
    enabled: bool | None = None


class PlatformBlock(Strict):
    """A chat platform's block; one switched off (`enabled: false`) is kept for later and
    need not have its required keys yet (the keys it has are still checked)."""

    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _disabled_needs_nothing(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("enabled") is False:
            required = [n for n, f in cls.model_fields.items() if f.is_required()]
            return {**dict.fromkeys(required, ""), **data}
        return data


class TelegramConfig(PlatformBlock):
    api_token: str
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    base_url: str = "https://api.telegram.org/bot"
    dm_policy: DmPolicy = "pairing"
    allow_from: IdList = Field(default_factory=list)
    groups: GroupsConfig = Field(default_factory=GroupsConfig)
    poll_timeout: int = Field(default=30, ge=0, le=50)


class WhatsAppConfig(PlatformBlock):
    business_id: IdText
    phone_number: IdText
    phone_number_id: IdText | None = None
    access_token: str | None = None
    app_secret: str | None = None
    verify_token: str | None = None
    graph_base_url: str = "https://graph.facebook.com"
    api_version: str = "v21.0"
    dm_policy: DmPolicy = "pairing"
    allow_from: IdList = Field(default_factory=list)
    template: str | None = None
    template_language: str = "en_US"


class PlatformsConfig(Strict):
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    telegram: TelegramConfig | None = None
    whatsapp: WhatsAppConfig | None = None


AuthType = Literal["none", "api-key", "oauth", "mtls"]
OAuthFlow = Literal["authorization_code", "device_code", "client_credentials"]


class AuthConfig(Strict):
    """How a provider proves who we are. Without this block, `api_key` means API-key auth."""

    type: AuthType
    # OAuth 2.0 (type: oauth); tokens live in the keyring, never here.
    flow: OAuthFlow = "authorization_code"
    authorize_url: str | None = None
    token_url: str | None = None
    device_authorization_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scopes: list[str] = Field(default_factory=list)
    redirect_port: int = Field(default=0, ge=0, le=65535)  # 0: any free loopback port

    @model_validator(mode="after")
    def _oauth_endpoints(self) -> AuthConfig:
        if self.type != "oauth":
            return self
        needed = {"token_url": self.token_url, "client_id": self.client_id}
        if self.flow == "authorization_code":
            needed["authorize_url"] = self.authorize_url
        elif self.flow == "device_code":
            needed["device_authorization_url"] = self.device_authorization_url
        else:
            needed["client_secret"] = self.client_secret
        missing = [k for k, v in needed.items() if not v]
        if missing:
            raise ValueError(f"oauth flow {self.flow} needs {', '.join(missing)}")
        return self


class ProviderConfig(Strict):
    kind: str = "openai"
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = Field(default=60.0, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    headers: dict[str, str] = Field(default_factory=dict)
    # --- adapter-specific keys (anthropic, openai-ws, grpc); other kinds ignore them ---
    anthropic_version: str = "2023-06-01"  # anthropic: value of the anthropic-version header
    input_tensor: str = "text_input"  # grpc: BYTES input tensor that carries the prompt
    output_tensor: str = "text_output"  # grpc: BYTES output tensor that carries the answer
    stream: bool = True  # grpc: ModelStreamInfer (true) or a single ModelInfer call
    cumulative: bool = False  # grpc: each streamed piece repeats the whole text so far
    # TLS files (PEM paths) for any kind: CA bundle to trust, client certificate and key.
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    # --- end of adapter-specific keys ---
    auth: AuthConfig | None = None

    @property
    def auth_type(self) -> AuthType:
        """The auth in effect: the `auth` block, else api-key or mtls implied by the keys set."""
        if self.auth is not None:
            return self.auth.type
        if self.api_key:
            return "api-key"
        return "mtls" if self.cert_file else "none"

    @model_validator(mode="after")
    def _auth_has_what_it_needs(self) -> ProviderConfig:
        kind = self.auth_type
        if kind == "api-key" and not self.api_key:
            raise ValueError("auth type api-key needs api_key (e.g. keyring:NAME)")
        if kind == "mtls" and not (self.cert_file and self.key_file):
            raise ValueError("auth type mtls needs cert_file and key_file")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("cert_file and key_file go together: set both or neither")
        return self


class AssistantConfig(Strict):
    provider: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    system_prompt: str = "You are a helpful, concise assistant."
    history_length: int = Field(default=20, ge=0, le=1000)
    workers: int = Field(default=32, ge=1, le=64)
    daily_token_cap_per_sender: int | None = Field(default=None, gt=0)


def _ip_network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or network (e.g. 127.0.0.1, "
                         "10.0.0.0/8)") from None
    return value


class GatewayConfig(Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    jwt_secret: str = "keyring:gateway_jwt_secret"
    token_ttl: int = Field(default=3_600, ge=60)
    rotation_grace: int = Field(default=86_400, ge=0)
    allowed_origins: list[str] = Field(default_factory=list)
    tls_cert: str | None = None
    tls_key: str | None = None
    expose_message_text: bool = False
    max_frame_bytes: int = Field(default=65_536, ge=1024)
    lockout_failures: int = Field(default=10, ge=1)
    lockout_seconds: int = Field(default=60, ge=1)
    # Peers whose X-Forwarded-For is believed (addresses or networks, e.g. 127.0.0.1 for a
    # local nginx); the lockout then counts per real client instead of per proxy.
    trusted_proxies: list[Annotated[str, AfterValidator(_ip_network)]] = Field(
        default_factory=list)
    max_token_lifetime: int = Field(default=30 * 86_400, ge=60)

    @model_validator(mode="after")
    def _ttl_within_cap(self) -> GatewayConfig:
        if self.token_ttl > self.max_token_lifetime:
            raise ValueError(f"token_ttl ({self.token_ttl}) is longer than "
                             f"max_token_lifetime ({self.max_token_lifetime})")
        return self


class LoggingConfig(Strict):
    level: LogLevel = "info"
    max_bytes: int = Field(default=5_000_000, ge=10_000)
    backups: int = Field(default=5, ge=1, le=100)


class SecretsConfig(Strict):
    rotation_days: int = Field(default=90, ge=1)


class DeliveryConfig(Strict):
    """How long an answer that could not be sent is retried (see store/retry.py)."""

    give_up_after: int = Field(default=86_400, ge=1)  # seconds since the first failed send
    retry_initial: float = Field(default=2.0, gt=0)  # first wait, doubled per failure
    retry_max: float = Field(default=600.0, gt=0)  # longest wait between two tries
    other_error_attempts: int = Field(default=5, ge=1)  # tries for a non-delivery error


class PluginsConfig(Strict):
    """Which plugins run and their settings (each checked against the plugin's own model)."""

    # Handler plugins run only when listed here, in this order (they see every message).
    enabled: list[str] = Field(default_factory=list)
    # Never loaded, whatever their kind (handlers, locales, tools).
    disabled: list[str] = Field(default_factory=list)
    # `serve` refuses to start when one of these fails to load; others are skipped.
    required: list[str] = Field(default_factory=list)
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Package index for `plugins search` (its JSON API) and `plugins install`.
    index_url: str = "https://pypi.org"


def _seconds(value: object) -> object:
    # Durations are written "30s", "2m", "500ms" or as a number of seconds.
    if isinstance(value, str):
        text = value.strip().lower()
        for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
            if text.endswith(suffix) and text[: -len(suffix)].strip().replace(".", "", 1).isdigit():
                return float(text[: -len(suffix)]) * factor
    return value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]
ToolAllow = Literal["owner", "paired", "anyone"]


class McpServerConfig(Strict):
    """One MCP server: `command` (stdio, started and supervised by us) or `url` (Streamable
    HTTP). Values in `env` and `headers` may be keyring:/env: references."""

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    start_timeout: Seconds = 20.0
    enabled: bool = True

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if bool(self.command) == bool(self.url):
            raise ValueError("set either command (a stdio server) or url (Streamable HTTP)")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return self


class ToolRule(Strict):
    """Who may trigger a tool (owner, paired senders, anyone) and whether it asks first."""

    allow: ToolAllow = "owner"
    confirm: bool = True


class BuiltinToolsConfig(Strict):
    time: bool = False  # time.now
    memory: bool = False  # memory.remember / memory.recall
    timezone: str | None = None  # IANA zone for time.now; default: this machine's


class ToolsConfig(Strict):
    max_steps: int = Field(default=8, ge=1, le=50)
    timeout: Seconds = 30.0
    confirm_timeout: Seconds = 120.0
    max_result_chars: int = Field(default=16_000, ge=100)
    mcp_servers: dict[str, McpServerConfig] = Field(default_factory=dict)
    policy: dict[str, ToolRule] = Field(default_factory=dict)
    builtins: BuiltinToolsConfig = Field(default_factory=BuiltinToolsConfig)

    @model_validator(mode="after")
    def _server_names(self) -> ToolsConfig:
        for name in self.mcp_servers:
            if not name or not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"mcp_servers: {name!r}: use letters, digits, _ and - only")
        return self

    @property
    def any_enabled(self) -> bool:
        return bool(self.mcp_servers) or self.builtins.time or self.builtins.memory


class StateConfig(Strict):
    """Where the state lives: the SQLite file (default) or a PostgreSQL database that several
    `serve` replicas share (see docs/replicas.md)."""

    url: str | None = None  # postgresql://user@host:5432/db; None: the SQLite file
    password: str | None = None  # keyring:NAME / env:NAME reference, never the password
    pool_size: int = Field(default=10, ge=1, le=100)  # connections per process
    lease: Seconds = 30.0  # a claimed message whose replica stopped heart-beating is requeued
    replica: str | None = None  # this process's name in leases and /metrics; default host-pid

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (leave it out for the SQLite file)")
        if url is not None and re.search(r"://[^:/@]+:[^@]+@", url):
            raise ValueError("holds a password: put it in the keyring and write "
                             "password: keyring:postgres_password")
        return url


class Config(Strict):
    version: Literal[1] = 1
    # Language of chat replies when the sender's platform gives none and they chose none.
    locale: str = "en"
    platforms: PlatformsConfig = Field(default_factory=PlatformsConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    assistant: AssistantConfig = Field(default_factory=AssistantConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    state: StateConfig = Field(default_factory=StateConfig)

    @model_validator(mode="after")
    def _tools_need_tool_calling(self) -> Config:
        if not self.tools.any_enabled:
            return self
        for name in self.provider_order():
            provider = self.providers.get(name)
            if provider is not None and provider.kind == "grpc":
                raise ValueError(
                    f"providers.{name}: kind grpc has no tool support, but tools are "
                    "configured; use another provider kind, or remove the tools section")
        return self

    def provider_order(self) -> list[str]:
        """Names of providers in the order a turn tries them: default, then fallbacks."""
        first = self.assistant.provider or next(iter(self.providers), None)
        order = [first] if first else []
        order += [n for n in self.assistant.fallbacks if n not in order]
        return order
