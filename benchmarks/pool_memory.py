#!/usr/bin/env python3
"""Memory the code pool's feature cache takes, in two checkouts of this repository, by turns.

    python benchmarks/pool_memory.py --before=/path/to/old/checkout [--pool=96] [--rounds=2]

Each turn is a fresh process that imports `srim_tf` from one checkout, builds a small
generator with random-VGG conv2_2 + conv4 (VGG19's conv4_4) losses at HR 128 (the paper's
feature shapes: 2.7 MB of target features per image), refills a code pool of `--pool`
images with the feature cache on, and draws 20 batches from it. It reports the cache's own size and the
process's resident memory (RSS) above what it held before the refill: after the refill and
after the batches, and the peak: whether the pool is held once, not also as a dataset of its
slices and a shuffle buffer of the whole pool.
Both checkouts must have the subpackage layout (`srim_tf/training/code_pool.py`); either may
declare its settings in `srim_tf/settings.py` or, from before then, in absl flags.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TURN = r'''
import ctypes, json, os, resource, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
checkout = sys.argv[1]
sys.path.insert(0, checkout)
pool_size = int(sys.argv[2])
import numpy as np, tensorflow as tf
from srim_tf.training import build
from srim_tf.training.code_pool import CodePool

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20

shape = dict(data="builtin", hr_size=128, batch_size=16, channels=8, kernel_size=3, num_convs=3,
             num_lower_samples=2, num_upper_samples=2, sample_chunk=2, vgg_weights="random",
             loss_pixel_weight=1e-3, loss_conv2_2_weight=1.0, loss_conv4_weight=0.1,
             selection_pixel_weight=1.0, selection_conv4_weight=0.0,
             code_pool_size=pool_size, target_feature_cache_mb=4096)
sys.path.insert(1, sys.argv[3])  # benchmarks/, for checkouts.py
import checkouts
settings = checkouts.run_settings(checkout, shape)
model, _ = build.srim(settings)
strategy = tf.distribute.get_strategy()
batches = iter(strategy.experimental_distribute_dataset(checkouts.dataset(checkout, settings)))
pool = CodePool(model, strategy, batches, pool_size, 16, 4096)
# Warm-up: one refill of a pool of one batch compiles selection; then measure from here.
small = CodePool(model, strategy, batches, 16, 16, 4096)
small.refill(0)
next(small.iterator)
del small
base = rss_mb()
pool.refill(0)
after_refill = rss_mb()
for _ in range(20):
    batch = next(pool.iterator)
after_batches = rss_mb()
# What the allocator keeps of freed memory is handed back, so what remains is held.
ctypes.CDLL("libc.so.6").malloc_trim(0)
after_trim = rss_mb()
per_image = sum(v.numpy().nbytes for v in batch["hr_features"].values()) / 16
print(json.dumps({"feature_cache_mb": per_image * pool_size / 2 ** 20,
                  "rss_growth_after_refill_mb": after_refill - base,
                  "rss_growth_after_20_batches_mb": after_batches - base,
                  "rss_growth_after_malloc_trim_mb": after_trim - base,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_refill_mb": base}))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="Checkout of the code before the change.")
    parser.add_argument("--after", default=ROOT, help="Checkout of the code after (this one).")
    parser.add_argument("--pool", type=int, default=96, help="Images in the pool.")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results = {"before": [], "after": []}
    for _ in range(args.rounds):
        for name in ("before", "after"):
            turn = subprocess.run([sys.executable, "-c", TURN, getattr(args, name), str(args.pool),
                                   os.path.dirname(os.path.abspath(__file__))],
                                  capture_output=True, text=True)
            if turn.returncode:
                sys.exit(f"The {name} turn failed:\n{turn.stderr[-3000:]}")
            out = turn.stdout
            results[name].append(json.loads(out.strip().splitlines()[-1]))
            print(name, json.dumps(results[name][-1]), flush=True)
    for name in ("before", "after"):
        rows = results[name]
        print(f"{name}: feature cache {rows[0]['feature_cache_mb']:.0f} MB; RSS growth (median of"
              f" {len(rows)}) after refill {statistics.median(r['rss_growth_after_refill_mb'] for r in rows):.0f} MB,"
              f" after 20 batches {statistics.median(r['rss_growth_after_20_batches_mb'] for r in rows):.0f} MB,"
              f" held after malloc_trim {statistics.median(r['rss_growth_after_malloc_trim_mb'] for r in rows):.0f} MB;"
              f" peak RSS {statistics.median(r['peak_rss_mb'] for r in rows):.0f} MB")


if __name__ == "__main__":
    main()
