"""IMLE sample selection (paper 2.2 and 2.4): each input's nearest codes.

For every training input, many noise codes are drawn, the generator's outputs for them
are compared with that input's target in the feature space, and the nearest one's codes
are kept. Samples of different inputs never compete. With `selection="hierarchical"` (the
paper's) the lower code is chosen first on the 2x output against the 2x target, then,
with it fixed, the upper code on the 4x output; `selection="joint"` draws (lower, upper) pairs
and chooses on the 4x output alone.

With a rejection radius (RS-IMLE: Vashist, Peng and Li, 2024) samples already nearer to
their target than the radius are passed over before the nearest is chosen: a target that
some sample already matches stops pulling that sample, and pulls the nearest of the others
instead, so training reaches the samples that are still far from every target. The radius is
one for every input (`rejection_radius`) or each input's own (`rejection_ratio` times the
distance from its target to its own clean LR's bicubic upsample: how much the LR leaves open
there). The clean LR, not the input: under `--degradations` a noisy or JPEG'd input's upsample
is far from even a flat target, and a radius made from it would pass over the samples that
match such a target, teaching grain where the truth is flat.
Adaptive IMLE (Aghabozorgi, Peng and Li, 2023) keeps a threshold per training example that
shrinks as that example is learned; our examples are random crops that never return, so the
example's own difficulty is measured from the example itself instead.

`select` is pure and per replica: each input's codes depend only on that input's seed,
never on which replica or batch it is in, so a batch split across replicas selects what
one device would, and no replica talks to another.
"""

import collections

import tensorflow as tf

from srim_tf.data.resize import bicubic_downsample, bicubic_upsample
from srim_tf.training import patchwise

# What `select` returns: the chosen codes `z_lo [B, 2h, 2w, c]` and `z_up [B, 4h, 4w, c]`,
# their distances `[B]` per stage (lower is 0 for joint selection), and the target's
# features (dict of `[B, ...]`, as selection computed them).
Selection = collections.namedtuple(
    "Selection", ["z_lo", "z_up", "lower_distance", "upper_distance", "hr_features"])

# The comparison key of a rejected sample: above every distance, so any sample outside
# the radius wins over it; when every sample is inside, the first is kept (all are near).
_REJECTED = 3e38

def example_seeds(seed, first_index, batch_size):
    """`[B, 2]` int64 seeds, one per input: `seed` with the input's global batch position."""
    index = tf.cast(first_index, tf.int64) + tf.range(tf.cast(batch_size, tf.int64))
    seed = tf.cast(seed, tf.int64)
    return tf.stack([tf.fill(tf.shape(index), seed[0]), seed[1] + index], axis=1)


def per_example_normal(seeds, shape, salt):
    """`[B, *shape]` standard normals, input b's drawn from `seeds[b]` and `salt` alone."""
    def one(seed):
        return tf.random.stateless_normal(
            shape, seed=tf.random.experimental.stateless_fold_in(seed, salt))

    return tf.map_fn(one, seeds, fn_output_signature=tf.float32)


# Salts of an input's draws from its seed: jitter of z_lo and z_up, then the codes of
# each chunk of samples at each stage (`_code_salt`).
_JITTER_SALTS = {"z_lo": 0, "z_up": 1}


def _code_salt(stage, chunk_index):
    return 2 + 2 * chunk_index + stage  # stage 0: lower, 1: upper


def jitter(z_lo, z_up, seeds, std):
    """Chosen codes `[B, ...]` plus `std` * N(0, 1), each input's drawn from its own seed."""
    if not std:
        return z_lo, z_up
    return tuple(z + std * per_example_normal(seeds, tf.shape(z)[1:], _JITTER_SALTS[name])
                 for name, z in (("z_lo", z_lo), ("z_up", z_up)))


def _repeat(images, times):
    return tf.repeat(images, times, axis=0)  # [B * times, ...], input-major


def _merge(codes):
    shape = tf.shape(codes)  # [B, c, ...] -> [B * c, ...]
    return tf.reshape(codes, tf.concat([[shape[0] * shape[1]], shape[2:]], axis=0))


