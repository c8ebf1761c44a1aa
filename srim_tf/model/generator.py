"""The SRIM generator: two fully convolutional 2x stages (paper 2.3 and 2.5).

Each stage upsamples its input bilinearly by 2, concatenates that stage's noise, and runs
`num_convs` convolutions; every convolution after the first also sees the LR image
upsampled bilinearly to the stage's output size (a skip connection). The last convolution
has 3 channels and a sigmoid, so outputs lie in [0, 1].

With `stage_output="residual"` (not in the paper) a stage instead adds its last
convolution to its own bilinear upsample and clips to [0, 1]; that convolution's gain starts
at zero, so a new network starts as bilinear upsampling and trains from there rather than
from a grey sigmoid output. Short runs then end above bicubic instead of far below it.
"""

import keras

from srim_tf import checks
from srim_tf.model.layers import BilinearUpsample, ConcatConv2D, WeightNormConv2D

NORMALIZATIONS = ("weight", "batch", "none")
ACTIVATIONS = ("leaky_relu", "relu")
STAGE_OUTPUTS = ("sigmoid", "residual")
# Layers computing in float32 whatever the model's dtype policy: the output's, so outputs lie
# in [0, 1] exactly, and the bilinear upsamples, so a residual stage adds its base unrounded
# (a bfloat16 base would move 30% of a new model's pixels by up to 1.2 grey levels).
FLOAT32_LAYERS = ("upsample", "skip", "residual", "rgb")

# The constructor arguments that define a generator: a workdir trained with other values
# cannot be resumed, and a pretrained folder records them.
GENERATOR_KEYS = ("channels", "kernel_size", "num_convs", "noise_channels", "normalization",
                  "activation", "stage_output")
# What workdirs and pretrained folders written before a key existed were trained with.
GENERATOR_KEY_DEFAULTS = {"stage_output": "sigmoid"}


def generator_settings(config):
    """The generator's constructor arguments in a run's config dict, old configs included."""
    return {key: config.get(key, GENERATOR_KEY_DEFAULTS.get(key)) for key in GENERATOR_KEYS}


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


def build_stage(skip_factor, channels=64, kernel_size=5, num_convs=9, noise_channels=5,
                normalization="weight", activation="leaky_relu", stage_output="sigmoid",
                name="stage", dtype=None):
    """Builds one 2x stage as a functional model.

    Args:
        skip_factor: how much the LR skip input is upsampled to reach this stage's output
            size: 2 for the lower stage, 4 for the upper.
        channels: channels of every convolution but the last.
        kernel_size: square kernel size of every convolution.
        num_convs: convolutions in the stage (the last one outputs RGB).
        noise_channels: channels of the stage's noise input `z`.
        normalization: "weight" (authors' code), "batch" (paper text) or "none".
        activation: "leaky_relu" (slope 0.2, authors' code) or "relu".
        stage_output: "sigmoid" (authors' code) or "residual": the bilinear upsample plus
            the last convolution (which starts at zero), clipped to [0, 1].
        name: the model's name.
        dtype: the dtype policy of its layers ("float32", "mixed_bfloat16", ...; None: Keras'
            global policy); the layers in `FLOAT32_LAYERS` compute in float32 regardless.

    Returns:
        A `keras.Model` mapping `[image, lr, noise]` to an RGB image twice the size of
        `image`: image `[N, h, w, 3]`, lr `[N, h*2/skip_factor, ..., 3]`,
        noise `[N, 2h, 2w, noise_channels]`.

    Examples:
        >>> lower = build_stage(2, channels=8, num_convs=3)
        >>> lower.output.shape
        (None, None, None, 3)
    """
    checks.check_choice("normalization", normalization, NORMALIZATIONS)
    checks.check_choice("activation", activation, ACTIVATIONS)
    checks.check_choice("stage_output", stage_output, STAGE_OUTPUTS)
    checks.check_positive_int("num_convs", num_convs)
    if num_convs < 2:
        raise ValueError(
            f"A stage needs at least 2 convolutions (one hidden, one RGB). Received: num_convs={num_convs}")
    image = keras.Input((None, None, 3), name="image")
    lr = keras.Input((None, None, 3), name="lr")
    noise = keras.Input((None, None, noise_channels), name="noise")

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
        # After the first, each convolution sees [x, skip] concatenated (ConcatConv2D).
        x = conv(x if i == 0 else [x, skip])
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
        if activation == "leaky_relu":
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
        channels, kernel_size, num_convs, noise_channels, normalization, activation,
            stage_output: as in `build_stage`, shared by both stages.
        dtype: the dtype policy both stages compute in (keras-hub's pattern): "float32",
            "mixed_bfloat16" or "mixed_float16" (weights stay float32, outputs float32 in
            [0, 1]); None takes Keras' global policy.

    Examples:
        >>> g = SRIMGenerator(channels=8, num_convs=3)
        >>> lr = keras.ops.zeros((1, 5, 7, 3))
        >>> z_lo, z_up = g.noise_shapes(1, 5, 7)
        >>> g([lr, keras.ops.zeros(z_lo), keras.ops.zeros(z_up)]).shape
        (1, 20, 28, 3)
    """

    def __init__(self, channels=64, kernel_size=5, num_convs=9, noise_channels=5,
                 normalization="weight", activation="leaky_relu", stage_output="sigmoid",
                 **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.kernel_size = kernel_size
        self.num_convs = num_convs
        self.noise_channels = noise_channels
        self.normalization = normalization
        self.activation = activation
        self.stage_output = stage_output
        stage_args = dict(self.settings(), dtype=self.dtype_policy)
        self.lower = build_stage(2, name="lower", **stage_args)
        self.upper = build_stage(4, name="upper", **stage_args)
        # Both stages are functional models, built on creation, so the generator is too.
        self.built = True

    def settings(self):
        """The constructor arguments that define the weights (`GENERATOR_KEYS`)."""
        return {key: getattr(self, key) for key in GENERATOR_KEYS}

    def noise_shapes(self, batch, lr_height, lr_width):
        """Shapes of `z_lo` (at 2x) and `z_up` (at 4x) for a batch of LR images."""
        c = self.noise_channels
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
        return {**super().get_config(), **self.settings()}
