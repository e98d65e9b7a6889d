"""`monitor digest | head -1` ends quietly: no BrokenPipeError traceback (issue 16, item 7)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, SHIPPED_WATCHLISTS


@pytest.mark.parametrize("command", [["digest"], ["seeds", "suggest", str(ROOT / "seeds")]])
def test_a_closed_pipe_ends_the_command_quietly(tmp_path, command):
    feed = (ROOT / "monitor" / "cli" / "demo_feeds" / "wire-en.xml").as_uri()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "monitor.db"\n[watchlists]\npath = "{SHIPPED_WATCHLISTS.as_posix()}"\n'
        f'[digest]\ntimezone = "UTC"\nhtml_dir = "pages"\n[[feeds]]\nurl = "{feed}"\n',
        encoding="utf-8",
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "monitor"]
    subprocess.run(
        [*run, "poll", "--once", "--config", str(config)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        check=True,
    )
    extra = ["--config", str(config)] if command == ["digest"] else []
    proc = subprocess.Popen(
        [*run, *command, *extra],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline()  # like `head -1`: one line, then the pipe is closed
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
    assert proc.returncode == 0
