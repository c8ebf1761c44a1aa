"""The programs behind bin/: srim_train, srim_sample, srim_eval and srim_export.

Each `<program>.py` holds its settings (a dataclass of declared fields), the program's body
as a function of them (`sample_images`, `evaluate_model`, `export_model`; srim_train's is
`training.loop.train_and_evaluate`), and a short `main` that reads the flags. The flags are
generated from the declarations when the program runs (`settings_flags`), so importing a
program defines none. `inference_settings` holds what sampling, evaluation and export share,
`runner` one-line errors and exit codes, `quiet` the start-up banner, `usage` --help,
`output_names` srim_sample's file names.

Importing a program imports no TensorFlow: its body does, when it runs, so `--help` and
flag errors take a fraction of a second (tests/test_programs_cli.py).
"""
