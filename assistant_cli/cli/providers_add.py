"""`assistant-cli providers add`: validate everything, store secrets, then edit config.yaml."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from assistant_cli.cli.common import cli_state
from assistant_cli.cli.providers_input import WEB, check_url, tls_files
from assistant_cli.cli.providers_input import usage_error as _usage
from assistant_cli.cli.providers_support import check_name, known_kinds, open_session

AUTH_TYPES = ("none", "api-key", "oauth", "mtls")
FLOWS = ("authorization_code", "device_code", "client_credentials")


def _ask(label: str, default: str | None = None, *, secret: bool = False) -> str | None:
    """Prompt only when a person is at the terminal; scripts get None and a clear error."""
    if not sys.stdin.isatty():
        return None
    if secret:
        import getpass

        return getpass.getpass(f"{label} (input hidden): ").strip() or None
    answer: str = typer.prompt(label, default=default or "", show_default=bool(default))
    return answer.strip() or None


def _need(value: str | None, label: str, flag: str, default: str | None = None,
          *, ask_only: bool = False) -> str:
    """The option's value, else a prompt's, else `default` (offered only at a prompt when
    `ask_only`), else a UsageError naming the flag."""
    value = value or _ask(label, default) or (None if ask_only else default)
    if not value:
        raise _usage(f"missing {flag}", hint=f"pass {flag} (or run in a terminal to be asked)")
    return value


def _kind(kind: str | None) -> str:
    import difflib

    kinds = known_kinds()
    kind = _need(kind, f"kind ({', '.join(kinds)})", "--kind", "openai", ask_only=True)
    if kind not in kinds:
        close = difflib.get_close_matches(kind, kinds, n=1)
        raise _usage(f"unknown provider kind {kind!r} (known: {', '.join(kinds)})",
                     hint=(f"did you mean {close[0]!r}? " if close else "")
                     + "pick a known kind, or install the plugin that provides it")
    return kind


def _read_stdin(what: str) -> str:
    value = sys.stdin.read().strip()
    if not value:
        raise _usage(f"no {what} on stdin", hint="pipe it in: printf %s \"$VALUE\" | "
                     "assistant-cli providers add ...")
    return value


def _ref(ref: str, flag: str) -> str:
    if not ref.startswith(("keyring:", "env:")):
        raise _usage(f"{flag} must be a reference like keyring:NAME or env:NAME, got {ref!r}",
                     hint="store the value with `assistant-cli secrets set NAME` first")
    return ref


def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the provider, e.g. openai or local.")],
    kind: Annotated[str | None, typer.Option(
        "--kind", help="Adapter: openai, anthropic, openai-ws, grpc or a plugin's kind.")] = None,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="Service URL (default: the kind's public endpoint, if any).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name to ask for.")] = None,
    auth: Annotated[str | None, typer.Option(
        "--auth", help="none, api-key, oauth or mtls (default: guessed from the other "
        "options).")] = None,
    api_key_stdin: Annotated[bool, typer.Option(
        "--api-key-stdin", help="Read the API key from stdin; stored in the keyring as "
        "NAME_api_key.")] = False,
    api_key_ref: Annotated[str | None, typer.Option(
        "--api-key-ref", help="Use an existing keyring:NAME or env:NAME reference.")] = None,
    oauth_flow: Annotated[str, typer.Option(
        "--oauth-flow", help="authorization_code (browser), device_code (headless) or "
        "client_credentials (service account).")] = "authorization_code",
    oauth_authorize_url: Annotated[str | None, typer.Option(
        "--oauth-authorize-url", help="Authorization endpoint (authorization_code).")] = None,
    oauth_token_url: Annotated[str | None, typer.Option(
        "--oauth-token-url", help="Token endpoint.")] = None,
    oauth_device_url: Annotated[str | None, typer.Option(
        "--oauth-device-url", help="Device authorization endpoint (device_code).")] = None,
    oauth_client_id: Annotated[str | None, typer.Option(
        "--oauth-client-id", help="OAuth client id.")] = None,
    oauth_client_secret_stdin: Annotated[bool, typer.Option(
        "--oauth-client-secret-stdin", help="Read the client secret from stdin; stored in the "
        "keyring as NAME_client_secret.")] = False,
    oauth_client_secret_ref: Annotated[str | None, typer.Option(
        "--oauth-client-secret-ref", help="Use an existing keyring:/env: reference.")] = None,
    oauth_scope: Annotated[list[str] | None, typer.Option(
        "--oauth-scope", help="A scope to ask for; repeat for several.")] = None,
    oauth_redirect_port: Annotated[int, typer.Option(
        "--oauth-redirect-port", min=0, max=65535,
        help="Port of the loopback callback http://127.0.0.1:PORT/callback (0 = any).")] = 0,
    cert: Annotated[str | None, typer.Option(
        "--cert", help="PEM client certificate chain, leaf first (mutual TLS).")] = None,
    key: Annotated[str | None, typer.Option(
        "--key", help="PEM private key of that certificate (mutual TLS).")] = None,
    ca: Annotated[str | None, typer.Option(
        "--ca", help="PEM CA bundle that signed the service's certificate.")] = None,
    make_default: Annotated[bool, typer.Option(
        "--default", help="Make it the default provider.")] = False,
    fallback: Annotated[bool, typer.Option(
        "--fallback", help="Append it to assistant.fallbacks.")] = False,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Overwrite an existing provider of the same name.")] = False,
) -> None:
    """Add a provider to config.yaml; its secrets go to the keyring.

    Example: printf %s "$OPENAI_API_KEY" | assistant-cli providers add openai --kind openai
    --model gpt-4o-mini --api-key-stdin --default
    """
    from assistant_cli.config.edit import open_editor, save
    from assistant_cli.config.loader import parse_document, validate_document
    from assistant_cli.plugins import registry

    check_name(name)
    state = cli_state(ctx)
    editor = open_editor(state.paths.config_file, create=True)
    current = editor.data().get("providers") or {}
    if name in current and not replace:
        raise _usage(f"a provider named {name!r} already exists",
                     hint="pass --replace to overwrite it, or `assistant-cli providers remove "
                     f"{name}` first")
    kind = _kind(kind)
    cls = registry.load(registry.PROVIDERS, kind, key="--kind")
    base_url = check_url(_need(base_url, "base URL", "--base-url",
                               getattr(cls, "default_base_url", None)),
                         schemes=getattr(cls, "url_schemes", None), kind=kind)
    problem = cls.base_url_problem(base_url) if hasattr(cls, "base_url_problem") else None
    if problem:
        raise _usage(f"--base-url {base_url!r} is not an address kind {kind!r} can use",
                     hint=problem)
    model = _need(model, "model", "--model")
    auth = auth or ("mtls" if cert or key else "oauth" if oauth_token_url or oauth_client_id
                    else "api-key" if api_key_stdin or api_key_ref else None)
    if auth is None:
        auth = _ask("auth (none, api-key, oauth, mtls)", "api-key") or "none"
    if auth not in AUTH_TYPES:
        raise _usage(f"unknown auth type {auth!r}", hint=f"use one of: {', '.join(AUTH_TYPES)}")
    if api_key_stdin and oauth_client_secret_stdin:
        raise _usage("only one value can be read from stdin",
                     hint="store one with `assistant-cli secrets set NAME` and pass its "
                     "reference (--api-key-ref / --oauth-client-secret-ref)")
    block: dict[str, Any] = {"kind": kind, "base_url": base_url, "model": model}
    to_store: list[tuple[str, str]] = []
    warnings: list[str] = []
    if auth == "api-key":
        if api_key_ref:
            block["api_key"] = _ref(api_key_ref, "--api-key-ref")
        else:
            value = _read_stdin("API key") if api_key_stdin else _ask("API key", secret=True)
            if not value:
                raise _usage("missing the API key",
                             hint="pass --api-key-stdin (and pipe the key) or --api-key-ref "
                             "keyring:NAME")
            to_store.append((f"{name}_api_key", value))
            block["api_key"] = f"keyring:{name}_api_key"
    if auth == "none" and (cert or key):
        raise _usage("--auth none contradicts --cert/--key (a client certificate is a "
                     "credential)", hint="leave out --auth none for mutual TLS, or leave out "
                     "--cert and --key")
    tls = tls_files(cert, key, ca)
    if auth == "mtls" or cert or key:
        from assistant_cli.providers.mtls import TlsFiles, validate_client_files

        report = validate_client_files(TlsFiles(tls.get("ca_file"), tls.get("cert_file"),
                                                tls.get("key_file")))
        warnings += report.warnings
    elif "ca_file" in tls:
        from assistant_cli.providers.mtls import validate_ca_file

        warnings += validate_ca_file(tls["ca_file"])
    block.update(tls)
    if auth == "oauth":
        block["auth"] = _oauth_block(name, oauth_flow, oauth_authorize_url, oauth_token_url,
                                     oauth_device_url, oauth_client_id, oauth_scope or [],
                                     oauth_redirect_port, oauth_client_secret_ref,
                                     oauth_client_secret_stdin, to_store)
    elif auth == "mtls":
        block["auth"] = {"type": "mtls"}
    editor.set(("providers", name), block)
    data = editor.data()
    assistant = data.get("assistant") if isinstance(data.get("assistant"), dict) else {}
    if make_default:
        editor.set(("assistant", "provider"), name)
    fallbacks = list(assistant.get("fallbacks") or [])
    if fallback and name not in fallbacks:
        editor.set(("assistant", "fallbacks"), [*fallbacks, name])
    path = state.paths.config_file
    validate_document(parse_document(editor.text, path.name), path.name)
    session = open_session(ctx)
    audit = session.audit()
    for secret, value in to_store:
        session.secrets.set(secret, value)
    config = save(path, editor)
    audit.append("providers.add", name, "ok", kind=kind, base_url=base_url, model=model,
                 auth=auth, replaced=name in current, default=make_default, fallback=fallback)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    stored = f"; stored {', '.join(s for s, _ in to_store)} in the keyring" if to_store else ""
    print(f"{'replaced' if name in current else 'added'} provider {name} ({kind}, {model}, "
          f"auth {auth}){stored}; order: {' → '.join(config.provider_order())}")
    nxt = (f"assistant-cli providers login {name}" if auth == "oauth"
           else f"assistant-cli providers test {name}")
    print(f"next: {nxt}")


def _oauth_block(name: str, flow: str, authorize_url: str | None, token_url: str | None,
                 device_url: str | None, client_id: str | None, scopes: list[str],
                 redirect_port: int, secret_ref: str | None, secret_stdin: bool,
                 to_store: list[tuple[str, str]]) -> dict[str, Any]:
    if flow not in FLOWS:
        raise _usage(f"unknown OAuth flow {flow!r}", hint=f"use one of: {', '.join(FLOWS)}")
    token_url = check_url(_need(token_url, "token URL", "--oauth-token-url"),
                          "--oauth-token-url", WEB, query=True)
    block: dict[str, Any] = {"type": "oauth", "flow": flow}
    if flow == "authorization_code":
        block["authorize_url"] = check_url(_need(authorize_url, "authorization URL",
                                                 "--oauth-authorize-url"),
                                           "--oauth-authorize-url", WEB, query=True)
    if flow == "device_code":
        block["device_authorization_url"] = check_url(
            _need(device_url, "device authorization URL", "--oauth-device-url"),
            "--oauth-device-url", WEB, query=True)
    block["token_url"] = token_url
    block["client_id"] = _need(client_id, "client id", "--oauth-client-id")
    if secret_ref:
        block["client_secret"] = _ref(secret_ref, "--oauth-client-secret-ref")
    elif secret_stdin:
        to_store.append((f"{name}_client_secret", _read_stdin("client secret")))
        block["client_secret"] = f"keyring:{name}_client_secret"
    elif flow == "client_credentials":
        value = _ask("client secret", secret=True)
        if not value:
            raise _usage("the client_credentials flow needs a client secret",
                         hint="pass --oauth-client-secret-stdin or --oauth-client-secret-ref")
        to_store.append((f"{name}_client_secret", value))
        block["client_secret"] = f"keyring:{name}_client_secret"
    if scopes:
        block["scopes"] = scopes
    if redirect_port:
        block["redirect_port"] = redirect_port
    return block
