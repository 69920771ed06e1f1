"""Typed models of config.yaml; the one place that knows the file's shape.

Every model forbids unknown keys. Secret values are references — `keyring:NAME` or
`env:NAME` — resolved at the edge by `assistant_cli.secrets`; a literal is accepted with a
warning (see loader.literal_secret_warnings).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DmPolicy = Literal["pairing", "allowlist", "open", "disabled"]
LogLevel = Literal["debug", "info", "warning", "error"]

# Keys whose values are secrets wherever they appear; used to mask and to warn on literals.
SECRET_KEYS = frozenset(
    {"api_token", "api_key", "webhook_secret", "access_token", "app_secret", "verify_token",
     "jwt_secret", "client_secret"}
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupsConfig(Strict):
    enabled: bool = False
    allow: list[str] = Field(default_factory=list)
    require_mention: bool = True


class ConsoleConfig(Strict):
    # None means: chat in the terminal when no other platform is enabled.
    enabled: bool | None = None


class TelegramConfig(Strict):
    enabled: bool = True
    api_token: str
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    base_url: str = "https://api.telegram.org/bot"
    dm_policy: DmPolicy = "pairing"
    allow_from: list[str] = Field(default_factory=list)
    groups: GroupsConfig = Field(default_factory=GroupsConfig)
    poll_timeout: int = Field(default=30, ge=0, le=50)


class WhatsAppConfig(Strict):
    enabled: bool = True
    business_id: str
    phone_number: str
    phone_number_id: str | None = None
    access_token: str | None = None
    app_secret: str | None = None
    verify_token: str | None = None
    graph_base_url: str = "https://graph.facebook.com"
    api_version: str = "v21.0"
    dm_policy: DmPolicy = "pairing"
    allow_from: list[str] = Field(default_factory=list)
    template: str | None = None


class PlatformsConfig(Strict):
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    telegram: TelegramConfig | None = None
    whatsapp: WhatsAppConfig | None = None


class ProviderConfig(Strict):
    kind: str = "openai"
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = Field(default=60.0, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    headers: dict[str, str] = Field(default_factory=dict)


class AssistantConfig(Strict):
    provider: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    system_prompt: str = "You are a helpful, concise assistant."
    history_length: int = Field(default=20, ge=0, le=1000)
    workers: int = Field(default=4, ge=1, le=64)


class GatewayConfig(Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)


class LoggingConfig(Strict):
    level: LogLevel = "info"
    max_bytes: int = Field(default=5_000_000, ge=10_000)
    backups: int = Field(default=5, ge=1, le=100)


class SecretsConfig(Strict):
    rotation_days: int = Field(default=90, ge=1)


class Config(Strict):
    version: Literal[1] = 1
    platforms: PlatformsConfig = Field(default_factory=PlatformsConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    assistant: AssistantConfig = Field(default_factory=AssistantConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)

    def provider_order(self) -> list[str]:
        """Names of providers in the order a turn tries them: default, then fallbacks."""
        first = self.assistant.provider or next(iter(self.providers), None)
        order = [first] if first else []
        order += [n for n in self.assistant.fallbacks if n not in order]
        return order
