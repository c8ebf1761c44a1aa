"""The SRIM generator: two fully convolutional 2x stages (paper 2.3 and 2.5).

Each stage upsamples its input bilinearly by 2, concatenates that stage's noise, and runs
`num_convs` convolutions; every convolution after the first also sees the LR image
upsampled bilinearly to the stage's output size (a skip connection). The last convolution
has 3 channels and a sigmoid, so outputs lie in [0, 1].

With `noise_injection="every_conv"` (not in the paper) every convolution after the first
also sees the stage's noise, beside the skip: a code can then decide late what a pixel
becomes, not only through what the first convolution made of it.

With `stage_output="residual"` (not in the paper) a stage instead adds its last
convolution to its own bilinear upsample and clips to [0, 1]; that convolution's gain starts
at zero, so a new network starts as bilinear upsampling and trains from there rather than
from a grey sigmoid output. Short runs then end above bicubic instead of far below it.
"""

import math

import keras

from srim_tf.model.layers import BilinearUpsample, ConcatConv2D, WeightNormConv2D
from srim_tf.settings import GeneratorSettings

# The generator's upscaling factor: two 2x stages.
SCALE = 4
# Layers computing in float32 whatever the model's dtype policy: the output's, so outputs lie
# in [0, 1] exactly, and the bilinear upsamples, so a residual stage adds its base unrounded
# (a bfloat16 base would move 30% of a new model's pixels by up to 1.2 grey levels).
FLOAT32_LAYERS = ("upsample", "skip", "residual", "rgb")

def _policy(layer_name, dtype):
    """The dtype policy of the stage's layer `layer_name`: float32 for `FLOAT32_LAYERS`."""
    return "float32" if layer_name in FLOAT32_LAYERS else dtype


def _conv(filters, kernel_size, normalization, name, dtype, zero_init=False):
    conv_class = WeightNormConv2D if normalization == "weight" else ConcatConv2D
    kwargs = {}
    if zero_init:
        # Starts by adding nothing. With weight norm only the gain is zeroed: a zero
        # direction `v` would have no norm to divide by.
        kwargs = ({"gain_initializer": "zeros"} if normalization == "weight"
                  else {"kernel_initializer": "zeros"})
    return conv_class(filters, kernel_size, padding="same", data_format="channels_last",
                      name=name, dtype=dtype, **kwargs)


def build_stage(skip_factor, settings=GeneratorSettings(), name="stage", dtype=None):
    """Builds one 2x stage as a functional model.

    Args:
        skip_factor: how much the LR skip input is upsampled to reach this stage's output
            size: 2 for the lower stage, 4 for the upper.
        settings: the `GeneratorSettings` (channels, kernel size, convolutions, noise
            channels, normalization, activation, stage output), checked when made.
        name: the model's name.
        dtype: the dtype policy of its layers ("float32", "mixed_bfloat16", ...; None: Keras'
            global policy); the layers in `FLOAT32_LAYERS` compute in float32 regardless.

    Returns:
        A `keras.Model` mapping `[image, lr, noise]` to an RGB image twice the size of
        `image`: image `[N, h, w, 3]`, lr `[N, h*2/skip_factor, ..., 3]`,
        noise `[N, 2h, 2w, noise_channels]`.

    Examples:
        >>> lower = build_stage(2, GeneratorSettings(channels=8, num_convs=3))
        >>> lower.output.shape
        (None, None, None, 3)
    """
    channels, kernel_size, num_convs = settings.channels, settings.kernel_size, settings.num_convs
    normalization, stage_output = settings.normalization, settings.stage_output
    image = keras.Input((None, None, 3), name="image")
    lr = keras.Input((None, None, 3), name="lr")
    noise = keras.Input((None, None, settings.noise_channels), name="noise")

    upsampled = BilinearUpsample(2, dtype=_policy("upsample", dtype), name="upsample")(image)
    skip = BilinearUpsample(skip_factor, dtype=_policy("skip", dtype), name="skip")(lr)
    x = keras.layers.Concatenate(dtype=dtype, name="with_noise")([upsampled, noise])
    for i in range(num_convs):
        last = i == num_convs - 1
        # Layer names carry the stage name: variables must be unique across stages for
        # TF1-style SavedModel loaders (saved_model_cli run, TF Serving).
        residual = last and stage_output == "residual"
        conv = _conv(3 if last else channels, kernel_size, normalization, f"{name}_conv_{i}",
                     dtype, zero_init=residual)
        # After the first, each convolution sees [x, skip] (and the noise) concatenated.
        later_inputs = [x, skip, noise] if settings.noise_injection == "every_conv" else [x, skip]
        x = conv(x if i == 0 else later_inputs)
        if residual:
            # In float32, so mixed-precision outputs still lie in [0, 1] exactly.
            x = keras.layers.Add(dtype=_policy("residual", dtype), name="residual")([upsampled, x])
            x = keras.layers.ReLU(max_value=1.0, dtype=_policy("rgb", dtype), name="rgb")(x)  # clip to [0, 1]
            break
        if last:
            # Sigmoid in float32 so mixed-precision outputs still lie in [0, 1] exactly.
            x = keras.layers.Activation("sigmoid", dtype=_policy("rgb", dtype), name="rgb")(x)
            break
        if normalization == "batch":
            x = keras.layers.BatchNormalization(dtype=dtype, name=f"{name}_bn_{i}")(x)
        if settings.activation == "leaky_relu":
            x = keras.layers.LeakyReLU(0.2, dtype=dtype, name=f"act_{i}")(x)
        else:
            x = keras.layers.ReLU(dtype=dtype, name=f"act_{i}")(x)
    return keras.Model([image, lr, noise], x, name=name)


