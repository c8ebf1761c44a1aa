"""The repository passes ruff with its own configuration (ruff.toml), so CI lints too."""

import subprocess
import sys

from tests.helpers import ROOT


def test_ruff_finds_nothing():
    # ruff comes with the test extra (pip install -e ".[test]").
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
