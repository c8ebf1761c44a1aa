"""The data pipeline: sources, odd files, shapes and determinism."""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from srim_tf.data import datasets as data
from srim_tf.data import degradations, patches, scan, sources, tfds_source
from srim_tf.data.datasets import make_dataset
from srim_tf.settings import DataSettings


def _write_photo(path, rng, size=(48, 40), mode="RGB"):
    array = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    Image.fromarray(array).convert(mode).save(path)


@pytest.fixture
def messy_folder(tmp_path, rng):
    """19 good images in a subfolder tree, plus one each of the usual broken files."""
    good = tmp_path / "photos" / "nested"
    good.mkdir(parents=True)
    for i in range(19):
        _write_photo(str(good / f"good_{i}.png"), rng)
    (tmp_path / "photos" / "empty.png").write_bytes(b"")
    (tmp_path / "photos" / "notes.jpg").write_text("not an image at all")
    full = (tmp_path / "photos" / "nested" / "good_0.png").read_bytes()
    (tmp_path / "photos" / "truncated.png").write_bytes(full[: len(full) // 3])
    _write_photo(str(tmp_path / "photos" / "tiny.png"), rng, size=(10, 12))
    return str(tmp_path / "photos")


def test_broken_files_are_skipped_and_counted(messy_folder):
    report = scan.scan_files(sources.folder_paths(messy_folder), min_size=32)
    assert len(report.usable) == 19
    assert sorted(os.path.basename(p) for p in report.corrupt) == ["empty.png", "notes.jpg", "truncated.png"]
    assert [os.path.basename(p) for p in report.too_small] == ["tiny.png"]


def test_training_stream_over_a_folder_with_broken_files_runs(messy_folder):
    reports = []
    config = DataSettings(data=f"folder:{messy_folder}", hr_size=32, batch_size=4, patches_per_image=2)
    iterator = iter(make_dataset(config, report_to=reports))
    for _ in range(12):  # more than one pass over the 19 good images
        lr, mid, hr = next(iterator)
    assert lr.shape == (4, 8, 8, 3) and mid.shape == (4, 16, 16, 3) and hr.shape == (4, 32, 32, 3)
    assert reports[0].summary() == "19 usable images, 3 unreadable skipped, 1 smaller than the HR size skipped"


def test_training_over_a_folder_with_one_broken_file_in_twenty(messy_folder, tmp_path):
    from srim_tf.training.loop import train_and_evaluate
    from tests.helpers import tiny_config

    logs = train_and_evaluate(tiny_config(data=f"folder:{messy_folder}", train_steps=3,
                                          checkpoint_every=3, image_summary_every=3),
                              str(tmp_path / "run"))
    assert np.isfinite(logs["loss"])


def test_small_images_are_resized_in_resize_mode(messy_folder):
    reports = []
    config = DataSettings(data=f"folder:{messy_folder}", hr_size=32, batch_size=4, hr_mode="resize")
    next(iter(make_dataset(config, report_to=reports)))
    assert len(reports[0].usable) == 20 and not reports[0].too_small


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P"])
def test_grey_alpha_and_palette_images_become_8_bit_rgb(mode, tmp_path, rng):
    path = str(tmp_path / f"image_{mode}.png")
    _write_photo(path, rng, mode=mode)
    image = scan.decode_image(tf.io.read_file(path))
    assert image.shape == (40, 48, 3) and image.dtype == tf.uint8
    expected = np.asarray(Image.open(path).convert("RGB"))
    np.testing.assert_array_equal(image.numpy(), expected)


def test_16_bit_png_is_cut_to_8_bits(tmp_path, rng):
    path = str(tmp_path / "deep.png")
    deep = (rng.random((20, 30, 3)) * 65535).astype(np.uint16)
    tf.io.write_file(path, tf.io.encode_png(deep))
    image = scan.decode_image(tf.io.read_file(path)).numpy()
    assert image.dtype == np.uint8
    assert np.abs(image.astype(int) - np.round(deep / 257.0)).max() <= 1


def test_same_seed_same_stream_and_other_seed_other_stream():
    def first_batches(seed):
        config = DataSettings(data="builtin", hr_size=32, batch_size=4)
        iterator = iter(make_dataset(config, seed))
        return [next(iterator)[2].numpy() for _ in range(2)]

    a, b, c = first_batches(3), first_batches(3), first_batches(4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert np.abs(a[0] - c[0]).max() > 0


def test_builtin_source_needs_no_data_and_gives_real_photos():
    paths = sources.builtin_paths()
    assert len(paths) >= 10
    assert scan.scan_files(paths, min_size=128).usable == paths


def test_augment_applies_the_eight_square_symmetries():
    patch = tf.reshape(tf.range(16, dtype=tf.float32), [4, 4, 1])
    seen = {tuple(patches.augment(patch, tf.constant([0, i], tf.int64)).numpy().ravel())
            for i in range(64)}
    assert len(seen) == 8


def test_degradations_change_the_lr_and_stay_in_range(rng):
    lr = tf.constant(rng.random((2, 16, 16, 3)).astype("float32"))
    out = degradations.degrade(lr, tf.constant([1, 2], tf.int64), ("blur", "jpeg", "noise"),
                               10.0).numpy()
    assert out.shape == lr.shape and out.min() >= 0 and out.max() <= 1
    assert np.abs(out - lr.numpy()).mean() > 0.01


def test_noise_is_drawn_no_stronger_than_its_maximum():
    flat = tf.fill([64, 32, 32, 3], 0.5)
    seeds = [tf.constant([7, i], tf.int64) for i in range(8)]

    def largest_std(max_noise_sigma):
        return max(255 * float(tf.math.reduce_std(degradations.degrade(flat, seed, ("noise",),
                                                                       max_noise_sigma)))
                   for seed in seeds)

    assert largest_std(0.0) == 0.0
    assert 0.5 < largest_std(3.0) <= 3.1
    assert largest_std(10.0) > 3.5


def test_the_training_stream_draws_noise_no_stronger_than_the_settings_maximum():
    def first_lr(**degradation):
        config = DataSettings(data="builtin", hr_size=32, batch_size=4, **degradation)
        return next(iter(make_dataset(config, 5)))[0].numpy()

    clean = first_lr()
    np.testing.assert_array_equal(first_lr(degradations=("noise",), max_noise_sigma=0.0), clean)
    assert np.abs(first_lr(degradations=("noise",), max_noise_sigma=10.0) - clean).max() > 0


@pytest.mark.parametrize("sources,match", [
    ("folder:/no/such/folder", "folder:/no/such/folder"),
    ("s3://bucket", "'s3://bucket'"),
    ("tfds:no_such_dataset_xyz", "tfds:no_such_dataset_xyz"),
])
def test_bad_sources_fail_before_training_and_name_the_source(sources, match):
    with pytest.raises(ValueError, match=match):
        make_dataset(DataSettings(data=sources, hr_size=32, batch_size=2))


def test_a_folder_with_no_usable_image_is_an_error(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG nothing")
    with pytest.raises(ValueError, match="No usable image"):
        make_dataset(DataSettings(data=f"folder:{tmp_path}", hr_size=32, batch_size=2))


def test_tfds_source_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        config = DataSettings(data="tfds:imagenette:train", hr_size=32, batch_size=2,
                            patches_per_image=1, hr_mode="resize")
        lr, mid, hr = next(iter(make_dataset(config)))
    assert lr.shape == (2, 8, 8, 3) and hr.shape == (2, 32, 32, 3)


def test_tfds_class_subset_keeps_per_class_counts():
    examples = {"image": np.zeros((12, 4, 4, 3), np.uint8),
                "label": np.array([0, 1, 2, 0, 0, 1, 2, 0, 1, 1, 2, 0])}
    subset = tfds_source.class_subset(tf.data.Dataset.from_tensor_slices(examples), (0, 1), 2)
    labels = [int(e["label"]) for e in subset]
    assert labels == [0, 1, 0, 1]


def test_scan_details_name_the_skipped_files(messy_folder):
    # The text TensorBoard's `data` tab shows: counts, then the skipped files by name.
    details = scan.scan_files(sources.folder_paths(messy_folder), min_size=32).details()
    assert details.startswith("19 usable images, 3 unreadable skipped, 1 smaller")
    for name in ("empty.png", "notes.jpg", "truncated.png", "tiny.png"):
        assert name in details


def test_crop_offsets_differ_for_every_image_and_patch():
    # Pixels encode their own position, so equal crops mean equal offsets. Consecutive
    # images once shared offsets (image c's patch i was image c+1's patch i-1).
    ys, xs = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    image = tf.constant(np.stack([ys, xs, np.zeros_like(ys)], -1).astype("uint8"))
    crops = np.concatenate([patches.hr_patches(image, tf.constant([0, c], tf.int64), 16, "crop", 4).numpy()
                            for c in range(3)])
    corners = {(p[0, 0, 0], p[0, 0, 1]) for p in crops}
    assert len(corners) == len(crops) == 12


def test_validation_images_are_held_out_of_training(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):  # each image one flat colour, so images are told apart by it
        Image.fromarray(np.full((40, 40, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    config = DataSettings(data=f"folder:{folder}", hr_size=32, batch_size=2, augment=False)
    _, _, held = data.validation_triples(config, 2, held_out=2)
    held_colours = {int(round(v)) for v in np.unique(np.round(held[..., 0] * 255))}

    def trained(seed):
        return {int(round(float(hr[0, 0, 0, 0]) * 255))
                for _, _, hr in make_dataset(config, seed, held_out=2).take(20)}

    assert len(held_colours) == 2 and len(trained(0)) == 4
    assert not held_colours & trained(0)
    # The same images whatever the data seed (a resumed run reseeds the data).
    assert trained(7) == trained(0)


def test_holding_out_every_image_is_refused(tmp_path):
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "only.png")
    config = DataSettings(data=f"folder:{tmp_path}", hr_size=32)
    with pytest.raises(ValueError, match="needs more than 1 usable"):
        next(iter(make_dataset(config, held_out=1)))
