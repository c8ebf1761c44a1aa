"""The authors' code jitter is the default: drawn once when codes are chosen, not per step.

What "fixed" does is tested in tests/test_training.py (reused codes keep their jitter) and
tests/test_train_program.py (a pool draws it once); this checks that settings which name no
jitter flag get that behaviour, through the code pool srim_train runs.
"""

import numpy as np

from tests.conftest import tiny_config
from tests.test_train_program import _pool_batches


def test_a_run_without_jitter_flags_draws_jitter_once_as_the_authors_do():
    defaults = tiny_config()  # the flags' defaults for every jitter setting
    assert (defaults.code_jitter, defaults.code_jitter_mode) == (0.1, "fixed")
    plain = _pool_batches(3, code_jitter=0.0)
    default = _pool_batches(3)  # no jitter flag given
    for without, with_ in zip(plain, default):
        np.testing.assert_array_equal(without[2], with_[2])  # same images, same order
        for i in (3, 4):  # z_lo, z_up: the chosen codes plus a jitter of std 0.1
            assert 0.08 < np.std(with_[i] - without[i]) < 0.12
    # One draw for the pool's life: an image's codes are the same in every batch it is in.
    first = default[0]
    for batch in default[1:]:
        for j in range(2):
            k = next(k for k in range(2) if np.array_equal(first[2][k], batch[2][j]))
            np.testing.assert_array_equal(batch[3][j], first[3][k])
            np.testing.assert_array_equal(batch[4][j], first[4][k])
