"""Tiled sampling (`inference/tiling.py`) refuses arguments that used to give black images."""

import numpy as np
import pytest

from srim_tf.inference.samplers import load_sampler
from srim_tf.inference.tiling import super_resolve_image


def test_tiled_inference_refuses_values_that_gave_black_images(trained_workdir):
    sampler, image = load_sampler(trained_workdir), np.full((6, 5, 3), 100, np.uint8)
    for kwargs, match in [(dict(tile_size=-1), "tile_size=-1"), (dict(overlap=-5), "overlap=-5"),
                          (dict(noise_scale=float("nan")), "noise_scale=nan"),
                          (dict(num_samples=0), "num_samples=0")]:
        with pytest.raises(ValueError, match=match):
            super_resolve_image(sampler, image, **kwargs)
    assert super_resolve_image(sampler, image, tile_size=0).max() > 0
