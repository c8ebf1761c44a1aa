"""The authors' code jitter is the default: drawn once when codes are chosen, not per step.

What "fixed" does is tested in tests/test_training.py (reused codes keep their jitter) and
tests/test_train_program.py (a pool draws it once); this checks that a run gets it unasked.
"""

from absl import flags

from srim_tf.training import build
from tests.conftest import tiny_config


def test_a_run_without_jitter_flags_draws_jitter_once_as_the_authors_do():
    tiny_config()  # parses the flags
    flag = flags.FLAGS["code_jitter_mode"]
    assert flag.default == "fixed" and "fixed (the authors')" in flag.help
    config = tiny_config()
    assert config["code_jitter_mode"] == "fixed" and config["code_jitter"] == 0.1
    model, _ = build.srim(config)
    assert model.code_jitter_mode == "fixed" and model.code_jitter == 0.1
