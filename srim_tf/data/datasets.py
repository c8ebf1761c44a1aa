"""tf.data: image sources -> decoded 8-bit RGB -> HR patches -> (LR, mid, HR) triples.

Sources (one string, comma-separated for several):
    folder:PATH           every png/jpg/jpeg/bmp/gif/webp under PATH, recursively;
    tfds:NAME[:SPLIT]     a TensorFlow Datasets dataset (its `image` or `hr` feature), read
                          with TFDS's own `data_dir` and manual-download conventions;
    builtin               the photographs that ship inside scikit-image and scikit-learn,
                          so the main job runs on a fresh machine with no data.

HR patches come from each image by `crop` (random HR-size patches, several per image per
pass; images smaller than the HR size are skipped and counted) or `resize` (anisotropic
resize to the HR size, as the paper does; every image is used). LR and the 2x "mid" target
are made by `resize.bicubic_downsample`, the convention of published tables.

Folder files are checked once before training: corrupt, truncated, empty or non-image
files are skipped and counted, and the first few paths are logged.
"""

import dataclasses
import os
from concurrent import futures

import numpy as np
import tensorflow as tf
from absl import logging

from srim_tf import checks
from srim_tf.data.resize import bicubic_downsample

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
HR_MODES = ("crop", "resize")
DEGRADATIONS = ("blur", "jpeg", "noise")
_BUILTIN_SKIMAGE = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
                    "motorcycle_left.png", "motorcycle_right.png", "hubble_deep_field.jpg",
                    "retina.jpg", "ihc.png", "camera.png", "brick.png", "grass.png",
                    "gravel.png", "moon.png", "coins.png", "clock_motion.png", "page.png")
_BUILTIN_SKLEARN = ("china.jpg", "flower.jpg")
_LOGGED_BAD_PATHS = 5


@dataclasses.dataclass
class DataConfig:
    """What `make_dataset` builds. Defaults live in `cli/flags.py`; this mirrors them."""
    sources: str = "builtin"
    hr_size: int = 128
    hr_mode: str = "crop"
    patches_per_image: int = 8
    batch_size: int = 16
    augment: bool = True
    degradations: tuple = ()
    cache: bool = False
    shuffle_buffer: int = 256
    seed: int = 0
    tfds_data_dir: str = None
    tfds_classes: tuple = ()
    tfds_per_class: int = 0
    held_out: int = 0  # images kept out of training, for validation (`validation_triples`)


@dataclasses.dataclass
class ScanReport:
    """What the check of image files found."""
    usable: list
    corrupt: list
    too_small: list

    def summary(self):
        return (f"{len(self.usable)} usable images, {len(self.corrupt)} unreadable skipped,"
                f" {len(self.too_small)} smaller than the HR size skipped")

    def details(self):
        """The summary, then the first few skipped files of each kind by name."""
        lines = [self.summary()]
        for kind, bad in (("unreadable", self.corrupt), ("smaller than the HR size", self.too_small)):
            if bad:
                more = f" and {len(bad) - _LOGGED_BAD_PATHS} more" if len(bad) > _LOGGED_BAD_PATHS else ""
                lines.append(f"Skipped as {kind}: {', '.join(bad[:_LOGGED_BAD_PATHS])}{more}")
        return "\n\n".join(lines)  # Markdown paragraphs in TensorBoard's Text tab


# ---- sources --------------------------------------------------------------------------

def builtin_paths():
    """Paths of the sample photographs installed with scikit-image and scikit-learn."""
    import skimage
    import sklearn

    skimage_dir = os.path.join(os.path.dirname(skimage.__file__), "data")
    sklearn_dir = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images")
    paths = [os.path.join(skimage_dir, name) for name in _BUILTIN_SKIMAGE]
    paths += [os.path.join(sklearn_dir, name) for name in _BUILTIN_SKLEARN]
    return [path for path in paths if os.path.isfile(path)]


