import keras
import numpy as np
import pytest
import tensorflow as tf

from srim_tf.model.generator import SRIMGenerator, build_stage
from srim_tf.settings import GeneratorSettings
from tests.helpers import tiny_generator


def _generator(dtype=None, **settings):
    """A generator of the declared defaults (the paper's) but for `settings`."""
    return SRIMGenerator(GeneratorSettings(**settings), dtype=dtype)


def _stage(skip_factor, **settings):
    return build_stage(skip_factor, GeneratorSettings(**settings))


def _inputs(generator, batch, height, width, rng):
    z_lo, z_up = generator.noise_shapes(batch, height, width)
    return [rng.random((batch, height, width, 3)).astype("float32"),
            rng.standard_normal(z_lo).astype("float32"), rng.standard_normal(z_up).astype("float32")]


@pytest.mark.parametrize("height,width", [(7, 5), (1, 1), (13, 10)])
def test_output_is_four_times_any_input_size_and_in_unit_range(height, width, rng):
    generator = tiny_generator()
    mid, hr = generator.generate(*_inputs(generator, 2, height, width, rng))
    assert mid.shape == (2, 2 * height, 2 * width, 3)
    assert hr.shape == (2, 4 * height, 4 * width, 3)
    hr = np.asarray(hr)
    assert hr.min() >= 0.0 and hr.max() <= 1.0


def test_paper_architecture_has_the_authors_parameter_count():
    # 2 stages x 9 convolutions, 5x5, 64 channels, weight norm: 1.54 M in the authors' code.
    assert abs(_generator().count_params() - 1.54e6) < 0.01e6


def test_noise_changes_the_output(rng):
    generator = tiny_generator()
    lr, z_lo, z_up = _inputs(generator, 1, 6, 6, rng)
    a = np.asarray(generator([lr, z_lo, z_up]))
    b = np.asarray(generator([lr, z_lo, z_up + 1.0]))
    c = np.asarray(generator([lr, z_lo + 1.0, z_up]))
    assert np.abs(a - b).max() > 1e-4 and np.abs(a - c).max() > 1e-4


def test_stages_are_callable_alone_and_compose_to_the_generator(rng):
    generator = tiny_generator()
    lr, z_lo, z_up = _inputs(generator, 2, 5, 6, rng)
    lr, z_lo, z_up = (keras.ops.convert_to_tensor(x) for x in (lr, z_lo, z_up))
    mid = generator.lower([lr, lr, z_lo])
    hr = generator.upper([mid, lr, z_up])
    np.testing.assert_allclose(hr, generator([lr, z_lo, z_up]), atol=1e-6)


def test_skip_connections_feed_every_convolution_after_the_first():
    stage = _stage(2, channels=8, kernel_size=3, num_convs=4)
    conv_inputs = {layer.name: layer.kernel.shape[2] for layer in stage.layers
                   if "_conv_" in layer.name}
    assert conv_inputs == {"stage_conv_0": 3 + 5, "stage_conv_1": 8 + 3, "stage_conv_2": 8 + 3,
                           "stage_conv_3": 8 + 3}


@pytest.mark.parametrize("normalization,activation", [("batch", "relu"), ("none", "leaky_relu")])
def test_other_normalizations_and_activations_build(normalization, activation, rng):
    generator = tiny_generator(normalization=normalization, activation=activation)
    assert generator(_inputs(generator, 1, 4, 4, rng)).shape == (1, 16, 16, 3)
    kinds = {type(layer).__name__ for layer in generator.lower.layers}
    assert ("BatchNormalization" in kinds) == (normalization == "batch")
    assert ("ReLU" in kinds) == (activation == "relu")


def test_config_round_trip():
    generator = _generator(channels=12, kernel_size=3, num_convs=4, noise_channels=2,
                              normalization="none", activation="relu")
    clone = SRIMGenerator.from_config(generator.get_config())
    assert clone.settings == generator.settings
    assert clone.count_params() == generator.count_params()


