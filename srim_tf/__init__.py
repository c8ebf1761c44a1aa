"""srim_tf: SRIM 4x super-resolution trained with conditional IMLE, in Keras 3 / TensorFlow.

Subpackages, in the order data flows: `data` -> `training` (selection, code pool, the step,
the loop) -> `model` (the generator and its checkpoints) -> `inference` (sampling, tiling,
consistency) -> `serving` (SavedModel, TFLite) and `evaluation`; `cli` holds the programs.
`settings` declares every training setting once (default, type, help, range), `checks`
holds the value checks every package shares.
"""

__version__ = "0.1.0"