def folder_paths(folder):
    """Every image file under `folder`, recursively, sorted."""
    if not os.path.isdir(folder):
        raise ValueError(f"Image folder not found. Expected a directory. Received: folder:{folder}")
    paths = []
    for root, _, names in os.walk(folder):
        paths += [os.path.join(root, name) for name in names
                  if name.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(paths)


def parse_sources(sources):
    """Splits a source string into `[(kind, argument)]`, checking each."""
    parsed = []
    for source in filter(None, (s.strip() for s in sources.split(","))):
        kind, _, argument = source.partition(":")
        if kind == "builtin" and not argument:
            parsed.append(("builtin", None))
        elif kind in ("folder", "tfds") and argument:
            parsed.append((kind, argument))
        else:
            raise ValueError(
                "Unknown data source. Expected 'builtin', 'folder:PATH' or 'tfds:NAME[:SPLIT]',"
                f" comma-separated. Received: {source!r}")
    if not parsed:
        raise ValueError(f"No data source given. Received: data={sources!r}")
    return parsed


def decode_image(encoded):
    """Encoded bytes -> uint8 RGB `[H, W, 3]`: grey replicated, alpha dropped, 16 bits cut to 8."""
    return tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)


def _check_file(path):
    try:
        image = decode_image(tf.io.read_file(path))
        return path, tuple(image.shape[:2])
    except (tf.errors.OpError, ValueError):
        return path, None


def scan_files(paths, min_size=0, workers=8):
    """Decodes every file once; sorts them into usable, corrupt and too small.

    Decoding runs in threads (TensorFlow ops release the GIL).
    """
    report = ScanReport([], [], [])
    with futures.ThreadPoolExecutor(workers) as pool:
        for path, shape in pool.map(_check_file, paths):
            if shape is None:
                report.corrupt.append(path)
            elif min(shape) < min_size:
                report.too_small.append(path)
            else:
                report.usable.append(path)
    for kind, bad in (("unreadable", report.corrupt), ("smaller than the HR size", report.too_small)):
        if bad:
            logging.warning("Skipping %d %s image file(s), e.g. %s", len(bad), kind,
                            ", ".join(bad[:_LOGGED_BAD_PATHS]))
    return report


def _tfds_images(name_and_split, config):
    import tensorflow_datasets as tfds

    name, _, split = name_and_split.partition(":")
    try:
        dataset, info = tfds.load(name, split=split or "train", data_dir=config.tfds_data_dir,
                                  with_info=True, shuffle_files=False)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"Unknown TFDS dataset. Received: tfds:{name_and_split}") from error
    except (AssertionError, tfds.core.download.DownloadError, OSError) as error:
        raise ValueError(
            f"TFDS dataset {name!r} is not available: {error}. Prepare it with TFDS first"
            " (`tfds build`, or its manual-download instructions) and pass --tfds_data_dir."
            f" Received: tfds:{name_and_split}") from error
    key = "image" if "image" in info.features else "hr" if "hr" in info.features else None
    if key is None:
        raise ValueError(f"TFDS dataset {name!r} has no 'image' or 'hr' feature."
                         f" Received features: {list(info.features)}")
    if config.tfds_classes:
        dataset = _class_subset(dataset, config.tfds_classes, config.tfds_per_class)
    return dataset.map(lambda example: _to_rgb8(example[key]), num_parallel_calls=tf.data.AUTOTUNE)


def _class_subset(dataset, classes, per_class):
    # One pass keeping the first `per_class` examples of each chosen label (paper: 20 x 150).
    classes = tf.constant(classes, tf.int64)

    def keep(counts, example):
        hit = tf.equal(classes, tf.cast(example["label"], tf.int64))
        room = tf.logical_or(per_class <= 0, counts < per_class)
        take = tf.reduce_any(tf.logical_and(hit, room))
        return counts + tf.cast(tf.logical_and(hit, room), tf.int64), (take, example)

    dataset = dataset.scan(tf.zeros_like(classes), keep)
    return dataset.filter(lambda take, _: take).map(lambda _, example: example)


def _to_rgb8(image):
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.uint8:
        image = tf.image.convert_image_dtype(image, tf.uint8, saturate=True)
    channels = tf.shape(image)[-1]
    image = tf.cond(channels == 1, lambda: tf.tile(image, [1, 1, 3]), lambda: image[..., :3])
    return tf.ensure_shape(image, [None, None, 3])


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


