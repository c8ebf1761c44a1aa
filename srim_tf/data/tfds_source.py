"""`tfds:NAME[:SPLIT]`: a TensorFlow Datasets dataset as a stream of uint8 RGB images.

Its `image` or `hr` feature is read with TFDS's own `data_dir` and manual-download
conventions; `--tfds_classes` keeps the first `--tfds_per_class` examples of chosen labels.
"""

import tensorflow as tf


def tfds_images(name_and_split, data_dir=None, classes=(), per_class=0):
    """uint8 RGB `[H, W, 3]` images of `NAME[:SPLIT]` (split default "train"), in order.

    Raises:
        ValueError: naming the source, for an unknown dataset, one not prepared, or one
            with no `image` or `hr` feature.
    """
    import tensorflow_datasets as tfds

    name, _, split = name_and_split.partition(":")
    try:
        dataset, info = tfds.load(name, split=split or "train", data_dir=data_dir,
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
    if classes:
        dataset = class_subset(dataset, classes, per_class)
    return dataset.map(lambda example: _to_rgb8(example[key]), num_parallel_calls=tf.data.AUTOTUNE)


def class_subset(dataset, classes, per_class):
    """The examples whose `label` is in `classes`, the first `per_class` of each (0: all)."""
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
