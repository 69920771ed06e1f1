"""Config loading: typed models, errors with file:line:key, example file coverage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from assistant_cli.config.loader import (
    atomic_write_text,
    literal_secret_warnings,
    load_config,
    parse_document,
    read_document,
    validate_document,
)
from assistant_cli.config.masking import masked
from assistant_cli.config.models import Config
from assistant_cli.config.template import starter_config
from assistant_cli.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        validate_document(parse_document(text, "config.yaml"), "config.yaml")
    assert info.value.exit_code == 2
    return info.value.message


def test_wrong_enum_value_names_file_line_key_and_choices() -> None:
    text = "platforms:\n  telegram:\n    api_token: keyring:t\n    mode: pull\n"
    assert _error(text) == (
        "config.yaml:4: platforms.telegram.mode: expected 'polling' or 'webhook', got 'pull'"
    )


def test_unknown_key_suggests_the_closest_known_key() -> None:
    msg = _error("assistant:\n  sytem_prompt: hi\n")
    assert msg.startswith("config.yaml:2: assistant.sytem_prompt: unknown key; did you mean "
                          "'system_prompt'?")


def test_unknown_key_inside_a_named_provider_is_reported_with_suggestion() -> None:
    msg = _error("providers:\n  p:\n    base_url: http://x\n    modle: m\n")
    assert msg.startswith("config.yaml:4: providers.p.modle: unknown key; did you mean "
                          "'model'?")
    # The missing `model` is the typo's consequence, not a second thing to fix.
    assert "required key is missing" not in msg


def test_missing_key_without_a_likely_typo_is_reported() -> None:
    msg = _error("providers:\n  p:\n    base_url: http://x\n    colour: m\n")
    assert "providers.p.colour: unknown key" in msg
    assert "config.yaml:2: providers.p.model: required key is missing" in msg


def test_malformed_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_document("assistant:\n  provider: [a\n", "config.yaml")
    assert info.value.message.startswith("config.yaml:")
    assert "not valid YAML" in info.value.message


def test_reference_to_missing_provider_is_an_error_with_suggestion() -> None:
    msg = _error("providers:\n  openai:\n    base_url: http://x\n    model: m\n"
                 "assistant:\n  provider: opnai\n")
    assert msg == ("config.yaml:6: assistant.provider: no provider named 'opnai'; did you mean "
                   "'openai'? (providers: openai)")


def test_wrong_type_reports_what_was_given() -> None:
    msg = _error("assistant:\n  history_length: lots\n")
    assert msg.startswith("config.yaml:2: assistant.history_length: ")
    assert "'lots'" in msg


def test_top_level_must_be_a_mapping() -> None:
    assert "expected a mapping" in _error("- a\n- b\n")


def test_empty_file_gives_defaults() -> None:
    config = validate_document(parse_document("", "c.yaml"), "c.yaml")
    assert config.gateway.host == "127.0.0.1"
    assert config.platforms.telegram is None
    assert config.provider_order() == []


def test_missing_file_error_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "config init" in str(info.value)


def test_literal_secret_is_accepted_with_a_warning() -> None:
    text = "providers:\n  o:\n    base_url: http://x\n    model: m\n    api_key: sk-literal123\n"
    doc = parse_document(text, "config.yaml")
    validate_document(doc, "config.yaml")
    warnings = literal_secret_warnings(doc, "config.yaml")
    assert len(warnings) == 1
    assert warnings[0].startswith("config.yaml:5: providers.o.api_key: literal secret")
    refs = "providers:\n  o:\n    base_url: http://x\n    model: m\n    api_key: env:K\n"
    assert literal_secret_warnings(parse_document(refs, "c"), "c") == []


def test_masking_hides_credential_headers_url_passwords_and_token_shapes() -> None:
    data = {"providers": {"o": {
        "base_url": "https://me:pa55word@host.example/v1?key=abcdef123",
        "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k1", "X-Title": "bot"},
        "model": "m", "system": "uses sk-abcdefghijklmnopqrstu inside"}}}
    out = masked(data)["providers"]["o"]
    assert out["base_url"] == "https://me:***@host.example/v1?key=***"
    assert out["headers"] == {"Authorization": "***", "X-Api-Key": "***", "X-Title": "bot"}
    assert "sk-abcdefghijklmnopqrstu" not in out["system"]
    assert out["model"] == "m"


def test_masking_hides_literals_but_shows_references() -> None:
    data = {"providers": {"o": {"api_key": "sk-secret", "model": "m"}},
            "platforms": {"telegram": {"api_token": "keyring:tg"}}}
    out = masked(data)
    assert out["providers"]["o"]["api_key"] == "***"
    assert out["providers"]["o"]["model"] == "m"
    assert out["platforms"]["telegram"]["api_token"] == "keyring:tg"


def test_provider_order_is_default_then_fallbacks_without_duplicates() -> None:
    text = ("providers:\n  a: {base_url: 'http://a', model: m}\n  b: {base_url: 'http://b', "
            "model: m}\nassistant:\n  provider: b\n  fallbacks: [b, a]\n")
    config = validate_document(parse_document(text, "c"), "c")
    assert config.provider_order() == ["b", "a"]


def test_starter_config_validates() -> None:
    config = validate_document(parse_document(starter_config(), "c"), "c")
    assert config.assistant.provider == "openai"
    assert config.providers["openai"].api_key == "keyring:openai_api_key"


def _key_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key path a config can contain (named dict entries shown as `*`)."""
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.add(path)
        ann: Any = info.annotation
        args: tuple[Any, ...] = getattr(ann, "__args__", (ann,))
        if getattr(ann, "__origin__", None) is dict:
            value = args[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                paths |= _key_paths(value, f"{path}.*.")
            continue
        for arg in args:
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                paths |= _key_paths(arg, f"{path}.")
    return paths


def _doc_paths(data: Any, prefix: str = "", named: frozenset[str] = frozenset({"providers"})
               ) -> set[str]:
    paths: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            paths.add(path)
            if prefix.rstrip(".") in named:
                paths.discard(path)
                path = f"{prefix}*"
            paths |= _doc_paths(value, f"{path}.", named)
    return paths


def test_config_example_documents_every_key_and_validates() -> None:
    path = ROOT / "config.example.yaml"
    doc = read_document(path)
    config = validate_document(doc, path.name)
    assert isinstance(config, Config)
    assert literal_secret_warnings(doc, path.name) == []
    named = frozenset({"providers", "tools.mcp_servers", "tools.policy"})
    missing = _key_paths(Config) - _doc_paths(doc.data, named=named)
    assert not missing, f"config.example.yaml does not document: {sorted(missing)}"


def test_failed_config_write_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    path = tmp_path / "config.yaml"
    path.write_text("version: 1\n")

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("assistant_cli.paths.os.replace", disk_full)
    with pytest.raises(ConfigError) as info:
        atomic_write_text(path, "providers: {}\n" * 1000)
    assert f"cannot write {path}: No space left on device" in info.value.message
    assert path.read_text() == "version: 1\n"
    assert [p.name for p in path.parent.glob(".config.yaml*")] == []  # no temp file left


def test_config_write_replaces_the_file_with_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("old\n")
    path.chmod(0o644)
    atomic_write_text(path, "version: 1\n")
    assert path.read_text() == "version: 1\n"
    assert path.stat().st_mode & 0o777 == 0o600


def test_yaml_alias_bomb_is_refused_naming_file_and_line() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x]"]
    for n in range(1, 7):  # 6^7 nodes if expanded; a real bomb nests deeper
        refs = ", ".join([f"*a{n - 1}"] * 6)
        levels.append(f"a{n}: &a{n} [{refs}]")
    text = "version: 1\n" + "\n".join(levels) + "\n"
    with pytest.raises(ConfigError) as info:
        parse_document(text, "config.yaml")
    assert info.value.message.startswith("config.yaml:4: ")
    assert "alias" in info.value.message and "anchor" in (info.value.hint or "")


