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


class _Unreachable:
    """A sampler a refused request must never call."""
    description, receptive_field = "unreachable", 8

    def __call__(self, *args):
        raise AssertionError("the sampler ran: the request was not refused first")


def test_samples_that_would_not_fit_in_memory_are_refused_before_any_work():
    from srim_tf.inference import tiling

    # The case: 10000 samples of a 64 x 64 image took a 1.83 GiB band, then failed deep.
    with pytest.raises(ValueError, match=r"10000 samples of this 64x64 image need about .* GiB"):
        tiling.super_resolve_bands(_Unreachable(), np.zeros((64, 64, 3), np.uint8), num_samples=10000)
    # The bound is on the memory, not on K alone: a wide strip needs less K to reach it.
    with pytest.raises(ValueError, match="use fewer --num_samples or a smaller --tile_size"):
        tiling.super_resolve_bands(_Unreachable(), np.zeros((8, 200000, 3), np.uint8), num_samples=300)
    needed = tiling.sampling_bytes(64, 64, num_samples=1, tile_size=192, margin=8)
    assert needed < tiling.MAX_SAMPLING_BYTES


def test_sampling_programs_refuse_more_samples_than_the_flag_accepts():
    from srim_tf.cli.eval import EvalSettings
    from srim_tf.cli.sample import SampleSettings

    with pytest.raises(ValueError, match=r"--num_samples must be an integer in \[1, 1000\]"):
        SampleSettings(input=("x.png",), output_dir="out", num_samples=10000)
    with pytest.raises(ValueError, match=r"--num_samples must be an integer in \[1, 1000\]"):
        EvalSettings(hr_dir=("Set5",), num_samples=1001)
