"""Noise at every convolution: later layers see the codes, and such a model trains, is
recorded and is read back as itself."""

import numpy as np
import pytest

from srim_tf.model.loading import load_generator
from srim_tf.settings import GeneratorSettings
from tests.helpers import tiny_config, tiny_generator


def _outputs_with_first_layers_blind_to_noise(injection, rng):
    """Two outputs of one LR for two codes, with each stage's first convolution's noise
    weights zeroed: only noise entering later convolutions can tell the codes apart."""
    generator = tiny_generator(noise_injection=injection)
    for stage in (generator.lower, generator.upper):
        first = stage.get_layer(f"{stage.name}_conv_0")
        kernel = first.kernel.numpy()
        kernel[:, :, 3:, :] = 0  # input channels: 3 of the upsampled image, then the noise
        first.kernel.assign(kernel)
    lr = rng.random((1, 6, 6, 3)).astype("float32")
    z_lo, z_up = generator.noise_shapes(1, 6, 6)
    return [np.asarray(generator([lr, rng.normal(size=z_lo).astype("float32"),
                                  rng.normal(size=z_up).astype("float32")])) for _ in range(2)]


def test_every_convolution_sees_the_codes_only_when_asked(rng):
    first, second = _outputs_with_first_layers_blind_to_noise("input", rng)
    np.testing.assert_array_equal(first, second)
    first, second = _outputs_with_first_layers_blind_to_noise("every_conv", rng)
    assert np.abs(first - second).max() > 1e-4


def test_a_model_with_noise_at_every_convolution_trains_and_is_read_back(tmp_path):
    from srim_tf.training.loop import train_and_evaluate

    workdir = str(tmp_path / "run")
    train_and_evaluate(tiny_config(noise_injection="every_conv", train_steps=2), workdir)
    loaded = load_generator(workdir)
    assert loaded.generator.settings.noise_injection == "every_conv"
    # More weights than the paper's stages: each later convolution reads the 5 noise channels.
    plain = tiny_generator()
    assert loaded.generator.count_params() > plain.count_params()


def test_configs_written_before_the_setting_read_as_the_papers_injection():
    old = dict(tiny_generator().settings.as_dict())
    del old["noise_injection"]
    assert GeneratorSettings.from_config(old).noise_injection == "input"
    with pytest.raises(ValueError, match="--noise_injection must be one of input, every_conv"):
        GeneratorSettings(noise_injection="everywhere")
