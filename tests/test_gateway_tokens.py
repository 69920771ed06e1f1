"""Gateway tokens: HS256 with sub/aud/iat/exp and kid; every way a token is refused; rotation."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from assistant_cli.errors import ConfigError
from assistant_cli.gateway.tokens import (
    AUDIENCE,
    ISSUER,
    JwtKeys,
    SigningKey,
    TokenError,
    key_id,
    mint,
    rotate_jwt_secret,
    verify,
)
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore

SECRET = "s" * 40
KEY = SigningKey(key_id(SECRET), SECRET)


def _code(token: str, keys: list[SigningKey] | None = None) -> str:
    with pytest.raises(TokenError) as info:
        verify(token, keys or [KEY])
    return info.value.code


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_minted_token_has_the_claims_and_the_key_id() -> None:
    token = mint(KEY, "alice", 60)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256" and header["kid"] == KEY.kid
    claims = verify(token, [KEY])
    assert claims["sub"] == "alice" and claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == 60


def test_expired_token_is_refused() -> None:
    assert _code(mint(KEY, "alice", 60, now=time.time() - 120)) == "token_expired"


def test_token_signed_with_another_secret_is_refused() -> None:
    forged = mint(SigningKey(KEY.kid, "x" * 40), "alice", 60)
    assert _code(forged) == "bad_signature"


def test_token_for_another_audience_is_refused() -> None:
    now = int(time.time())
    token = jwt.encode({"sub": "a", "aud": "someone-else", "iss": ISSUER, "iat": now,
                        "exp": now + 60}, SECRET, algorithm="HS256", headers={"kid": KEY.kid})
    assert _code(token) == "wrong_audience"


def test_alg_none_token_is_refused() -> None:
    now = int(time.time())
    token = (_b64({"alg": "none", "typ": "JWT", "kid": KEY.kid}) + "."
             + _b64({"sub": "a", "aud": AUDIENCE, "iat": now, "exp": now + 60}) + ".")
    assert _code(token) == "bad_algorithm"


def test_other_algorithms_and_garbage_are_refused() -> None:
    now = int(time.time())
    hs512 = jwt.encode({"sub": "a", "aud": AUDIENCE, "iat": now, "exp": now + 60}, SECRET * 2,
                       algorithm="HS512", headers={"kid": KEY.kid})
    assert _code(hs512) == "bad_algorithm"
    assert _code("not-a-token") == "malformed"


def test_token_without_a_required_claim_is_refused() -> None:
    now = int(time.time())
    token = jwt.encode({"aud": AUDIENCE, "iat": now, "exp": now + 60}, SECRET,
                       algorithm="HS256", headers={"kid": KEY.kid})
    assert _code(token) == "malformed"


def test_token_from_another_issuer_or_none_is_refused() -> None:
    now = int(time.time())
    base = {"sub": "a", "aud": AUDIENCE, "iat": now, "exp": now + 60}
    for claims in ({**base, "iss": "someone-else"}, base):
        token = jwt.encode(claims, SECRET, algorithm="HS256", headers={"kid": KEY.kid})
        assert _code(token) == "wrong_issuer"
    assert jwt.decode(mint(KEY, "a", 60), options={"verify_signature": False})["iss"] == ISSUER


def test_token_living_longer_than_the_cap_is_refused() -> None:
    now = int(time.time())
    century = {"sub": "a", "aud": AUDIENCE, "iss": ISSUER, "iat": now,
               "exp": now + 100 * 365 * 86400}
    token = jwt.encode(century, SECRET, algorithm="HS256", headers={"kid": KEY.kid})
    assert _code(token) == "lifetime_too_long"  # default cap: 30 days
    assert verify(token, [KEY], max_lifetime=101 * 365 * 86400)["sub"] == "a"
    with pytest.raises(TokenError) as info:
        verify(mint(KEY, "a", 3600), [KEY], max_lifetime=600)
    assert info.value.code == "lifetime_too_long"


def test_minting_beyond_the_cap_is_refused_with_the_key_to_change() -> None:
    keys = JwtKeys(None, "--jwt-secret", grace=0, secret=SECRET, max_lifetime=3600)
    with pytest.raises(ConfigError, match=r"gateway\.max_token_lifetime"):
        keys.mint("alice", 7200)


def test_token_with_an_unknown_key_id_is_refused() -> None:
    other = SigningKey("feedfacefeed", "y" * 40)
    assert _code(mint(other, "alice", 60)) == "unknown_key"


def test_secret_is_generated_in_the_keyring_on_first_use() -> None:
    store = SecretStore(resolve())
    keys = JwtKeys(store, "keyring:gateway_jwt_secret", grace=60)
    stored = store.get("gateway_jwt_secret")
    assert stored and len(stored) >= 32
    assert keys.current.kid == key_id(stored)
    # The next start uses the same secret, so earlier tokens stay valid.
    token = keys.mint("alice", 60)
    assert JwtKeys(store, "keyring:gateway_jwt_secret", grace=60).verify(token)["sub"] == "alice"


def test_short_secret_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError) as info:
        JwtKeys(None, "--jwt-secret", grace=0, secret="short")
    assert "at least 32" in info.value.message and "openssl rand" in (info.value.hint or "")


def test_previous_key_verifies_during_the_grace_period_only() -> None:
    store = SecretStore(resolve())
    now = [time.time()]
    keys = JwtKeys(store, "keyring:gateway_jwt_secret", grace=3600, clock=lambda: now[0])
    old_token = keys.mint("alice", 7200)
    new_kid = rotate_jwt_secret(store)
    assert new_kid != key_id(keys.current.secret)
    keys.load()
    assert keys.current.kid == new_kid
    assert keys.verify(old_token)["sub"] == "alice"  # within the grace period
    assert keys.verify(keys.mint("bob", 60))["sub"] == "bob"
    now[0] += 3601
    with pytest.raises(TokenError) as info:
        keys.verify(old_token)
    assert info.value.code == "unknown_key"


def test_running_gateway_picks_up_a_rotation_done_elsewhere() -> None:
    store = SecretStore(resolve())
    running = JwtKeys(store, "keyring:gateway_jwt_secret", grace=3600)
    rotate_jwt_secret(store)  # e.g. `secrets rotate` in another process
    fresh = JwtKeys(store, "keyring:gateway_jwt_secret", grace=3600)
    running._loaded_at -= 10  # the refresh is rate-limited; pretend time passed
    assert running.verify(fresh.mint("carol", 60))["sub"] == "carol"
