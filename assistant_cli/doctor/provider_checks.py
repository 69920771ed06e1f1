"""Doctor checks of model providers: one live probe per provider, and their TLS files."""

from __future__ import annotations

import functools
import ssl
from typing import TYPE_CHECKING

from assistant_cli.config.loader import is_reference
from assistant_cli.config.models import SECRET_KEYS
from assistant_cli.doctor.base import Check, DoctorContext, Result, fail, in_thread, ok, warn
from assistant_cli.doctor.gateway_checks import inspect_tls_files
from assistant_cli.doctor.probes import probe_provider
from assistant_cli.errors import SecretError

if TYPE_CHECKING:
    from assistant_cli.config.models import Config, ProviderConfig


def provider_checks(config: Config) -> list[Check]:
    """One check per configured provider, the turn order first."""
    order = config.provider_order()
    names = order + [n for n in config.providers if n not in order]
    return [Check(f"providers.{name}", f"provider {name}: DNS, TCP, TLS, authenticated call",
                  functools.partial(check_provider, name=name), network=True)
            for name in names]


def pre_resolved(ctx: DoctorContext, name: str, cfg: ProviderConfig) -> dict[str, str]:
    """Every secret reference in the provider's config, resolved (blocking: run in a thread).

    Adapters resolve secrets synchronously while building a request; resolving here first,
    off the event loop, means a hung keyring cannot freeze every other check.
    """
    out: dict[str, str] = {}
    data = cfg.model_dump()
    auth = data.get("auth") or {}
    for key, value in [*data.items(), *auth.items()]:
        if key in SECRET_KEYS and isinstance(value, str) and is_reference(value):
            out[value] = ctx.resolve(value, f"providers.{name}.{key}")
    return out


async def check_provider(ctx: DoctorContext, *, name: str) -> Result:
    cfg = ctx.config().providers[name]
    try:
        resolved = await in_thread(pre_resolved, ctx, name, cfg)
    except SecretError as exc:
        return fail(exc.message, exc.hint or "store the secret")

    def resolve(ref: str, key: str) -> str:
        return resolved[ref] if ref in resolved else ctx.resolve(ref, key)

    hint = ""
    if cfg.api_key and cfg.api_key.startswith("keyring:"):
        hint = f"assistant-cli secrets rotate {cfg.api_key[8:]}"
    return await probe_provider(name, cfg, resolve, ctx.timeout, secret_hint=hint)


async def check_provider_tls(ctx: DoctorContext) -> Result:
    """Client certificates (mutual TLS) and CA bundles configured for providers."""
    config = ctx.config()
    with_files = {n: p for n, p in config.providers.items() if p.cert_file or p.ca_file}
    if not with_files:
        return ok("no provider uses its own TLS files")

    def inspect_all() -> list[Result]:
        results = []
        for name, p in with_files.items():
            owner = f"providers.{name}"
            if p.cert_file and p.key_file:
                results.append(inspect_tls_files(p.cert_file, p.key_file, owner, p.ca_file))
            else:
                results.append(_inspect_ca(str(p.ca_file), owner))
        return results

    results = await in_thread(inspect_all)
    found = "; ".join(r.found for r in results)
    fixes = "; ".join(r.fix for r in results if r.fix)
    if any(r.status == "fail" for r in results):
        return fail(found, fixes)
    if any(r.status == "warn" for r in results):
        return warn(found, fixes)
    return ok(found)


def _inspect_ca(path: str, owner: str) -> Result:
    try:
        ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        return fail(f"{owner}: cannot load the CA bundle {path}: {exc}",
                    "give a readable PEM file of the CA certificates to trust")
    return ok(f"{owner}: CA bundle {path} loads")
