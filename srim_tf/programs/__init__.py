"""The mains behind bin/. Importing this package imports TensorFlow with its start-up banner
hidden (see quiet.py), before any program module imports it."""

from srim_tf.programs import quiet

quiet.quiet_tensorflow_startup()
