#!/usr/bin/env python3
"""Training-step or sampling time of two checkouts of this repository, timed by turns (A B, B A, A B, ...).

    python benchmarks/step_ab.py --before=/path/to/old/checkout [--rounds=3] [--shape=cpu_x4]
    python benchmarks/step_ab.py --before=/path/to/old/checkout --what=sampling

Each turn is a fresh process that imports `srim_tf` from one checkout. `--what=step` builds the
quickstart's or cpu_x4's generator with fresh selection (`--shape`; HR 64, pixel distances) and
times 10 compiled training steps after 3 warm-up steps on one fixed batch. `--what=sampling`
times the shipped model's 3 samples of a 128x128 photo crop (tiles of 64, float32 and
bfloat16) after one warm-up. Reports the median per checkout and their ratio. Both
checkouts must have the subpackage layout (`srim_tf/training/`, `srim_tf/inference/`, ...);
either may declare its settings in `srim_tf/settings.py` or, from before then, in absl flags.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMON = dict(hr_size=64, kernel_size=3, vgg_weights="random", loss_pixel_weight=1.0,
              loss_conv2_2_weight=0.0, loss_conv4_weight=0.0, selection_pixel_weight=1.0,
              selection_conv4_weight=0.0, learning_rate=1e-3, lr_decay_steps=[])
SHAPES = {  # The generators and selection of configs/quickstart.cfg and configs/cpu_x4.cfg.
    "quickstart": dict(COMMON, batch_size=8, channels=32, num_convs=6, num_lower_samples=8,
                       num_upper_samples=8, sample_chunk=8),
    "cpu_x4": dict(COMMON, batch_size=16, channels=48, num_convs=8, num_lower_samples=12,
                   num_upper_samples=12, sample_chunk=12),
}

TURN = r'''
import os, sys, time, json
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
checkout = sys.argv[1]
sys.path.insert(0, checkout)
import numpy as np, tensorflow as tf
from srim_tf.training import build
sys.path.insert(1, sys.argv[3])  # benchmarks/, for checkouts.py
import checkouts
shape = json.loads(sys.argv[2])
config = checkouts.run_settings(checkout, shape)
model, _ = build.srim(config)
model.compile(optimizer=build.optimizer(config))
rng = np.random.default_rng(0)
hr = tf.constant(rng.random((shape["batch_size"], 64, 64, 3)).astype("float32"))
batch = (tf.image.resize(hr, (16, 16), "area"), tf.image.resize(hr, (32, 32), "area"), hr)
step = tf.function(model.train_step)
for _ in range(3):
    step(batch)["loss"].numpy()
start = time.perf_counter()
for _ in range(10):
    step(batch)["loss"].numpy()
print(json.dumps((time.perf_counter() - start) / 10))
'''

SAMPLING_TURN = r'''
import os, sys, time, json
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, sys.argv[1])
import skimage.data
from srim_tf.inference.samplers import load_sampler
from srim_tf.inference.tiling import super_resolve_image
photo = skimage.data.chelsea()[60:188, 160:288]
seconds = {}
for precision in ("float32", "bfloat16"):
    sampler = load_sampler("pretrained", precision=precision)
    super_resolve_image(sampler, photo, 3, seed=0, tile_size=64)
    start = time.perf_counter()
    super_resolve_image(sampler, photo, 3, seed=0, tile_size=64)
    seconds[precision] = time.perf_counter() - start
print(json.dumps(seconds["float32"] + seconds["bfloat16"]))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="Checkout of the code before the change.")
    parser.add_argument("--after", default=ROOT, help="Checkout of the code after (this one).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="quickstart")
    parser.add_argument("--what", choices=("step", "sampling"), default="step")
    args = parser.parse_args()
    script = TURN if args.what == "step" else SAMPLING_TURN
    times = {"before": [], "after": []}
    for round_index in range(args.rounds):
        # A B, B A, A B, ...: whichever runs second in a round is not always the same checkout.
        for name in ("before", "after")[::1 if round_index % 2 == 0 else -1]:
            out = subprocess.run([sys.executable, "-c", script, getattr(args, name),
                                  json.dumps(SHAPES[args.shape]), os.path.dirname(os.path.abspath(__file__))],
                                 capture_output=True, text=True, check=True).stdout
            times[name].append(json.loads(out.strip().splitlines()[-1]))
            print(name, f"{times[name][-1]:.3f} s", flush=True)
    before, after = (statistics.median(times[n]) for n in ("before", "after"))
    print(f"median before {before:.3f} s, after {after:.3f} s, after/before {after / before:.3f}")


if __name__ == "__main__":
    main()
