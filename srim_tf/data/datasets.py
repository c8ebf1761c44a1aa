"""tf.data: image sources -> decoded 8-bit RGB -> HR patches -> (LR, mid, HR) triples.

The pipeline, from the pieces beside it: `sources` (what `--data` names), `scan` (each
file decoded once, unreadable and too-small ones skipped and counted), `tfds_source`,
`patches` (HR crops or resizes, augmentation, the bicubic triple) and `degradations`.
Validation images are held out of the training images here, by a fixed seed.
"""

import numpy as np
import tensorflow as tf
from absl import logging

from srim_tf import checks
from srim_tf.data.degradations import degrade
from srim_tf.data.image_io import IMAGE_EXTENSIONS
from srim_tf.data.patches import augment, centre_patch, hr_patches, to_triple
from srim_tf.data.scan import decode_image, scan_files
from srim_tf.data.sources import builtin_paths, folder_paths, parse_sources
from srim_tf.data.tfds_source import tfds_images

# Patches shuffled across images: enough to mix 32 images' crops at the default 8 per image.
SHUFFLE_BUFFER = 256
HELD_OUT_SEED = 0  # Fixed, not --seed: a resumed run (new data seed) holds out the same images.


def held_out_split(paths, count):
    """`(training, held_out)`: `count` of `paths` chosen by a fixed seed, the rest, both sorted."""
    if count and count >= len(paths):
        raise ValueError(f"Holding out {count} validation images needs more than {count} usable"
                         f" training images. Received: {len(paths)} usable images; pass fewer"
                         " --num_validation_images or separate --validation_data.")
    held = set(np.random.default_rng(HELD_OUT_SEED).permutation(len(paths))[:count].tolist())
    return ([p for i, p in enumerate(paths) if i not in held],
            [p for i, p in enumerate(paths) if i in held])


def image_dataset(data, held_out=0, report_to=None, scanned=None, part="training"):
    """All sources' decoded uint8 RGB images, one pass, in a fixed order.

    `held_out` images are kept apart: a fixed, seeded choice among the image files
    (the first images of the TFDS stream when there are no files). `part="training"` gives
    the rest, `part="held_out"` those.

    Args:
        data: the `DataSettings`.
        held_out: images kept out of training, for validation (`validation_triples`).
        report_to: optional list that receives the `ScanReport` of file sources.
        scanned: a `ScanReport` of these sources from an earlier call, to skip the scan.
        part: "training" or "held_out".
    """
    checks.check_choice("part", part, ("training", "held_out"))
    paths, datasets = [], []
    for kind, argument in parse_sources(data.data):
        if kind == "builtin":
            paths += builtin_paths()
        elif kind == "folder":
            found = folder_paths(argument)
            if not found:
                raise ValueError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) in folder."
                                 f" Received: folder:{argument}")
            paths += found
        else:
            datasets.append(tfds_images(argument, data.tfds_data_dir, data.tfds_classes,
                                        data.tfds_per_class))
    if paths:
        min_size = data.hr_size if data.hr_mode == "crop" else 1
        report = scanned or scan_files(paths, min_size)
        logging.info("Image files: %s", report.summary())
        if report_to is not None:
            report_to.append(report)
        if not report.usable and not datasets:
            raise ValueError(
                f"No usable image in data={data.data!r}: {report.summary()}. Crop mode needs"
                f" images of at least {data.hr_size}x{data.hr_size} (or use --hr_mode=resize).")
        if report.usable:
            training, held_out = held_out_split(report.usable, held_out)
            files = tf.data.Dataset.from_tensor_slices(training if part == "training" else held_out)
            # A file gone or changed since the scan is dropped here, before `repeat`: a pass
            # that reads none is then empty, which ends the stream instead of spinning.
            datasets.insert(0, files.map(lambda p: decode_image(tf.io.read_file(p)),
                                         num_parallel_calls=tf.data.AUTOTUNE).ignore_errors())
    if held_out and not paths:  # TFDS only: its first images are held out.
        datasets[0] = (datasets[0].skip(held_out) if part == "training"
                       else datasets[0].take(held_out))
    elif part == "held_out":
        datasets = datasets[:1]  # the held-out files alone
    dataset = datasets[0]
    for other in datasets[1:]:
        dataset = dataset.concatenate(other)
    return dataset


def make_dataset(data, seed=0, held_out=0, report_to=None):
    """An endless, shuffled, batched stream of `(lr, mid, hr)` float32 triples.

    Args:
        data: the `DataSettings` (sources, sizes, batch, augmentation, degradations).
        seed: the same seed gives the same stream: shuffles are seeded and every random
            crop, flip and degradation is a stateless function of the seed and the
            element's position.
        held_out: images kept out of training, for validation (`validation_triples`).
        report_to: optional list that receives the `ScanReport` of file sources.
    """
    images = image_dataset(data, held_out, report_to)
    if data.cache_data:
        images = images.cache()
    images = images.shuffle(64, seed=seed, reshuffle_each_iteration=True).repeat()
    seeds = tf.data.Dataset.counter().map(lambda i: tf.stack([tf.cast(seed, tf.int64), i]))
    patches = tf.data.Dataset.zip(images, seeds).map(
        lambda image, element_seed: hr_patches(image, element_seed, data.hr_size, data.hr_mode,
                                               data.patches_per_image),
        num_parallel_calls=tf.data.AUTOTUNE)
    patches = patches.unbatch()
    if data.augment:
        patches = tf.data.Dataset.zip(patches, seeds).map(
            lambda patch, element_seed: augment(patch, element_seed + [0, 1 << 40]),
            num_parallel_calls=tf.data.AUTOTUNE)
    patches = patches.shuffle(SHUFFLE_BUFFER, seed=seed + 1)
    batches = patches.batch(data.batch_size, drop_remainder=True)
    batches = batches.map(to_triple, num_parallel_calls=tf.data.AUTOTUNE)
    if data.degradations:
        batches = tf.data.Dataset.zip(batches, seeds).map(
            lambda triple, element_seed: (degrade(triple[0], element_seed + [0, 1 << 41],
                                                  data.degradations, data.max_noise_sigma),)
            + triple[1:], num_parallel_calls=tf.data.AUTOTUNE)
    return batches.prefetch(tf.data.AUTOTUNE)


def validation_triples(data, count, held_out=0, scanned=None):
    """`count` fixed triples (centre HR crops, or resized images) for summaries and PSNR.

    From the `held_out` images kept out of training when it is not 0, else from the first
    images of `data.data` (a separate validation set).

    `scanned`: the `ScanReport` `make_dataset` produced for the same sources, if any.
    """
    images = image_dataset(data, held_out, scanned=scanned,
                           part="held_out" if held_out else "training")
    patches = [centre_patch(image, data.hr_size, data.hr_mode) for image in images.take(count)]
    if not patches:
        raise ValueError(f"No validation image in data={data.data!r}")
    return tuple(t.numpy() for t in to_triple(tf.stack(patches)))

