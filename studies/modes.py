#!/usr/bin/env python3
"""Mode coverage on a super-resolution task whose true answer is known.

    python studies/modes.py                 # every run below, ~45 minutes on 2 cores
    python studies/modes.py --runs=whole,block,deterministic --steps=300   # a subset

The task (`blocks` below): an HR image is a grid of 4x4 blocks. Each block has a flat
colour (the "base", which the LR shows: one LR pixel per block; one colour per image with a
faint checkerboard, so the LR shows where blocks are) plus one of 8 zero-mean
stripe patterns: period-4 square waves of amplitude `AMPLITUDE`, horizontal or vertical, in
4 phases. The LR is the 4x4 mean of the HR, which removes every pattern exactly, and the
pattern of each block is drawn uniformly and independently. So, given the LR, all 8
patterns of every block are equally right: the true conditional distribution is known, has
8 modes per block, and a deterministic regressor's best answer (the mean or median of the
modes) is the flat block, which matches none of them.

Measured over K samples per test input, per block:
  coverage   the fraction of the 8 patterns that at least one sample matches;
  precision  the fraction of samples that match some pattern;
  lr_psnr    PSNR of the samples' 4x4 means against the LR (LR consistency).
A sample's block matches a pattern when the RMS difference between the block minus its
own mean and the pattern is under half the amplitude (the flat block is one amplitude away from
every pattern; two patterns are at least 1.41 amplitudes apart).

Runs: SRIM with hierarchical selection choosing one code field per image (the paper), the
same choosing per block (`--selection_patch=1`, `srim_tf/training/patchwise.py`), joint selection
at the same number of generator evaluations, fewer codes per stage, the additions that
can suppress diversity (the z = 0 anchor loss, per-step jitter), and a deterministic
baseline (the same generator trained on L1 with its codes zeroed). Writes
studies/modes.json and studies/modes.md.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from srim_tf.settings import RunSettings  # noqa: E402
from srim_tf.training import build  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCK = 4  # HR pixels per block side = the scale: one LR pixel per block
AMPLITUDE = 0.2
CHECKER = 0.05
LR_SIZE = 8  # LR 8x8, HR 32x32: 64 blocks per image


def patterns():
    """The 8 stripe patterns `[8, 4, 4]`: period-4 square waves, 2 orientations x 4 phases."""
    wave = np.array([1, 1, -1, -1], np.float32)
    rows = [np.roll(wave, phase) for phase in range(4)]
    horizontal = [np.repeat(r[:, None], BLOCK, axis=1) for r in rows]  # varies along y
    vertical = [h.T for h in horizontal]
    return AMPLITUDE * np.stack(horizontal + vertical)


PATTERNS = patterns()


def blocks(count, rng):
    """`(lr, mid, hr, base, labels)`: `count` images of the task, float32 in [0, 1].

    lr `[n, 8, 8, 3]`, mid `[n, 16, 16, 3]`, hr `[n, 32, 32, 3]`, base (the flat blocks at HR
    size), labels `[n, 8, 8]` the pattern index of every block. The base is one colour per
    image with a faint checkerboard of blocks (+-`CHECKER`), which shows the block layout in
    the LR without blurring much when upsampled.
    """
    colour = rng.uniform(0.3, 0.7, (count, 1, 1, 3)).astype(np.float32)
    checker = CHECKER * (1 - 2 * (np.indices((LR_SIZE, LR_SIZE)).sum(axis=0) % 2))
    colour = colour + checker[None, :, :, None].astype(np.float32)
    labels = rng.integers(0, len(PATTERNS), (count, LR_SIZE, LR_SIZE))
    base = np.repeat(np.repeat(colour, BLOCK, axis=1), BLOCK, axis=2)
    pattern = PATTERNS[labels]  # [n, 8, 8, 4, 4]
    pattern = pattern.transpose(0, 1, 3, 2, 4).reshape(count, LR_SIZE * BLOCK, LR_SIZE * BLOCK)
    hr = base + pattern[..., None]
    return colour, box_mean(hr, 2), hr, base, labels


def box_mean(images, factor):
    n, h, w, c = images.shape
    return images.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def block_residuals(samples):
    """Each block minus its own mean, grey: `[n, K, 8, 8, 4, 4]` for samples `[n, K, 32, 32, 3]`.

    Patterns are zero-mean per block, so this compares shapes; whether the block's mean
    is right is what LR-PSNR measures.
    """
    grey = samples.mean(axis=-1)
    n, k = grey.shape[:2]
    grey = grey.reshape(n, k, LR_SIZE, BLOCK, LR_SIZE, BLOCK).transpose(0, 1, 2, 4, 3, 5)
    return grey - grey.mean(axis=(-1, -2), keepdims=True)


def measure(samples, lr):
    """Coverage, precision and LR-PSNR of samples `[n, K, 32, 32, 3]`."""
    residual = block_residuals(samples)  # [n, K, 8, 8, 4, 4]
    rms = np.sqrt(((residual[..., None, :, :] - PATTERNS) ** 2).mean(axis=(-1, -2)))  # [n,K,8,8,P]
    matches = rms < AMPLITUDE / 2
    coverage = matches.any(axis=1).mean(axis=-1)  # [n, 8, 8]: fraction of patterns hit
    precision = matches.any(axis=-1)  # [n, K, 8, 8]
    n, k = samples.shape[:2]
    lr_out = box_mean(samples.reshape(n * k, *samples.shape[2:]), BLOCK)
    mse = ((lr_out - np.repeat(lr, k, axis=0)) ** 2).mean(axis=(1, 2, 3))
    return {"coverage": float(coverage.mean()), "precision": float(precision.mean()),
            "lr_psnr": float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-10))))}


def srim_config(**overrides):
    """A small generator and pixel distances; the defaults for the rest."""
    small = dict(channels=32, kernel_size=3, num_convs=5, stage_output="residual",
                 loss_pixel_weight=1.0, loss_conv2_2_weight=0.0, loss_conv4_weight=0.0,
                 selection_pixel_weight=1.0, selection_conv4_weight=0.0,
                 num_lower_samples=16, num_upper_samples=16, sample_chunk=16,
                 learning_rate=2e-3, lr_decay_steps=(), vgg_weights="random")
    return RunSettings().replace(**{**small, **overrides})


def train_srim(config, steps, batch, seed):
    model, _ = build.srim(config)
    model.compile(optimizer=build.optimizer(config))
    rng = np.random.default_rng(seed)

    def batches():
        while True:
            lr, mid, hr, _, _ = blocks(batch, rng)
            yield lr, mid, hr

    spec = tuple(tf.TensorSpec((batch, s, s, 3), tf.float32) for s in (8, 16, 32))
    dataset = tf.data.Dataset.from_generator(batches, output_signature=spec)
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return model.generator


def train_deterministic(config, steps, batch, seed):
    """The same generator, codes zeroed, trained on L1 to the target: a regressor."""
    keras.utils.set_random_seed(config.training.seed)
    generator = build.generator(config)
    optimizer = build.optimizer(config)
    rng = np.random.default_rng(seed)

    @tf.function
    def step(lr, hr):
        z_lo, z_up = generator.noise_shapes(tf.shape(lr)[0], LR_SIZE, LR_SIZE)
        with tf.GradientTape() as tape:
            out = generator([lr, tf.zeros(z_lo), tf.zeros(z_up)], training=True)
            loss = tf.reduce_mean(tf.abs(out - hr))
        optimizer.apply(tape.gradient(loss, generator.trainable_variables),
                        generator.trainable_variables)

    for _ in range(steps):
        lr, _, hr, _, _ = blocks(batch, rng)
        step(tf.constant(lr), tf.constant(hr))
    return generator


PER_BLOCK = {"selection_patch": 1}  # one LR pixel = one block

# name -> (description, trainer, config overrides, noise scale at test)
RUNS = {
    "whole": ("SRIM, hierarchical, 16 + 16 codes, one choice per image (the paper)", train_srim,
              {}, 1.0),
    "block": ("SRIM, hierarchical, 16 + 16 codes, one choice per block (--selection_patch=1)",
              train_srim, PER_BLOCK, 1.0),
    "joint_block": ("SRIM, joint, 32 code pairs (same generator evaluations), per block",
                    train_srim, {"selection": "joint", **PER_BLOCK}, 1.0),
    "block_m2": ("SRIM per block, 2 + 2 codes", train_srim,
                 {"num_lower_samples": 2, "num_upper_samples": 2, **PER_BLOCK}, 1.0),
    "block_m4": ("SRIM per block, 4 + 4 codes", train_srim,
                 {"num_lower_samples": 4, "num_upper_samples": 4, **PER_BLOCK}, 1.0),
    "block_m8": ("SRIM per block, 8 + 8 codes", train_srim,
                 {"num_lower_samples": 8, "num_upper_samples": 8, **PER_BLOCK}, 1.0),
    "block_anchor": ("SRIM per block + z = 0 anchor loss (weight 1)", train_srim,
                     {"zero_code_loss_weight": 1.0, **PER_BLOCK}, 1.0),
    "block_per_step_jitter": ("SRIM per block, jitter redrawn every step", train_srim,
                              {"code_jitter_mode": "per_step", **PER_BLOCK}, 1.0),
    "deterministic": ("Deterministic: codes zeroed, L1", train_deterministic, {}, 0.0),
}


def run(names, steps, batch, test_images, k, seed):
    rng = np.random.default_rng(seed + 1)
    lr, _, _, _, _ = blocks(test_images, rng)
    results = {}
    for name in names:
        description, trainer, overrides, noise_scale = RUNS[name]
        start = time.perf_counter()
        generator = trainer(srim_config(seed=seed, **overrides), steps, batch, seed)
        samples = _sample(generator, lr, k, seed, noise_scale)
        result = measure(samples, lr)
        result.update(description=description, train_seconds=round(time.perf_counter() - start, 1))
        results[name] = result
        print(f"{name:>16}: coverage {result['coverage']:.3f}  precision {result['precision']:.3f}"
              f"  LR-PSNR {result['lr_psnr']:.1f} dB  ({result['train_seconds']} s)", flush=True)
    return results


def _sample(generator, lr, k, seed, noise_scale):
    from srim_tf.inference.sampling import super_resolve_with

    out = super_resolve_with(generator, tf.constant(lr), k, seed, noise_scale)
    return np.asarray(out)


def write(results, args, prefix):
    with open(prefix + ".json", "w", encoding="utf-8") as f:
        json.dump({"args": vars(args), "results": results}, f, indent=2)
    lines = [f"Command: `python studies/modes.py --steps={args.steps} --batch={args.batch}"
             f" --k={args.k} --test_images={args.test_images} --runs={','.join(results)}`;"
             f" {args.test_images} test images x 64 blocks, K = {args.k} samples each. A perfect"
             f" sampler (every block's pattern drawn uniformly from the 8) would cover"
             f" {1 - (7 / 8) ** args.k:.3f} with precision 1.", "",
             "| run | coverage | precision | LR-PSNR (dB) | train s |", "|---|---|---|---|---|"]
    for _name, r in results.items():
        lines.append(f"| {r['description']} | {r['coverage']:.3f} | {r['precision']:.3f} |"
                     f" {r['lr_psnr']:.1f} | {r['train_seconds']} |")
    with open(prefix + ".md", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default=",".join(RUNS), help=f"Comma-separated: {', '.join(RUNS)}")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--test_images", type=int, default=16)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(ROOT, "studies", "modes"))
    args = parser.parse_args()
    names = args.runs.split(",")
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        parser.error(f"Unknown runs {unknown}. Expected some of {list(RUNS)}.")
    write(run(names, args.steps, args.batch, args.test_images, args.k, args.seed), args, args.out)


if __name__ == "__main__":
    main()