def image_dataset(config, report_to=None, scanned=None, part="training"):
    """All sources' decoded uint8 RGB images, one pass, in a fixed order.

    `config.held_out` images are kept apart: a fixed, seeded choice among the image files
    (the first images of the TFDS stream when there are no files). `part="training"` gives
    the rest, `part="held_out"` those.

    Args:
        config: `DataConfig`.
        report_to: optional list that receives the `ScanReport` of file sources.
        scanned: a `ScanReport` of these sources from an earlier call, to skip the scan.
        part: "training" or "held_out".
    """
    checks.check_choice("part", part, ("training", "held_out"))
    checks.check_choice("hr_mode", config.hr_mode, HR_MODES)
    paths, datasets = [], []
    for kind, argument in parse_sources(config.sources):
        if kind == "builtin":
            paths += builtin_paths()
        elif kind == "folder":
            found = folder_paths(argument)
            if not found:
                raise ValueError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) in folder."
                                 f" Received: folder:{argument}")
            paths += found
        else:
            datasets.append(_tfds_images(argument, config))
    if paths:
        min_size = config.hr_size if config.hr_mode == "crop" else 1
        report = scanned or scan_files(paths, min_size)
        logging.info("Image files: %s", report.summary())
        if report_to is not None:
            report_to.append(report)
        if not report.usable and not datasets:
            raise ValueError(
                f"No usable image in data={config.sources!r}: {report.summary()}. Crop mode needs"
                f" images of at least {config.hr_size}x{config.hr_size} (or use --hr_mode=resize).")
        if report.usable:
            training, held_out = held_out_split(report.usable, config.held_out)
            files = tf.data.Dataset.from_tensor_slices(training if part == "training" else held_out)
            datasets.insert(0, files.map(lambda p: decode_image(tf.io.read_file(p)),
                                         num_parallel_calls=tf.data.AUTOTUNE))
    if config.held_out and not paths:  # TFDS only: its first images are held out.
        datasets[0] = (datasets[0].skip(config.held_out) if part == "training"
                       else datasets[0].take(config.held_out))
    elif part == "held_out":
        datasets = datasets[:1]  # the held-out files alone
    dataset = datasets[0]
    for other in datasets[1:]:
        dataset = dataset.concatenate(other)
    return dataset


# ---- HR patches, augmentation, degradations --------------------------------------------

def _hr_patches(image, seed, config):
    """uint8 image -> float32 `[P, hr, hr, 3]` patches in [0, 1]."""
    size = config.hr_size
    image = tf.image.convert_image_dtype(image, tf.float32)
    if config.hr_mode == "resize":
        patch = tf.image.resize(image, [size, size], "bicubic", antialias=True)
        return tf.clip_by_value(patch, 0.0, 1.0)[None]
    # Image c's seed is (seed, c): patch i gets (seed, c * P + i), distinct per (image, patch).
    first = seed * tf.constant([1, config.patches_per_image], tf.int64)
    crops = [tf.image.stateless_random_crop(image, [size, size, 3], seed=first + [0, i])
             for i in range(config.patches_per_image)]
    return tf.stack(crops)


def augment(patch, seed):
    """Random horizontal flip, vertical flip and transpose (the 8 symmetries of a square)."""
    flips = tf.random.stateless_uniform([3], seed=seed) < 0.5
    patch = tf.cond(flips[0], lambda: patch[:, ::-1], lambda: patch)
    patch = tf.cond(flips[1], lambda: patch[::-1], lambda: patch)
    return tf.cond(flips[2], lambda: tf.transpose(patch, [1, 0, 2]), lambda: patch)


