"""Writes tests/golden/*.npz: what the code computes today for fixed seeds.

`tests/test_same_outputs.py` compares the code against these files, so a refactor that
changes a sample or a training step fails. Regenerate them only for a change meant to alter
outputs, and say so in the commit: `python tests/golden/make_golden.py`.
"""

import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from tests.golden import cases  # noqa: E402


def main():
    np.savez_compressed(os.path.join(HERE, "samples.npz"), **cases.samples())
    for name in cases.TRAINING_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            np.savez_compressed(os.path.join(HERE, f"train_{name}.npz"),
                                **cases.trained_weights(name, os.path.join(tmp, "run")))


if __name__ == "__main__":
    main()
