"""Layers Keras lacks: weight-normalised convolution, and bilinear upsampling of dynamic sizes.

Weight-normalised convolution, as in the authors' SRIM code.

Keras 3 has no weight-normalisation wrapper, so this is a `Conv2D` whose kernel is
`g * v / ||v||` with the norm taken per output channel (Salimans & Kingma, 2016).
Unlike batch norm it keeps every sample independent of the others in its batch, which
matters when many noise samples of one image share a batch during selection.
"""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="srim_tf")
class WeightNormConv2D(keras.layers.Conv2D):
    """A `Conv2D` with a weight-normalised kernel.

    Args:
        *args, **kwargs: as for `keras.layers.Conv2D`.

    Examples:
        >>> layer = WeightNormConv2D(8, 3, padding="same")
        >>> layer(keras.ops.zeros((1, 5, 5, 3))).shape
        (1, 5, 5, 8)
    """

    def build(self, input_shape):
        super().build(input_shape)
        # One gain per output channel, initialised to the initial kernel's norm so the
        # layer starts as the plain convolution it wraps.
        norm = ops.sqrt(ops.sum(ops.square(self.kernel), axis=(0, 1, 2)))
        self.gain = self.add_weight(
            name="gain", shape=(self.filters,), initializer="ones", trainable=True)
        self.gain.assign(norm)

    def convolution_op(self, inputs, kernel):
        norm = ops.sqrt(ops.sum(ops.square(kernel), axis=(0, 1, 2)) + 1e-12)
        return super().convolution_op(inputs, kernel * (self.gain / norm))

    # Conv2D saves only its kernel and bias; the layer default saves every variable.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)


@keras.saving.register_keras_serializable(package="srim_tf")
class BilinearUpsample(keras.layers.Layer):
    """Bilinear upsampling by an integer factor, for inputs of any (dynamic) size.

    `keras.layers.UpSampling2D` needs static sizes inside a `tf.function` with unknown
    height and width, which serving signatures have.

    Args:
        factor: integer upsampling factor.

    Examples:
        >>> BilinearUpsample(2)(keras.ops.zeros((1, 3, 5, 2))).shape
        TensorShape([1, 6, 10, 2])
    """

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        size = tf.shape(inputs)[1:3] * self.factor
        return tf.cast(tf.image.resize(inputs, size, "bilinear"), inputs.dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        scale = (lambda d: None if d is None else d * self.factor)
        return (batch, scale(height), scale(width), channels)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
