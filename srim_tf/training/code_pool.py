"""Code reuse (the authors' schedule): choose codes for a pool of images, then train on
random batches of it for many steps.

Every worker keeps what its own replicas chose for their own images: a worker's pool is its
share of the global pool, and its batches feed only its own replicas.
"""

import math

import numpy as np
import tensorflow as tf
from absl import logging

from srim_tf.training.batches import BATCH_KEYS, FEATURES_KEY


def worker_pool_size(pool_size, worker_rows, global_rows):
    """Images of a `pool_size` pool this worker keeps: its share of the rows chosen.

    A worker keeps only its own replicas' rows (`worker_rows` of every `global_rows`), so
    with N equal workers each keeps `ceil(pool_size / N)` images.
    """
    return math.ceil(pool_size * worker_rows / global_rows)


def pool_feature_bytes(batch_features, pool_rows):
    """Bytes that `pool_rows` images' target features take in memory.

    Args:
        batch_features: one batch's features, dict of `[rows, ...]` arrays.
        pool_rows: images kept (on one worker: `worker_pool_size`).
    """
    rows = len(next(iter(batch_features.values())))
    return sum(v.nbytes for v in batch_features.values()) * pool_rows // rows


class CodePool:
    """Code reuse: choose codes for a pool of images, then train on random batches of it.

    Each pool image is trained on about `code_reuse_steps * batch_size / code_pool_size`
    times (500 in the authors' schedule), so its target's VGG features are kept with its
    codes when they fit in `--target_feature_cache_mb`: every step then skips one VGG
    forward pass per image.

    The pool is held once, in numpy arrays allocated at their final size and filled batch by
    batch, which the training batches gather from by shuffled indices: a dataset of the
    pool's slices would copy it into the dataset and again into a shuffle buffer of the
    pool's size (benchmarks/pool_memory.py measures the difference).

    Args:
        model: the `SRIM` model (`select_codes`, `jitter_codes`, `imle.code_jitter_mode`).
        strategy: the distribution strategy.
        batch_iterator: distributed iterator of `(lr, mid, hr)` batches.
        size: images in the global pool (`--code_pool_size`).
        batch_size: the global batch size.
        feature_cache_mb: budget of one worker's cached target features
            (`--target_feature_cache_mb`; 0 caches nothing).
    """

    def __init__(self, model, strategy, batch_iterator, size, batch_size, feature_cache_mb):
        self.model, self.strategy, self.batches = model, strategy, batch_iterator
        self.size, self.batch_size = size, batch_size
        # Pixel-only features are the target itself: nothing to save by caching.
        self.cache_targets = model.features.trunk is not None and feature_cache_mb > 0
        self.cache_budget_bytes = feature_cache_mb * 2 ** 20
        self.iterator = None

        @tf.function
        def choose(batch, with_targets):
            def one_replica(triple):
                chosen = model.select_codes(*triple, with_targets=with_targets)
                if model.imle.code_jitter_mode == "fixed":  # Kept for the pool's whole life.
                    z_lo, z_up = model.jitter_codes(chosen.z_lo, chosen.z_up)
                    chosen = chosen._replace(z_lo=z_lo, z_up=z_up)
                return chosen

            return strategy.run(one_replica, args=(batch,))

        self._choose = choose

    def _local(self, value):
        # This worker's replicas' parts, in replica order: [local batch, ...].
        return np.concatenate([np.asarray(x) for x in self.strategy.experimental_local_results(value)])

    def _fits_budget(self, features, worker_rows):
        pool_bytes = pool_feature_bytes(features, worker_rows)
        if pool_bytes > self.cache_budget_bytes:
            logging.info("Target features of this worker's %d pool images would take %.0f MB,"
                         " over --target_feature_cache_mb=%d: recomputing them every step.",
                         worker_rows, pool_bytes / 2 ** 20, self.cache_budget_bytes // 2 ** 20)
            return False
        logging.info("Caching the target features of this worker's %d pool images (%.0f MB).",
                     worker_rows, pool_bytes / 2 ** 20)
        return True

    def refill(self, shuffle_seed):
        """Chooses codes for a new pool; returns this worker's mean nearest distances per stage."""
        self.iterator = None  # Lets the old pool go before the new one is chosen.
        pool, filled, distances = None, 0, []
        for index in range(math.ceil(self.size / self.batch_size)):
            triple = next(self.batches)
            chosen = self._choose(triple, self.cache_targets)
            part = {key: self._local(x) for key, x in zip(BATCH_KEYS, triple)}
            part.update(z_lo=self._local(chosen.z_lo), z_up=self._local(chosen.z_up))
            if self.cache_targets:
                targets = {name: self._local(v) for name, v in chosen.hr_features.items()}
                if index == 0:
                    self.cache_targets = self._fits_budget(targets, worker_pool_size(
                        self.size, len(part["lr"]), self.batch_size))
                if self.cache_targets:
                    part[FEATURES_KEY] = targets
            if pool is None:  # This worker's share, allocated once and filled batch by batch.
                local_size = worker_pool_size(self.size, len(part["lr"]), self.batch_size)
                pool = tf.nest.map_structure(
                    lambda x: np.empty((local_size,) + x.shape[1:], x.dtype), part)
            rows = min(len(part["lr"]), local_size - filled)
            for column, values in zip(tf.nest.flatten(pool), tf.nest.flatten(part)):
                column[filled:filled + rows] = values[:rows]
            filled += rows
            distances.append([float(np.mean(self._local(d)))
                              for d in (chosen.lower_distance, chosen.upper_distance)])
        self.iterator = iter(self.strategy.distribute_datasets_from_function(
            self._batches_of(pool, local_size, shuffle_seed)))
        lower, upper = np.mean(distances, axis=0)
        return {"nearest_distance_lower": lower, "nearest_distance_upper": upper}

    def _batches_of(self, pool, size, shuffle_seed):
        """A dataset function of per-replica batches of `pool` (nested numpy arrays of `size` rows).

        The pool is this worker's already: no sharding. Shuffled indices draw the batches that
        shuffling the pool's slices would (the same permutation for the same seed), and
        `numpy_function` gathers their rows from the arrays themselves: the pool is never
        copied into the dataset or a shuffle buffer.
        """
        columns = tf.nest.flatten(pool)
        dtypes = [tf.as_dtype(column.dtype) for column in columns]
        global_batch = self.batch_size

        def gather(index):  # [batch] int64 -> the pool's rows, nested as the pool
            rows = tf.numpy_function(lambda i: [column[i] for column in columns], [index],
                                     dtypes, stateful=False)
            for row, column in zip(rows, columns):
                row.set_shape(index.shape[:1] + column.shape[1:])
            return tf.nest.pack_sequence_as(pool, rows)

        def dataset(context):
            batch = context.get_per_replica_batch_size(global_batch)
            indices = tf.data.Dataset.range(size).shuffle(size, seed=shuffle_seed).repeat()
            return indices.batch(batch, drop_remainder=True).map(gather)

        return dataset
