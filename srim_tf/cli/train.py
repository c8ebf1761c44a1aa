"""srim_train: trains SRIM from flags into --workdir (see README.md).

Usage: srim_train --flagfile=configs/quickstart.cfg --workdir=/tmp/srim
Every training flag is a field of `srim_tf.settings.RunSettings`, where its default, help
and accepted values are declared.
"""

from absl import app, flags, logging

from srim_tf.cli import runner, settings_flags

FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}. Flags take the form --name=value.")
    logging.set_verbosity(logging.INFO)
    try:  # Before anything is built: values that do not work together fail at start-up.
        settings = settings_flags.run_settings()
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    runner.start_tensorflow()
    from srim_tf.training.loop import train_and_evaluate

    results = train_and_evaluate(settings, FLAGS.workdir)
    if results:
        logging.info("Finished: %s", ", ".join(f"{k}={v:.4g}" for k, v in sorted(results.items())))


def define_flags():
    settings_flags.define_run_flags(__name__)
    if "workdir" not in FLAGS:
        flags.DEFINE_string("workdir", None, "Directory of checkpoints, summaries and config.json.",
                            module_name=__name__)
        flags.mark_flag_as_required("workdir")


def run():
    define_flags()
    runner.run(main)


if __name__ == "__main__":
    run()
