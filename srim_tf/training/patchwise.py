"""Choosing codes patch by patch instead of for the whole image (not in the paper).

The paper chooses, per training image, the one code whose whole output is nearest to the
target. An image holds many independent local ambiguities (which way a texture runs,
where a stripe starts); a whole-image nearest sample matches a few of them and is random
in the rest, so the gradient step pulls most regions of the chosen sample towards a target
that has nothing to do with their codes, and the generator learns to ignore its codes
there: diversity collapses to the regression mean. `studies/modes.py` measures this on
a task with a known answer.

The generator's codes are per pixel and its receptive field is local, so a code field can
be assembled from different samples in different places. With a patch grid, every patch
of the target picks its own nearest sample among the m drawn, and the chosen code field
takes each patch's codes from its own winner. Near patch borders an output pixel also sees
the neighbours' codes, so the assembled sample is close to, not equal to, the patches'
winners; the gradient step uses the assembled codes, so it trains on what it computes.

Distances per patch are the same weighted means as `Distance.paired`, restricted to the
patch (the whole-image distance is their mean). The grid is sized per stage and layer:
a layer finer than the grid is averaged over each patch; a layer coarser than it (VGG
conv4 of the 2x stage is a quarter of the LR size) gives each patch the distance of the
feature pixel that holds it; a layer whose size is neither (AlexNet's, for LPIPS) is
resampled onto the grid bilinearly.
"""

import tensorflow as tf


def check_patch(patch, lr_height, lr_width):
    """Raises a ValueError unless `patch` LR pixels tile an LR image of this size."""
    if patch < 1 or lr_height % patch or lr_width % patch:
        raise ValueError(
            f"--selection_patch must divide the LR size. Received: selection_patch={patch}"
            f" for LR {lr_height}x{lr_width} (accepted: 0 for whole images, or a divisor of"
            " both sides).")


def patch_distances(distance, sample_features, target_features, samples_per_input, grid):
    """Distances `[B, m, gh, gw]` from each input's m samples to its target, per patch.

    Args:
        distance: a `distances.Distance` with projection "none".
        sample_features: dict of `[B * m, H_l, W_l, C_l]`, input-major.
        target_features: dict of `[B, H_l, W_l, C_l]`.
        samples_per_input: m.
        grid: `(gh, gw)`, patches per column and row; each layer's H_l and W_l must be
            multiples of them.
    """
    if distance.projection != "none":
        raise ValueError("Patch-wise selection needs exact distances."
                         f" Received: projection={distance.projection!r}")
    m = samples_per_input
    total = 0.0
    for name, weight in distance.weights.items():
        samples = tf.cast(sample_features[name], tf.float32)
        targets = tf.repeat(tf.cast(target_features[name], tf.float32), m, axis=0)
        diff = samples - targets
        diff = tf.abs(diff) if distance.kind == "l1" else tf.square(diff)
        diff = tf.reduce_mean(diff, axis=-1, keepdims=True)  # [B * m, H_l, W_l, 1]
        total += weight * on_grid(diff, grid, name)[..., 0]
    return tf.reshape(total, [-1, m, grid[0], grid[1]])


def on_grid(values, grid, name="feature"):
    """Per-pixel values `[N, H, W, 1]` of one layer -> their means per patch `[N, gh, gw, 1]`."""
    height, width = values.shape[1], values.shape[2]
    if height is None or width is None:
        raise ValueError(f"Patch-wise selection needs the {name} map's size at trace time"
                         " (fixed-size training crops).")
    if height % grid[0] == 0 and width % grid[1] == 0:
        pool = (height // grid[0], width // grid[1])
        return tf.nn.avg_pool2d(values, pool, pool, "VALID")
    if grid[0] % height == 0 and grid[1] % width == 0:
        return _to_pixels(values, grid[0], grid[1])
    return tf.image.resize(values, grid, method="bilinear")


def _to_pixels(per_patch, height, width):
    """`[B, gh, gw, ...]` -> `[B, height, width, ...]` by repeating each patch's value."""
    grid_h, grid_w = per_patch.shape[1], per_patch.shape[2]
    out = tf.repeat(per_patch, height // grid_h, axis=1)
    return tf.repeat(out, width // grid_w, axis=2)


def choose(codes, patch_index):
    """Each patch's codes from its own sample.

    Args:
        codes: `[B, m, H, W, C]`, the m samples' codes of one stage.
        patch_index: int32 `[B, gh, gw]`, which sample each patch chose.

    Returns:
        `[B, H, W, C]`.
    """
    index = _to_pixels(patch_index, tf.shape(codes)[2], tf.shape(codes)[3])  # [B, H, W]
    by_pixel = tf.transpose(codes, [0, 2, 3, 1, 4])  # [B, H, W, m, C]
    return tf.gather(by_pixel, index, axis=3, batch_dims=3)


def keep_better(new_codes, old_codes, better):
    """Codes `[B, H, W, C]` from `new_codes` in the patches where `better` `[B, gh, gw]` holds."""
    mask = _to_pixels(better, tf.shape(new_codes)[1], tf.shape(new_codes)[2])[..., None]
    return tf.where(mask, new_codes, old_codes)
