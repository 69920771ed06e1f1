"""Gateway access tokens: HS256 JWTs, their signing keys in the keyring, and key rotation.

A token carries `sub` (who: shown in the audit log as `token:SUB`), `aud`
(always `assistant-cli-gateway`), `iss` (always `assistant-cli`), `iat` and `exp`; its
header names the signing key with `kid`. A token meant to live longer than
`gateway.max_token_lifetime` (default 30 days) is refused, so a leaked one cannot be
good for a century. The key id is derived from the secret (a short hash), so the keyring needs no
extra metadata for it. Rotation (`rotate_jwt_secret`) stores a fresh secret under the
usual name and moves the old one to `NAME_previous`; the previous key keeps verifying
tokens for `gateway.rotation_grace` seconds after the rotation (its keyring entry's
rotation time in `secrets_meta` says when that was).

PyJWT is imported inside functions: CLI commands that only locate the gateway
(gateway/local.py) never sign or verify a token.
"""

from __future__ import annotations

import hashlib
import secrets as pysecrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant_cli.errors import ConfigError, KeyringUnavailable
from assistant_cli.observability.logs import register_secret

if TYPE_CHECKING:
    from assistant_cli.secrets.store import SecretStore

AUDIENCE = "assistant-cli-gateway"
ISSUER = "assistant-cli"
DEFAULT_MAX_LIFETIME = 30 * 86_400
ALGORITHM = "HS256"
DEFAULT_REF = "keyring:gateway_jwt_secret"
MIN_SECRET_LENGTH = 32
LEEWAY_SECONDS = 5
REFRESH_INTERVAL = 2.0


@dataclass(frozen=True)
class SigningKey:
    """One HMAC secret and its id; `valid_until` is set for a rotated-out key."""

    kid: str
    secret: str
    valid_until: float | None = None


class TokenError(Exception):
    """Why a token was refused. `code` is stable (the dashboard matches on it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def key_id(secret: str) -> str:
    return hashlib.sha256(b"assistant-cli kid:" + secret.encode()).hexdigest()[:12]


def new_secret() -> str:
    return pysecrets.token_urlsafe(32)


def check_secret(secret: str, where: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"{where}: the JWT secret is {len(secret)} characters long; at least "
            f"{MIN_SECRET_LENGTH} are needed",
            hint="leave gateway.jwt_secret at keyring:gateway_jwt_secret (generated for you), "
            "or use a long random value, e.g. `openssl rand -base64 32`")
    return secret


def mint(key: SigningKey, sub: str, ttl: float, *, now: float | None = None) -> str:
    """A signed token for `sub`, valid for `ttl` seconds."""
    import jwt

    issued = int(time.time() if now is None else now)
    claims = {"sub": sub, "aud": AUDIENCE, "iss": ISSUER, "iat": issued,
              "exp": issued + int(ttl)}
    return jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid})


def verify(token: str, keys: list[SigningKey], *, now: float | None = None,
           max_lifetime: float = DEFAULT_MAX_LIFETIME) -> dict[str, Any]:
    """The token's claims, or TokenError saying why it is not acceptable."""
    import jwt

    moment = time.time() if now is None else now
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise TokenError("malformed", "the token is not a JWT") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError("bad_algorithm", f"tokens must be signed with {ALGORITHM}, "
                         f"not {header.get('alg')!r}")
    kid = header.get("kid")
    key = next((k for k in keys if k.kid == kid), None)
    if key is None:
        raise TokenError("unknown_key", "the token was signed with a key this gateway does "
                         "not know (rotated away, or another gateway's)")
    if key.valid_until is not None and moment > key.valid_until:
        raise TokenError("unknown_key", "the token was signed with a rotated-out key whose "
                         "grace period is over")
    claims = _decode(token, key)
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise TokenError("malformed", "the token's subject must be a non-empty string")
    if claims["exp"] - claims["iat"] > max_lifetime:
        raise TokenError("lifetime_too_long", "the token was made to live longer than "
                         f"gateway.max_token_lifetime ({int(max_lifetime)} s)")
    return claims


