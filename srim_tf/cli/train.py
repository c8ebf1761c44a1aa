"""srim_train: trains SRIM from flags into --workdir (see README.md).

Usage: srim_train --flagfile=configs/quickstart.cfg --workdir=/tmp/srim
"""

from absl import app, flags, logging

from srim_tf.cli import flags as srim_flags
from srim_tf.cli import runner
from srim_tf.training.loop import train_and_evaluate
from srim_tf.training.settings import RunSettings

FLAGS = flags.FLAGS
# --help lists the training flags, which srim_tf/cli/flags.py defines.
flags.adopt_module_key_flags(srim_flags)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}. Flags take the form --name=value.")
    if not FLAGS.workdir:
        raise app.UsageError("--workdir is required: the directory for checkpoints and summaries.")
    logging.set_verbosity(logging.INFO)
    # Built before anything else: a flag without a RunSettings field fails here, at start-up.
    settings = RunSettings.from_dict(srim_flags.values())
    results = train_and_evaluate(settings, FLAGS.workdir)
    if results:
        logging.info("Finished: %s", ", ".join(f"{k}={v:.4g}" for k, v in sorted(results.items())))


def run():
    runner.run(main)


if __name__ == "__main__":
    run()
