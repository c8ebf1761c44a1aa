"""Serving code never loads the training stack (selection, the IMLE step, the loop)."""

import ast
import subprocess
import sys

TRAINING_MODULES = ("srim_tf.imle", "srim_tf.selection", "srim_tf.patchwise", "srim_tf.train")


def test_inference_modules_do_not_import_training():
    script = ("import sys, srim_tf.sampling, srim_tf.export, srim_tf.samplers\n"
              "print(sorted(m for m in sys.modules if m.startswith('srim_tf.')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert "srim_tf.sampling" in loaded and "srim_tf.export" in loaded
    assert not set(TRAINING_MODULES) & set(loaded), loaded
