"""Run `nginx -t` on one of the documented site configs (docs/deploy/), where nginx exists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fakes.pki import make_pki

LETSENCRYPT = "/etc/letsencrypt/live/assistant.example.com"


def nginx_accepts(site_text: str, tmp_path: Path) -> None:
    """Fail unless nginx takes the site config without errors or warnings; skip (saying
    so) where nginx is not installed. The certificate lines get real files first, as the
    guides tell the reader to do."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if nginx is None:
        pytest.skip("nginx is not installed: the example was not checked with nginx -t")
    pki = make_pki(tmp_path / "pki")
    site = site_text.replace(f"{LETSENCRYPT}/fullchain.pem", pki.path("server.pem")).replace(
        f"{LETSENCRYPT}/privkey.pem", pki.path("server.key"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n")
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "[warn]" not in done.stderr, done.stderr
