"""srim_tf: SRIM 4x super-resolution trained with conditional IMLE, in Keras 3 / TensorFlow."""

__version__ = "0.1.0"
