"""The package as a user gets it: a wheel built from this tree, installed into a fresh
virtualenv, runs `--version` and `doctor --offline`.

Kept fast and offline (~7 s): the wheel is built from a copy of the package without build
isolation (setuptools and wheel
come from the dev extra), and the fresh venv gets only the wheel (`--no-deps`, no index);
its dependencies are made importable through a .pth line naming this environment's
site-packages. A plain path in a .pth is appended to sys.path without processing the .pth
files found there, so this environment's editable install of assistant_cli stays inactive:
the code that runs is the wheel's, which the test checks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT, subprocess_env


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("install")
    # Built from a clean copy: setuptools' build/ in the checkout could hold stale modules.
    source = tmp / "source"
    shutil.copytree(ROOT / "assistant_cli", source / "assistant_cli",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(tmp / "dist"), str(source)],
        capture_output=True, text=True, timeout=240)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "dist").glob("assistant_cli-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    Path(site.stdout.strip(), "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_wheel_in_a_fresh_venv_runs_version_and_offline_doctor(
        fresh_venv: Path, tmp_path: Path) -> None:
    from assistant_cli import __version__

    exe = fresh_venv / "bin" / "assistant-cli"
    env = subprocess_env(tmp_path / "home")
    env.pop("PYTHONPATH")  # nothing from the source tree
    where = subprocess.run([str(fresh_venv / "bin" / "python"), "-c",
                            "import assistant_cli; print(assistant_cli.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert where.stdout.startswith(str(fresh_venv)), where.stdout  # the wheel's code runs
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"assistant-cli {__version__}"
    doctor = subprocess.run([str(exe), "doctor", "--offline"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    # no config yet: failures (exit 2) reported as a report, not a crash
    assert doctor.returncode == 2, doctor.stderr
    assert "✗ config.valid" in doctor.stdout and "Traceback" not in doctor.stderr
    # package data made it into the wheel (the dashboard's stylesheet)
    assert list(fresh_venv.glob("lib/python*/site-packages/assistant_cli/tui/*.tcss"))
