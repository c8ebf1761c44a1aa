"""Flags of the programs that run a trained generator: srim_sample, srim_eval, srim_export.

Defined once here and adopted as key flags by each program, so `--help` lists them there.
"""

from absl import flags

from srim_tf.inference import consistency

flags.DEFINE_bool("consistency", False,
                  "Back-project every output onto its input so that, downsampled as the input was"
                  " made (MATLAB bicubic), it gives the input back (LR-PSNR > 45 dB; see README).")
flags.DEFINE_enum("precision", "float32", ["float32", "bfloat16", "float16"],
                  "What the generator computes in: bfloat16 is faster on CPUs with AVX-512 BF16"
                  " or AMX and on GPUs, at a small PSNR cost (README, Sampling); float16 suits"
                  " GPUs only. Inputs and outputs keep their dtypes."
                  " A SavedModel computes in the precision it was exported in.")


def consistency_iterations():
    """Back-projection passes `--consistency` asks for (0: off)."""
    return consistency.DEFAULT_ITERATIONS if flags.FLAGS.consistency else 0
