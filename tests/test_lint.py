"""The repository passes ruff with its own configuration (ruff.toml), so CI lints too."""

import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def test_ruff_finds_nothing():
    if shutil.which("ruff") is None and subprocess.run([sys.executable, "-m", "ruff", "--version"],
                                                       capture_output=True).returncode:
        pytest.fail("ruff is not installed: pip install -e '.[test]' installs it")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