def nearest(sample_fn, features, distance, target_features, num_samples, chunk, grid=None,
            radius=None):
    """Runs `sample_fn` chunk by chunk and keeps, per input, the nearest sample.

    Args:
        sample_fn: `(chunk_index, c) -> (codes, images)`, codes a tuple of `[B, c, ...]`
            tensors and images `[B * c, H, W, 3]` (input-major).
        features: the feature extractor.
        distance: the `Distance` to the targets.
        target_features: features of the targets, dict of `[B, ...]`.
        num_samples: m, the samples per input.
        chunk: samples per input per call of `sample_fn`.
        grid: None for one choice per input, or `(gh, gw)`: one choice per patch of that
            grid (`patchwise.py`); codes must then be `[B, c, H, W, C]`.
        radius: None, or the rejection radius: `[B]` (`[B, gh, gw]` with a grid); samples
            nearer than it are passed over unless all are.

    Returns:
        `(codes, distances)`: the chosen codes, each `[B, ...]`, and their distances `[B]`
        (with a grid, the mean over patches of each patch's chosen distance).
    """
    chunk = min(chunk, num_samples)
    sizes = [chunk] * (num_samples // chunk)
    if num_samples % chunk:
        sizes.append(num_samples % chunk)
    best_codes, best_distance = None, None
    for index, size in enumerate(sizes):
        # Chaining each chunk on the previous result keeps them sequential, so only
        # one chunk's activations are alive at a time.
        deps = [] if best_distance is None else [best_distance]
        with tf.control_dependencies(deps):
            codes, images = sample_fn(index, size)
            sample_features = features(tf.stop_gradient(images))
            if grid is None:
                distances = distance.to_targets(sample_features, target_features, size)  # [B, c]
            else:
                distances = patchwise.patch_distances(
                    distance, sample_features, target_features, size, grid)  # [B, c, gh, gw]
        keys = distances
        if radius is not None:
            keys = tf.where(distances < tf.expand_dims(radius, 1), _REJECTED, distances)
        closest = tf.argmin(keys, axis=1, output_type=tf.int32)  # [B] or [B, gh, gw]
        closest_key = tf.reduce_min(keys, axis=1)
        closest_distance = closest_key  # The same without rejection; else read it back.
        if radius is not None:
            closest_distance = (tf.gather(distances, closest, axis=1, batch_dims=1)
                                if grid is None else _at_patches(distances, closest))
        if grid is None:
            chosen = tuple(tf.gather(code, closest, axis=1, batch_dims=1) for code in codes)
        else:
            chosen = tuple(patchwise.choose(code, closest) for code in codes)
        if best_distance is None:
            best_codes, best_distance, best_key = chosen, closest_distance, closest_key
            continue
        # Strictly nearer only: ties keep the earlier sample, like a global argmin.
        better = closest_key < best_key
        if grid is None:
            best_codes = tuple(
                tf.where(tf.reshape(better, [-1] + [1] * (len(new.shape) - 1)), new, old)
                for new, old in zip(chosen, best_codes))
        else:
            best_codes = tuple(patchwise.keep_better(new, old, better)
                               for new, old in zip(chosen, best_codes))
        best_distance = tf.where(better, closest_distance, best_distance)
        best_key = tf.where(better, closest_key, best_key)
    if grid is not None:
        best_distance = tf.reduce_mean(best_distance, axis=[1, 2])
    return best_codes, best_distance


def _at_patches(distances, index):
    """`distances[b, index[b, i, j], i, j]`: `[B, gh, gw]` from `[B, c, gh, gw]`."""
    by_patch = tf.transpose(distances, [0, 2, 3, 1])  # [B, gh, gw, c]
    return tf.gather(by_patch, index, axis=3, batch_dims=3)


def rejection_radius(settings, distance, features, target_features, hr, scale, grid):
    """The rejection radius of each input (patch) at one stage, or None without rejection.

    Args:
        settings: the `ImleSettings` (`rejection_radius`, `rejection_ratio`).
        distance, features: as for `nearest`.
        target_features: the stage's targets' features, dict of `[B, ...]`.
        hr: the 4x targets `[B, 4h, 4w, 3]`, whose own bicubic LR (never the possibly
            degraded input) the reference is upsampled from.
        scale: the stage's output scale, 2 or 4.
        grid: as for `nearest`.

    Returns:
        None, or `[B]` (`[B, gh, gw]` with a grid).
    """
    if settings.rejection_radius:
        shape = [tf.shape(hr)[0]] + ([] if grid is None else list(grid))
        return tf.fill(shape, tf.constant(settings.rejection_radius, tf.float32))
    if not settings.rejection_ratio:
        return None
    clean_lr = bicubic_downsample(tf.cast(hr, tf.float32), 4)  # the data's convention (to_triple)
    upsampled = features(bicubic_upsample(clean_lr, scale))
    if grid is None:
        reference = distance.to_targets(upsampled, target_features, 1)[:, 0]  # [B]
    else:
        reference = patchwise.patch_distances(distance, upsampled, target_features, 1, grid)[:, 0]
    return settings.rejection_ratio * reference


def select(generator, features, batch, seeds, distance, settings):
    """Chooses each input's codes; pure and per replica.

    Args:
        generator: anything with `lower`, `upper` (the stages, callable on
            `[image, lr, noise]`) and `settings`: a `SRIMGenerator`, or stages at
            another precision (`precision.GeneratorInPrecision`).
        features: a `FeatureExtractor` (its trunk may be a `precision.OnWeightsOf`).
        batch: dict with "lr" `[B, h, w, 3]`, "mid" `[B, 2h, 2w, 3]`, "hr" `[B, 4h, 4w, 3]`.
        seeds: `[B, 2]` int64, one stateless seed per input (`example_seeds`).
        distance: the `Distance` that chooses the nearest sample.
        settings: the `ImleSettings`: codes per stage, chunk, selection mode and patch,
            rejection radius.

    Returns:
        A `Selection`.
    """
    lr = tf.cast(batch["lr"], tf.float32)
    shape = tf.shape(lr)
    height, width = shape[1], shape[2]
    channels = generator.settings.noise_channels
    hr_features = features(batch["hr"])
    grid = None
    if settings.selection_patch:
        # Patch-wise choice needs the LR size at trace time (fixed-size training crops).
        patchwise.check_patch(settings.selection_patch, lr.shape[1], lr.shape[2])
        grid = (lr.shape[1] // settings.selection_patch, lr.shape[2] // settings.selection_patch)

    def codes(stage, index, c):
        # Each chunk's codes of each input from that input's seed: [B, c, H, W, channels].
        scale = 2 * (stage + 1)
        return per_example_normal(seeds, [c, scale * height, scale * width, channels],
                                  _code_salt(stage, index))

    if settings.selection == "joint":
        def joint_samples(index, c):
            z_lo, z_up = codes(0, index, c), codes(1, index, c)
            lr_c = _repeat(lr, c)
            mid = generator.lower([lr_c, lr_c, _merge(z_lo)])
            return (z_lo, z_up), generator.upper([mid, lr_c, _merge(z_up)])

        (z_lo, z_up), d_up = nearest(
            joint_samples, features, distance, hr_features,
            settings.num_lower_samples + settings.num_upper_samples, settings.sample_chunk, grid,
            rejection_radius(settings, distance, features, hr_features, batch["hr"], 4, grid))
        return Selection(z_lo, z_up, tf.zeros_like(d_up), d_up, hr_features)

    def lower_samples(index, c):
        z_lo = codes(0, index, c)
        lr_c = _repeat(lr, c)
        return (z_lo,), generator.lower([lr_c, lr_c, _merge(z_lo)])

    mid_features = features(batch["mid"])
    (z_lo,), d_lo = nearest(lower_samples, features, distance, mid_features,
                            settings.num_lower_samples, settings.sample_chunk, grid,
                            rejection_radius(settings, distance, features, mid_features, batch["hr"], 2, grid))
    base = tf.cast(generator.lower([lr, lr, z_lo]), tf.float32)  # [B, 2h, 2w, 3]

    def upper_samples(index, c):
        z_up = codes(1, index, c)
        return (z_up,), generator.upper([_repeat(base, c), _repeat(lr, c), _merge(z_up)])

    (z_up,), d_up = nearest(upper_samples, features, distance, hr_features,
                            settings.num_upper_samples, settings.sample_chunk, grid,
                            rejection_radius(settings, distance, features, hr_features, batch["hr"], 4, grid))
    return Selection(z_lo, z_up, d_lo, d_up, hr_features)
