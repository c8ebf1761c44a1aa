"""The programs behind bin/: srim_train, srim_sample, srim_eval and srim_export.

Each `<program>.py` defines its own flags and a short `main` that calls the library;
`flags` holds srim_train's flags (every default lives there), `flag_checks` the validators,
`inference_flags` the flags the three inference programs share, `runner` one-line errors and
exit codes, `quiet` the start-up banner, `usage` --help, `output_names` srim_sample's file names.
"""

# Importing this package imports TensorFlow with its start-up banner hidden (quiet.py),
# before any program module imports it.
from srim_tf.cli import quiet  # noqa: E402

quiet.quiet_tensorflow_startup()
