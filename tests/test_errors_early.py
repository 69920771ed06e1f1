"""Errors that catch mistakes early: unknown provider kinds, command typos, no terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clirun import cli


def test_a_mistyped_provider_kind_fails_validation_with_file_line_and_suggestion(
        capsys: pytest.CaptureFixture[str], isolated_home: Path) -> None:
    (isolated_home / "config.yaml").write_text(
        "providers:\n  main:\n    kind: opnai\n    base_url: http://127.0.0.1:9/v1\n"
        "    model: m\n")
    code, out, err = cli(capsys, "config", "validate")
    assert code == 2 and out == ""
    assert "config.yaml:3: providers.main.kind: unknown provider kind 'opnai'; did you mean " \
           "'openai'?" in err
    code, _, err = cli(capsys, "doctor", "--offline", "--only", "config")
    assert code == 2 and "opnai" in err + _


def test_a_top_level_typo_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "pairng")
    assert code == 2 and "No such command 'pairng'. Did you mean 'pairing'?" in err


def test_dashboard_refuses_without_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "dashboard")
    assert code == 2 and out == "" and "the dashboard needs a terminal" in err