def test_keras_file_round_trip_gives_identical_outputs(tmp_path, rng):
    generator = tiny_generator()
    inputs = _inputs(generator, 2, 5, 7, rng)
    path = str(tmp_path / "generator.keras")
    generator.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(generator(inputs), reloaded(inputs))


@pytest.mark.parametrize("kwargs,match", [
    ({"normalization": "group"}, "--normalization=group"),
    ({"activation": "gelu"}, "--activation=gelu"),
    ({"num_convs": 0}, "--num_convs=0"),
    ({"num_convs": 2.5}, "integer"),
    ({"stage_output": "tanh"}, "--stage_output=tanh"),
])
def test_bad_options_name_the_value_and_what_is_accepted(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _generator(**kwargs)


@pytest.mark.parametrize("layer_class", ["ConcatConv2D", "WeightNormConv2D"])
def test_split_convolution_equals_one_convolution_of_the_concatenation(layer_class, rng):
    """Training splits the kernel per input part; it must match the concatenated conv,
    outputs and gradients both."""
    import tensorflow as tf

    from srim_tf.model import layers

    features = tf.constant(rng.standard_normal((2, 7, 6, 8)), tf.float32)
    skip = tf.constant(rng.standard_normal((2, 7, 6, 3)), tf.float32)
    layer = getattr(layers, layer_class)(5, 3, padding="same")
    layer([features, skip])
    reference = keras.layers.Conv2D(5, 3, padding="same")
    reference(tf.concat([features, skip], -1))
    reference.set_weights([layer.effective_kernel().numpy(), layer.bias.numpy()])

    def value_and_gradient(fn):
        with tf.GradientTape() as tape:
            tape.watch(features)
            out = fn()
            loss = tf.reduce_sum(out * out)
        return out, tape.gradient(loss, features)

    expected, expected_grad = value_and_gradient(lambda: reference(tf.concat([features, skip], -1)))
    for training in (True, False):
        out, grad = value_and_gradient(lambda training=training: layer([features, skip], training=training))
        np.testing.assert_allclose(out, expected, atol=1e-4)
        np.testing.assert_allclose(grad, expected_grad, atol=1e-3)
    assert layer.kernel.shape == (3, 3, 11, 5)


@pytest.mark.parametrize("normalization", ["weight", "none"])
def test_residual_stages_start_as_their_bilinear_upsample(normalization, rng):
    generator = tiny_generator(normalization=normalization, stage_output="residual")
    lr, z_lo, z_up = _inputs(generator, 2, 5, 6, rng)
    mid, hr = generator.generate(lr, z_lo, z_up)
    bilinear_mid = tf.image.resize(lr, (10, 12), "bilinear")
    np.testing.assert_allclose(mid, bilinear_mid, atol=1e-6)
    np.testing.assert_allclose(hr, tf.image.resize(mid, (20, 24), "bilinear"), atol=1e-6)
    # The sigmoid stage does not start there (a grey image near 0.5).
    sigmoid = tiny_generator(normalization=normalization)
    assert np.abs(np.asarray(sigmoid.generate(lr, z_lo, z_up)[0]) - bilinear_mid).max() > 0.05


def test_residual_stage_learns_and_stays_in_unit_range(rng):
    # Zero gain must not block learning: one gradient step moves the output off bilinear.
    generator = tiny_generator(stage_output="residual")
    lr, z_lo, z_up = (tf.constant(x) for x in _inputs(generator, 2, 4, 4, rng))
    target = tf.constant(rng.random((2, 16, 16, 3)).astype("float32"))
    optimizer = keras.optimizers.Adam(1e-2)
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(generator([lr, z_lo, z_up], training=True) - target))
        variables = generator.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
    out = np.asarray(generator([lr, z_lo, z_up]))
    start = np.asarray(tf.image.resize(tf.image.resize(lr, (8, 8), "bilinear"), (16, 16), "bilinear"))
    assert np.abs(out - start).max() > 1e-3
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_an_explicit_dtype_wins_over_a_global_policy_the_user_set(rng):
    # keras-hub's pattern: a model built for float32 stays float32 under a user's global
    # mixed policy, and its float32 layers stay float32 in a bfloat16 model.
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        plain = [tiny_generator(dtype="float32", **options)
                 for options in (dict(stage_output="residual"),
                                 dict(normalization="batch", activation="relu"))]
        default = tiny_generator(stage_output="residual")
        sigmoid = tiny_generator()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for generator in plain:
        computing = [layer for layer in generator.lower.layers
                     if not isinstance(layer, keras.layers.InputLayer)]
        assert {layer.compute_dtype for layer in computing} == {"float32"}
    assert sigmoid.lower.get_layer("rgb").compute_dtype == "float32"
    assert default.lower.get_layer("lower_conv_0").compute_dtype == "bfloat16"
    lr, z_lo, z_up = _inputs(default, 1, 4, 5, rng)
    exact = tiny_generator(stage_output="residual")
    np.testing.assert_array_equal(default.generate(lr, z_lo, z_up)[1], exact.generate(lr, z_lo, z_up)[1])