def test_a_few_aliases_still_work() -> None:
    text = ("providers:\n  a: &p {base_url: 'http://127.0.0.1:9/v1', model: m}\n"
            "  b: *p\n  c:\n    <<: *p\n    model: other\n")
    providers = validate_document(parse_document(text, "c"), "c").providers
    assert (providers["b"].model, providers["c"].model) == ("m", "other")
    assert providers["c"].base_url == "http://127.0.0.1:9/v1"


def test_empty_value_is_null_not_a_crash() -> None:
    doc = parse_document("gateway:\n  tls_cert:\n  tls_key: ~\n  port: 1\n", "c")
    assert doc.data == {"gateway": {"tls_cert": None, "tls_key": None, "port": 1}}
    assert validate_document(doc, "c").gateway.tls_cert is None


def test_empty_value_for_a_required_key_names_the_line() -> None:
    doc = parse_document("providers:\n  main:\n    base_url: http://127.0.0.1:9/v1\n"
                         "    model:\n", "config.yaml")
    with pytest.raises(ConfigError) as info:
        validate_document(doc, "config.yaml")
    assert "config.yaml:4: providers.main.model" in info.value.message


def test_setup_asks_again_instead_of_writing_an_empty_required_value() -> None:
    import io

    from rich.console import Console

    from assistant_cli.cli.setup_wizard import ask_required

    out = io.StringIO()
    answer = ask_required("Model", None, Console(file=out), stream=io.StringIO("\n  \nm1\n"))
    assert answer == "m1" and out.getvalue().count("needed") == 2
    assert ask_required("Model", "gpt", Console(file=io.StringIO()),
                        stream=io.StringIO("\n")) == "gpt"


def test_a_state_url_with_a_password_is_refused_naming_the_keyring_fix() -> None:
    message = _error("state:\n  url: postgresql://bot:hunter2@db:5432/a\n")
    assert message.startswith("config.yaml:2: state")
    assert "keyring:postgres_password" in message and "hunter2" not in message


def test_a_state_url_must_be_postgresql() -> None:
    assert "postgresql://" in _error("state:\n  url: mysql://db/a\n")


@pytest.mark.parametrize("key", ["stat", "States", "state_"])
def test_a_misspelt_state_section_is_refused_by_commands_that_open_the_state(key: str) -> None:
    """Else `pairing`, `audit`, `state info` would quietly use the SQLite file instead of
    the PostgreSQL database the user meant (they validate only the state section)."""
    from assistant_cli.store.backend import open_state
    from tests.doctor_support import write_config

    paths = write_config(f"version: 1\n{key}:\n  url: postgresql://a@db/x\n")
    with pytest.raises(ConfigError) as caught:
        open_state(paths)
    assert str(caught.value).startswith(f"config.yaml:2: {key}: not a setting")
    assert "did you mean 'state'?" in str(caught.value)
    assert not paths.database.exists()  # refused before anything was opened


def test_keys_merely_starting_like_state_are_not_taken_for_it() -> None:
    from assistant_cli.store.backend import state_section
    from tests.doctor_support import write_config

    assert state_section(write_config("version: 1\nstatus: 1\n")) is None