def _decode(token: str, key: SigningKey) -> dict[str, Any]:
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token, key.secret, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
            leeway=LEEWAY_SECONDS, options={"require": ["sub", "aud", "iat", "exp"]})
    except (jwt.InvalidIssuerError, jwt.MissingRequiredClaimError) as exc:
        if isinstance(exc, jwt.InvalidIssuerError) or exc.claim == "iss":
            raise TokenError("wrong_issuer", f"the token was not issued by {ISSUER}") from None
        raise TokenError("malformed", f"the token has no {exc.claim!r} claim") from None
    except jwt.ExpiredSignatureError:
        raise TokenError("token_expired", "the token has expired") from None
    except jwt.InvalidAudienceError:
        raise TokenError("wrong_audience", f"the token is not for {AUDIENCE}") from None
    except jwt.InvalidSignatureError:
        raise TokenError("bad_signature", "the token's signature does not match") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("malformed", "the token was issued in the future") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError("malformed", f"the token is invalid: {exc}") from None
    return claims


def _keyring_name(ref: str) -> str | None:
    return ref[len("keyring:"):] if ref.startswith("keyring:") else None


def ensure_secret(store: SecretStore, ref: str, where: str = "gateway.jwt_secret") -> str:
    """Resolve the secret reference; a `keyring:` one is generated on first use."""
    name = _keyring_name(ref)
    if name is not None and not store.get(name):
        value = new_secret()
        store.set(name, value)
        register_secret(value)
        return value
    return check_secret(store.resolve(ref, key=where), where)


def rotate_jwt_secret(store: SecretStore, name: str = "gateway_jwt_secret") -> str:
    """Replace the gateway secret; the old one stays valid for the grace period.

    Returns the new key id. Used by `assistant-cli secrets rotate gateway_jwt_secret`.
    """
    old = store.get(name)
    if old:
        store.set(f"{name}_previous", old)
    value = new_secret()
    store.set(name, value)
    return key_id(value)


class JwtKeys:
    """The keys a gateway signs and verifies with, re-read when an unknown `kid` shows up
    (so `secrets rotate` takes effect in a running `serve` without a restart)."""

    def __init__(self, store: SecretStore | None, ref: str, *, grace: float,
                 secret: str | None = None, clock: Callable[[], float] = time.time,
                 max_lifetime: float = DEFAULT_MAX_LIFETIME) -> None:
        self.store = store
        self.ref = ref
        self.grace = grace
        self.max_lifetime = max_lifetime
        self.clock = clock
        self._fixed = secret  # a given secret: no keyring, no rotation
        self.ephemeral: str | None = None
        self._loaded_at = -REFRESH_INTERVAL
        self.current = SigningKey("", "")
        self.previous: SigningKey | None = None
        self.load()

    def load(self) -> None:
        self._loaded_at = time.monotonic()
        if self._fixed is not None:
            secret = check_secret(self._fixed, "--jwt-secret")
            self.current = SigningKey(key_id(secret), secret)
            return
        assert self.store is not None
        name = _keyring_name(self.ref)
        try:
            secret = ensure_secret(self.store, self.ref)
        except KeyringUnavailable:
            if name is None:
                raise
            # No keyring on this machine: serve still runs, with a secret that lives only as
            # long as this process (`serve` warns about it).
            if self.ephemeral is None:
                self.ephemeral = new_secret()
            self.current, self.previous = SigningKey(key_id(self.ephemeral), self.ephemeral), None
            return
        self.current = SigningKey(key_id(secret), secret)
        self.previous = None
        if name is None:
            return
        old = self.store.get(f"{name}_previous")
        if not old or old == secret:
            return
        rotated_at = next((i.rotated_at for i in self.store.list()
                           if i.name == f"{name}_previous"), 0.0)
        self.previous = SigningKey(key_id(old), old, rotated_at + self.grace)

    def keys(self) -> list[SigningKey]:
        return [self.current] + ([self.previous] if self.previous else [])

    def mint(self, sub: str, ttl: float) -> str:
        if ttl > self.max_lifetime:
            raise ConfigError(
                f"a token valid {int(ttl)} s would outlive gateway.max_token_lifetime "
                f"({int(self.max_lifetime)} s), so the gateway would refuse it",
                hint="ask for a shorter lifetime, or raise gateway.max_token_lifetime")
        return mint(self.current, sub, ttl, now=self.clock())

    def verify(self, token: str) -> dict[str, Any]:
        try:
            return verify(token, self.keys(), now=self.clock(), max_lifetime=self.max_lifetime)
        except TokenError as exc:
            stale = time.monotonic() - self._loaded_at >= REFRESH_INTERVAL
            if exc.code != "unknown_key" or self._fixed is not None or not stale:
                raise
        self.load()
        return verify(token, self.keys(), now=self.clock(), max_lifetime=self.max_lifetime)