@keras.saving.register_keras_serializable(package="srim_tf")
class SRIMGenerator(keras.Model):
    """`G(x, z_lo, z_up)`: 4x super-resolution in two 2x stages.

    The stages are callable on their own (`lower`, `upper`), which hierarchical sampling
    needs. Calling the generator returns the 4x image; `generate` returns both stages'
    outputs.

    Args:
        settings: the `GeneratorSettings` both stages share.
        dtype: the dtype policy both stages compute in (keras-hub's pattern): "float32",
            "mixed_bfloat16" or "mixed_float16" (weights stay float32, outputs float32 in
            [0, 1]); None takes Keras' global policy.

    Examples:
        >>> g = SRIMGenerator(GeneratorSettings(channels=8, num_convs=3))
        >>> lr = keras.ops.zeros((1, 5, 7, 3))
        >>> z_lo, z_up = g.noise_shapes(1, 5, 7)
        >>> tuple(g([lr, keras.ops.zeros(z_lo), keras.ops.zeros(z_up)]).shape)
        (1, 20, 28, 3)
    """

    def __init__(self, settings=GeneratorSettings(), **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        self.lower = build_stage(2, settings, name="lower", dtype=self.dtype_policy)
        self.upper = build_stage(4, settings, name="upper", dtype=self.dtype_policy)
        # Both stages are functional models, built on creation, so the generator is too.
        self.built = True

    def noise_shapes(self, batch, lr_height, lr_width):
        """Shapes of `z_lo` (at 2x) and `z_up` (at 4x) for a batch of LR images."""
        c = self.settings.noise_channels
        return ((batch, 2 * lr_height, 2 * lr_width, c), (batch, 4 * lr_height, 4 * lr_width, c))

    def generate(self, lr, z_lo, z_up, training=False):
        """Returns `(mid, hr)`: the 2x and 4x outputs."""
        lr, z_lo, z_up = (keras.ops.convert_to_tensor(x) for x in (lr, z_lo, z_up))
        mid = self.lower([lr, lr, z_lo], training=training)
        hr = self.upper([mid, lr, z_up], training=training)
        return mid, hr

    def call(self, inputs, training=False):
        lr, z_lo, z_up = inputs
        return self.generate(lr, z_lo, z_up, training=training)[1]

    def get_config(self):
        return {**super().get_config(), **self.settings.as_dict()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        names = GeneratorSettings().as_dict()
        settings = GeneratorSettings(**{name: config.pop(name) for name in names if name in config})
        return cls(settings, **config)

    @property
    def scale(self):
        """The upscaling factor, `SCALE`: outputs are `scale` times the LR size."""
        return SCALE

    @property
    def receptive_field(self):
        """LR pixels of context a 4x output pixel depends on, on each side (rounded up).

        The lower stage's convolutions reach `num_convs * (k - 1) / 2` pixels at 2x, the
        upper stage's as many at 4x, and each bilinear upsampling one more input pixel: 16
        for the paper's network (9 convolutions of 5x5 per stage). Tiles given this much
        context per side equal the untiled output (`tiling.py`, `graph_tiling.py`).
        """
        reach = self.settings.num_convs * (self.settings.kernel_size - 1) / 2
        return math.ceil(reach / 2 + reach / 4 + 2)
