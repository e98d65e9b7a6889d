"""mypy is clean on monitor/ (the settings are in pyproject.toml): a type error fails the suite."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_error_in_monitor(tmp_path):
    pytest.importorskip("mypy", reason="mypy is in the test extra: pip install -e .[test]")
    cache = tmp_path / "mypy-cache"  # nothing written into the checkout
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    shutil.rmtree(cache, ignore_errors=True)
    assert done.returncode == 0, done.stdout + done.stderr
