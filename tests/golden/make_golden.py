"""Writes tests/golden/<cpu kind>/*.npz: what the code computes today for fixed seeds, on
this kind of CPU (`cases.cpu_kind`: oneDNN's kernels, and so the last bits, differ by it).

`tests/test_same_outputs.py` compares the code against these files, so a refactor that
changes a sample or a training step fails. Regenerate them only for a change meant to alter
outputs, and say so in the commit: `python tests/golden/make_golden.py`. For a new kind of
CPU, run it on the code before the change under test (a checkout of the previous commit).
"""

import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from tests.golden import cases  # noqa: E402


def main():
    folder = os.path.join(HERE, cases.cpu_kind())
    os.makedirs(folder, exist_ok=True)
    np.savez_compressed(os.path.join(folder, "samples.npz"), **cases.samples())
    for name in cases.TRAINING_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            np.savez_compressed(os.path.join(folder, f"train_{name}.npz"),
                                **cases.trained_weights(name, os.path.join(tmp, "run")))


if __name__ == "__main__":
    main()
