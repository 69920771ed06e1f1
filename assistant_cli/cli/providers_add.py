"""`assistant-cli providers add`: validate everything, store secrets, then edit config.yaml."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant_cli.cli.common import cli_state
from assistant_cli.cli.providers_input import WEB, check_url, tls_files
from assistant_cli.cli.providers_input import usage_error as _usage
from assistant_cli.cli.providers_support import check_name, known_kinds, open_session

if TYPE_CHECKING:
    from assistant_cli.config.edit import ConfigEditor
    from assistant_cli.providers.base import Provider

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
    # Long only by its signature, which is the command's interface: one option per flag.
    from assistant_cli.config.edit import open_editor

    check_name(name)
    state = cli_state(ctx)
    editor = open_editor(state.paths.config_file, create=True)
    replaced = name in (editor.data().get("providers") or {})
    if replaced and not replace:
        raise _usage(f"a provider named {name!r} already exists",
                     hint="pass --replace to overwrite it, or `assistant-cli providers remove "
                     f"{name}` first")
    kind = _kind(kind)
    cls = _adapter(kind)
    new = NewProvider(name, kind, {"kind": kind, "base_url": _base_url(cls, kind, base_url),
                                   "model": _need(model, "model", "--model")})
    new.auth = _auth_type(auth, cert=cert, key=key, oauth=bool(oauth_token_url
                                                                   or oauth_client_id),
                          api_key=api_key_stdin or bool(api_key_ref))
    if api_key_stdin and oauth_client_secret_stdin:
        raise _usage("only one value can be read from stdin",
                     hint="store one with `assistant-cli secrets set NAME` and pass its "
                     "reference (--api-key-ref / --oauth-client-secret-ref)")
    if new.auth == "api-key":
        _api_key(new, api_key_ref, api_key_stdin)
    _tls(new, cert, key, ca)
    if new.auth == "oauth":
        new.block["auth"] = _oauth_block(name, oauth_flow, oauth_authorize_url, oauth_token_url,
                                         oauth_device_url, oauth_client_id, oauth_scope or [],
                                         oauth_redirect_port, oauth_client_secret_ref,
                                         oauth_client_secret_stdin, new.to_store)
    elif new.auth == "mtls":
        new.block["auth"] = {"type": "mtls"}
    _place(editor, new, make_default=make_default, fallback=fallback)
    order = _commit(ctx, state.paths.config_file, editor, new, replaced=replaced,
                    make_default=make_default, fallback=fallback)
    for w in new.warnings:
        print(f"warning: {w}", file=sys.stderr)
    stored = (f"; stored {', '.join(s for s, _ in new.to_store)} in the keyring"
              if new.to_store else "")
    print(f"{'replaced' if replaced else 'added'} provider {name} ({kind}, "
          f"{new.block['model']}, auth {new.auth}){stored}; order: {' → '.join(order)}")
    nxt = (f"assistant-cli providers login {name}" if new.auth == "oauth"
           else f"assistant-cli providers test {name}")
    print(f"next: {nxt}")


@dataclass
class NewProvider:
    """What `providers add` is about to write: the config block, the secrets for the keyring
    and warnings for the user."""

    name: str
    kind: str
    block: dict[str, Any]
    auth: str = "none"
    to_store: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _adapter(kind: str) -> type[Provider]:
    from assistant_cli.plugins import registry
    from assistant_cli.providers.base import Provider

    cls = registry.load(registry.PROVIDERS, kind, key="--kind")
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise _usage(f"kind {kind!r} does not name a provider adapter ({cls!r})",
                     hint="the plugin that provides it must subclass "
                     "assistant_cli.providers.base.Provider")
    return cls


def _base_url(cls: type[Provider], kind: str, base_url: str | None) -> str:
    url = check_url(_need(base_url, "base URL", "--base-url", cls.default_base_url),
                    schemes=cls.url_schemes, kind=kind)
    problem = cls.base_url_problem(url)
    if problem:
        raise _usage(f"--base-url {url!r} is not an address kind {kind!r} can use",
                     hint=problem)
    return url


def _auth_type(auth: str | None, *, cert: str | None, key: str | None, oauth: bool,
               api_key: bool) -> str:
    """--auth, else guessed from the other options, else asked, else none."""
    auth = auth or ("mtls" if cert or key else "oauth" if oauth
                    else "api-key" if api_key else None)
    if auth is None:
        auth = _ask("auth (none, api-key, oauth, mtls)", "api-key") or "none"
    if auth not in AUTH_TYPES:
        raise _usage(f"unknown auth type {auth!r}", hint=f"use one of: {', '.join(AUTH_TYPES)}")
    return auth


def _api_key(new: NewProvider, ref: str | None, from_stdin: bool) -> None:
    if ref:
        new.block["api_key"] = _ref(ref, "--api-key-ref")
        return
    value = _read_stdin("API key") if from_stdin else _ask("API key", secret=True)
    if not value:
        raise _usage("missing the API key",
                     hint="pass --api-key-stdin (and pipe the key) or --api-key-ref "
                     "keyring:NAME")
    new.to_store.append((f"{new.name}_api_key", value))
    new.block["api_key"] = f"keyring:{new.name}_api_key"


def _tls(new: NewProvider, cert: str | None, key: str | None, ca: str | None) -> None:
    """Check the TLS files before they are written to the config (bad ones are refused)."""
    from assistant_cli.providers.mtls import TlsFiles, validate_ca_file, validate_client_files

    if new.auth == "none" and (cert or key):
        raise _usage("--auth none contradicts --cert/--key (a client certificate is a "
                     "credential)", hint="leave out --auth none for mutual TLS, or leave out "
                     "--cert and --key")
    tls = tls_files(cert, key, ca)
    if new.auth == "mtls" or cert or key:
        report = validate_client_files(TlsFiles(tls.get("ca_file"), tls.get("cert_file"),
                                                tls.get("key_file")))
        new.warnings += report.warnings
    elif "ca_file" in tls:
        new.warnings += validate_ca_file(tls["ca_file"])
    new.block.update(tls)


def _place(editor: ConfigEditor, new: NewProvider, *, make_default: bool,
           fallback: bool) -> None:
    """The provider's block, and its place in the turn order, in the edited text."""
    editor.set(("providers", new.name), new.block)
    data = editor.data()
    assistant = data.get("assistant") if isinstance(data.get("assistant"), dict) else {}
    if make_default:
        editor.set(("assistant", "provider"), new.name)
    fallbacks = list(assistant.get("fallbacks") or [])
    if fallback and new.name not in fallbacks:
        editor.set(("assistant", "fallbacks"), [*fallbacks, new.name])


def _commit(ctx: typer.Context, path: Path, editor: ConfigEditor, new: NewProvider, *,
            replaced: bool, make_default: bool, fallback: bool) -> list[str]:
    """Validate the edited config, store the secrets, save, audit; the new provider order."""
    from assistant_cli.config.edit import save
    from assistant_cli.config.loader import parse_document, validate_document

    validate_document(parse_document(editor.text, path.name), path.name)
    session = open_session(ctx)
    audit = session.audit()
    for secret, value in new.to_store:
        session.secrets.set(secret, value)
    config = save(path, editor)
    audit.append("providers.add", new.name, "ok", kind=new.kind,
                 base_url=new.block["base_url"], model=new.block["model"], auth=new.auth,
                 replaced=replaced, default=make_default, fallback=fallback)
    return config.provider_order()


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
