"""--data=tfds:NAME: TFDS datasets go through the same data path and training loop.

tfds.testing.mock_data stands in for a prepared dataset: no download, random images with
the dataset's real features (DIV2K: `hr` and `lr`).
"""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from srim_tf.data import datasets as data
from srim_tf.model.loading import load_generator
from srim_tf.training import build
from srim_tf.training import loop as train
from tests.helpers import tiny_config


def test_tfds_images_become_training_triples_and_train_a_model(tmp_path):
    config = tiny_config(data="tfds:div2k:train", hr_mode="resize", hr_size=32, train_steps=2,
                         checkpoint_every=2, summary_every=1, image_summary_every=2,
                         num_validation_images=1, num_summary_samples=1)
    with tfds.testing.mock_data(num_examples=4):
        lr, mid, hr = next(iter(data.make_dataset(config.data)))
        assert (lr.shape, mid.shape, hr.shape) == ((2, 8, 8, 3), (2, 16, 16, 3), (2, 32, 32, 3))
        # Mock images are random noise: real pixels, not a constant fill.
        assert float(np.std(hr.numpy())) > 0.05
        workdir = str(tmp_path / "run")
        results = train.train_and_evaluate(config, workdir)
    # Two steps were trained and saved: the checkpoint's generator moved from its seeded start.
    trained = load_generator(workdir)[0].get_weights()
    initial = build.srim(config)[0].generator.get_weights()
    assert load_generator(workdir)[2].endswith("ckpt-2")
    assert max(np.abs(a - b).max() for a, b in zip(trained, initial, strict=True)) > 1e-4
    assert results["validation/y_psnr_zero_noise"] > 5  # measured on mock images, not NaN


def test_unknown_tfds_name_is_one_clear_error():
    with pytest.raises(ValueError, match="Unknown TFDS dataset.*tfds:no_such_set"):
        next(iter(data.make_dataset(tiny_config(data="tfds:no_such_set").data)))
