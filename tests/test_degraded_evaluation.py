"""srim_eval --lr_degradation: models see the LR degraded at a fixed level, the same in every
run and for every tool; LR-PSNR still compares with the clean LR."""

import numpy as np
import pytest

from srim_tf.data.degradations import degrade_for_evaluation
from srim_tf.evaluation import evaluate as evaluation
from srim_tf.settings import LR_DEGRADATION_LEVELS
from tests.helpers import smooth_photo, write_image


def _high_frequency_power(image):
    image = image.astype(np.float64)
    return np.mean(np.diff(image, axis=0) ** 2) + np.mean(np.diff(image, axis=1) ** 2)


@pytest.mark.parametrize("channels", [3, 1])
def test_the_photo_level_is_fixed_by_the_image_name_and_softens_the_lr(rng, channels):
    lr = rng.integers(0, 256, (24, 20, channels), dtype=np.uint8)
    first = degrade_for_evaluation(lr, "photo", "a/cat.png")
    assert first.dtype == np.uint8 and first.shape == lr.shape
    np.testing.assert_array_equal(first, degrade_for_evaluation(lr, "photo", "a/cat.png"))
    assert np.any(first != degrade_for_evaluation(lr, "photo", "a/dog.png"))  # its own noise
    # The blur removes much of white noise's high frequencies; the noise adds a few back.
    assert _high_frequency_power(first) < 0.5 * _high_frequency_power(lr)
    assert degrade_for_evaluation(lr, "none", "a/cat.png") is lr


def test_the_photo_level_is_its_blur_then_noise_then_jpeg_at_the_documented_strengths(rng):
    import zlib

    import tensorflow as tf

    from srim_tf.data import degradations

    lr = smooth_photo(rng, 24, 32)
    levels = LR_DEGRADATION_LEVELS["photo"]
    image = degradations.blur(tf.constant(lr[None] / 255.0, tf.float32), levels["blur"])
    image = degradations.add_noise(image, levels["noise"], [zlib.crc32(b"x/cat.png"), 0])
    image = tf.image.encode_jpeg(tf.cast(tf.round(tf.clip_by_value(image[0], 0, 1) * 255), tf.uint8),
                                 quality=levels["jpeg"])
    expected = tf.io.decode_jpeg(image).numpy()
    np.testing.assert_array_equal(degrade_for_evaluation(lr, "photo", "x/cat.png"), expected)


def test_an_unknown_level_names_the_accepted_ones(rng):
    with pytest.raises(ValueError, match=r"lr_degradation.*none.*photo.*Received: lr_degradation='phone'"):
        degrade_for_evaluation(np.zeros((8, 8, 3), np.uint8), "phone", "x.png")


class _RecordingSampler:
    """Stands in for a model: the LR images it is given."""

    def __init__(self):
        self.inputs = []


def test_models_see_the_degraded_lr_and_lr_psnr_uses_the_clean_one(tmp_path, rng, monkeypatch):
    hr_dir, perfect = tmp_path / "Photos", tmp_path / "perfect"
    (hr_dir / "sub").mkdir(parents=True), (perfect / "sub").mkdir(parents=True)
    hr = smooth_photo(rng, 48, 40)
    write_image(str(hr_dir / "sub" / "photo.png"), hr)
    write_image(str(perfect / "sub" / "photo.png"), hr)  # an SR image equal to the truth

    sampler = _RecordingSampler()

    def super_resolve(method, lr, num_samples, seed, temperature, tile_size):
        method.inputs.append(lr)
        return np.repeat(np.repeat(np.repeat(lr[None], num_samples, 0), 4, 1), 4, 2)

    monkeypatch.setattr(evaluation, "super_resolve_image", super_resolve)
    evaluation.evaluate(sampler, [str(hr_dir)], num_samples=2, show_progress=False, lr_degradation="photo")
    _, clean_lr, _ = evaluation.hr_and_lr(str(hr_dir / "sub" / "photo.png"))
    expected = degrade_for_evaluation(clean_lr, "photo", "sub/photo.png")  # its path, with "/"
    assert all(np.array_equal(lr, expected) for lr in sampler.inputs) and sampler.inputs

    clean, degraded = (evaluation.evaluate(f"folder:{perfect}", [str(hr_dir)], show_progress=False,
                                           lr_degradation=level)["Photos"] for level in ("none", "photo"))
    # The truth itself is as consistent with the clean LR whatever the models were given...
    assert degraded["lr_psnr"] == pytest.approx(clean["lr_psnr"])
    # ...while bicubic of the degraded LR, the baseline beside it, is worse.
    assert degraded["bicubic_y_psnr"] < clean["bicubic_y_psnr"] - 0.5
    assert (clean["lr_degradation"], degraded["lr_degradation"]) == ("none", "photo")
    table = evaluation.table({"Photos": degraded})
    assert "--lr_degradation=photo" in table and "JPEG quality 75" in table
    assert "lr_degradation" not in evaluation.table({"Photos": clean})
    header, *rows = evaluation.csv_rows({"Photos": degraded})
    assert header[-1] == "lr_degradation" and all(row[-1] == "photo" for row in rows)


def test_every_level_is_described_in_the_help():
    import dataclasses

    from srim_tf.cli.eval import EvalSettings

    field, = (f for f in dataclasses.fields(EvalSettings) if f.name == "lr_degradation")
    text = field.metadata["help"]
    for level, values in LR_DEGRADATION_LEVELS.items():
        assert level in text
        for value in (values or {}).values():
            assert str(value) in text