def test_the_generator_is_registered_under_the_package_name():
    # Saved .keras files name it so: loading them needs the same registered name.
    assert keras.saving.get_registered_name(SRIMGenerator) == "srim_tf>SRIMGenerator"


def test_residual_generator_config_round_trips():
    generator = tiny_generator(stage_output="residual")
    clone = SRIMGenerator.from_config(generator.get_config())
    assert clone.settings.stage_output == "residual"
    assert clone.get_config() == generator.get_config()


@pytest.mark.parametrize("skip_factor", [2, 4])
def test_every_convolution_after_the_first_sees_the_lr_image_upsampled_by_the_skip_factor(skip_factor, rng):
    """Pins the skip wiring: with the first convolution silenced and the last reading only its
    skip channels (centre tap, identity), a sigmoid stage outputs sigmoid(bilinear(lr)). Feeding
    those convolutions the upsampled main input, the noise or the hidden state instead fails."""
    stage = _stage(skip_factor, channels=4, kernel_size=3, num_convs=2, normalization="none")
    first, last = stage.get_layer("stage_conv_0"), stage.get_layer("stage_conv_1")
    first.set_weights([np.zeros_like(w) for w in first.get_weights()])
    kernel = np.zeros(last.kernel.shape, np.float32)  # [3, 3, 4 hidden + 3 skip, 3]
    for channel in range(3):
        kernel[1, 1, 4 + channel, channel] = 1.0
    last.set_weights([kernel, np.zeros(3, np.float32)])
    image = rng.random((1, 3 * skip_factor // 2, 5 * skip_factor // 2, 3)).astype("float32")
    lr = rng.random((1, 3, 5, 3)).astype("float32")  # unlike `image`
    noise = rng.standard_normal((1, 3 * skip_factor, 5 * skip_factor, 5)).astype("float32")
    out = np.asarray(stage([image, lr, noise]))
    expected = tf.image.resize(lr, (3 * skip_factor, 5 * skip_factor), "bilinear")
    np.testing.assert_allclose(out, tf.sigmoid(expected), atol=1e-6)


def test_stage_outputs_depend_on_image_lr_and_noise_through_their_own_paths(rng):
    stage = _stage(4, channels=8, kernel_size=3, num_convs=3)
    image = rng.random((1, 4, 6, 3)).astype("float32")
    lr = rng.random((1, 2, 3, 3)).astype("float32")
    noise = rng.standard_normal((1, 8, 12, 5)).astype("float32")
    base = np.asarray(stage([image, lr, noise]))
    for changed in ([image + 0.2, lr, noise], [image, lr + 0.2, noise], [image, lr, noise + 1.0]):
        assert np.abs(np.asarray(stage(changed)) - base).max() > 1e-3


def test_the_upper_stage_takes_the_lower_output_as_image_and_the_lr_as_skip(rng):
    generator = tiny_generator()
    lr, z_lo, z_up = (tf.constant(x) for x in _inputs(generator, 1, 4, 5, rng))
    mid, hr = generator.generate(lr, z_lo, z_up)
    np.testing.assert_allclose(hr, generator.upper([mid, lr, z_up]), atol=1e-6)
    # Any other wiring of the upper stage's inputs gives another image.
    assert np.abs(np.asarray(generator.upper([mid, lr * 0.5, z_up])) - hr).max() > 1e-3


@pytest.mark.parametrize("dtype", ["mixed_bfloat16", "mixed_float16"])
def test_a_residual_generator_in_lower_precision_starts_exactly_bilinear(dtype, rng):
    generator = tiny_generator(stage_output="residual", dtype=dtype)
    assert generator.lower.get_layer("lower_conv_1").compute_dtype == dtype.split("_")[1]
    lr, z_lo, z_up = _inputs(generator, 2, 5, 6, rng)
    mid, hr = generator.generate(lr, z_lo, z_up)
    assert mid.dtype == hr.dtype == tf.float32
    # The base is added in float32, unrounded: exactly what a float32 generator gives.
    exact = tiny_generator(stage_output="residual")
    np.testing.assert_array_equal(hr, exact.generate(lr, z_lo, z_up)[1])


def test_precision_is_a_constructor_argument_and_leaves_keras_global_policy_alone():
    before = keras.mixed_precision.global_policy().name
    generator = tiny_generator(dtype="mixed_bfloat16")
    plain = tiny_generator()
    assert keras.mixed_precision.global_policy().name == before == "float32"
    assert generator.lower.get_layer("lower_conv_0").compute_dtype == "bfloat16"
    assert generator.lower.get_layer("lower_conv_0").kernel.dtype == "float32"  # weights stay float32
    assert plain.lower.get_layer("lower_conv_0").compute_dtype == "float32"
    for name in ("upsample", "skip", "residual", "rgb"):
        assert name not in [layer.name for layer in generator.lower.layers] or \
            generator.lower.get_layer(name).compute_dtype == "float32"


def test_training_reaches_both_stages(rng):
    # Batch norm normalises by the batch in training and by its moving statistics otherwise:
    # both stages' outputs tell whether `training` reached them.
    generator = tiny_generator(normalization="batch")
    lr, z_lo, z_up = (tf.constant(x) for x in _inputs(generator, 2, 4, 5, rng))
    mid_train, hr_train = generator.generate(lr, z_lo, z_up, training=True)
    mid_infer, _ = generator.generate(lr, z_lo, z_up, training=False)
    assert np.abs(np.asarray(mid_train) - np.asarray(mid_infer)).max() > 1e-3
    # The upper stage in training mode, given the same 2x input, reproduces the 4x output.
    upper_train = generator.upper([mid_train, lr, z_up], training=True)
    upper_infer = generator.upper([mid_train, lr, z_up], training=False)
    np.testing.assert_allclose(hr_train, upper_train, atol=1e-5)
    assert np.abs(np.asarray(upper_train) - np.asarray(upper_infer)).max() > 1e-3
    # Calling the generator passes `training` on too.
    np.testing.assert_allclose(generator([lr, z_lo, z_up], training=True), hr_train, atol=1e-5)


@pytest.mark.parametrize("bias,expected", [(5.0, 1.0), (-5.0, 0.0)])
def test_a_residual_stage_clips_its_output_to_the_unit_range(bias, expected, rng):
    stage = _stage(2, channels=8, kernel_size=3, num_convs=2, stage_output="residual")
    last = stage.get_layer("stage_conv_1")
    last.bias.assign(np.full(3, bias, np.float32))
    image = rng.random((1, 3, 4, 3)).astype("float32")
    out = np.asarray(stage([image, image, np.zeros((1, 6, 8, 5), np.float32)]))
    np.testing.assert_array_equal(out, np.full_like(out, expected))