def degrade(lr, seed, kinds):
    """Real-world degradations of LR images `[N, h, w, 3]`: blur, JPEG and noise.

    Plain TensorFlow ops, so no extra package is needed.
    """
    for kind in kinds:
        checks.check_choice("degradation", kind, DEGRADATIONS)
    draws = tf.random.stateless_uniform([3], seed=seed)
    if "blur" in kinds:
        sigma = 0.2 + 1.8 * draws[0]
        taps = tf.range(-3, 4, dtype=tf.float32)
        kernel = tf.exp(-0.5 * tf.square(taps / sigma))
        kernel /= tf.reduce_sum(kernel)
        kernel_2d = tf.tile((kernel[:, None] * kernel[None, :])[:, :, None, None], [1, 1, 3, 1])
        padded = tf.pad(lr, [[0, 0], [3, 3], [3, 3], [0, 0]], mode="REFLECT")
        lr = tf.nn.depthwise_conv2d(padded, kernel_2d, [1, 1, 1, 1], "VALID")
    if "jpeg" in kinds:
        quality = tf.cast(30 + 65 * draws[1], tf.int32)
        lr = tf.map_fn(lambda image: tf.image.adjust_jpeg_quality(image, quality), lr)
    if "noise" in kinds:
        lr += (draws[2] * 10.0 / 255.0) * tf.random.stateless_normal(tf.shape(lr), seed=seed + 1)
    return tf.round(tf.clip_by_value(lr, 0.0, 1.0) * 255.0) / 255.0


def to_triple(hr):
    """HR `[N, H, W, 3]` -> `(lr, mid, hr)` by the published bicubic convention."""
    return bicubic_downsample(hr, 4), bicubic_downsample(hr, 2), hr


def make_dataset(config, report_to=None):
    """An endless, shuffled, batched stream of `(lr, mid, hr)` float32 triples.

    The same `config.seed` gives the same stream: shuffles are seeded and every random
    crop, flip and degradation is a stateless function of the seed and the element's
    position.
    """
    checks.check_positive_int("hr_size", config.hr_size)
    checks.check_positive_int("batch_size", config.batch_size)
    if config.hr_size % 4:
        raise ValueError(f"hr_size must be a multiple of 4 (the scale). Received: hr_size={config.hr_size}")
    images = image_dataset(config, report_to)
    if config.cache:
        images = images.cache()
    images = images.shuffle(64, seed=config.seed, reshuffle_each_iteration=True).repeat()
    seeds = tf.data.Dataset.counter().map(lambda i: tf.stack([tf.cast(config.seed, tf.int64), i]))
    patches = tf.data.Dataset.zip(images, seeds).map(
        lambda image, seed: _hr_patches(image, seed, config), num_parallel_calls=tf.data.AUTOTUNE)
    patches = patches.unbatch()
    if config.augment:
        patches = tf.data.Dataset.zip(patches, seeds).map(
            lambda patch, seed: augment(patch, seed + [0, 1 << 40]),
            num_parallel_calls=tf.data.AUTOTUNE)
    patches = patches.shuffle(config.shuffle_buffer, seed=config.seed + 1)
    batches = patches.batch(config.batch_size, drop_remainder=True)
    batches = batches.map(to_triple, num_parallel_calls=tf.data.AUTOTUNE)
    if config.degradations:
        batches = tf.data.Dataset.zip(batches, seeds).map(
            lambda triple, seed: (degrade(triple[0], seed + [0, 1 << 41], config.degradations),)
            + triple[1:], num_parallel_calls=tf.data.AUTOTUNE)
    # A file that passed the scan but fails later (changed on disk) is dropped, not fatal.
    return batches.ignore_errors(log_warning=True).prefetch(tf.data.AUTOTUNE)


def validation_triples(config, count, scanned=None):
    """`count` fixed triples (centre HR crops, or resized images) for summaries and PSNR.

    From the images held out of training when `config.held_out`, else from the first
    images of `config.sources` (a separate validation set).

    `scanned`: the `ScanReport` `make_dataset` produced for the same sources, if any.
    """
    images = image_dataset(config, scanned=scanned,
                           part="held_out" if config.held_out else "training")
    size = config.hr_size
    patches = []
    for image in images.take(count):
        image = tf.image.convert_image_dtype(image, tf.float32)
        if config.hr_mode == "resize" or min(image.shape[:2]) < size:
            patch = tf.clip_by_value(tf.image.resize(image, [size, size], "bicubic", antialias=True), 0, 1)
        else:
            patch = tf.image.resize_with_crop_or_pad(image, size, size)
        patches.append(patch)
    if not patches:
        raise ValueError(f"No validation image in data={config.sources!r}")
    return tuple(t.numpy() for t in to_triple(tf.stack(patches)))

