"""The programs behind bin/: srim_train, srim_sample, srim_eval and srim_export.

Each `<program>.py` holds its settings (a dataclass of declared fields), the program's body
as a function of them (`sample_images`, `evaluate_model`, `export_model`; srim_train's is
`training.loop.train_and_evaluate`), and a short `main` that reads the flags. The flags are
generated from the declarations when the program runs (`settings_flags`), so importing a
program defines none. `inference_settings` holds what sampling, evaluation and export share,
`runner` one-line errors and exit codes, `quiet` the start-up banner, `usage` --help,
`output_names` srim_sample's file names.
"""

# Importing this package imports TensorFlow with its start-up banner hidden (quiet.py),
# before any program module imports it.
from srim_tf.cli import quiet  # noqa: E402

quiet.quiet_tensorflow_startup()
