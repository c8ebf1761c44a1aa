#!/usr/bin/env python3
"""Mode coverage on a super-resolution task whose true answer is known.

    python studies/modes.py --workers=2     # every arm, 3 seeds each, ~80 minutes on 2 cores
    python studies/modes.py --arms=today,reject_relative --seeds=1 --steps=200   # a subset

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

Arms (`ARMS`): today's recipe (the shipped models': codes chosen per block, the 2x and
z = 0 losses) against each change alone, at the same generator evaluations per step, then
combinations; and a deterministic baseline (the same generator trained on L1 with its codes
zeroed). Every arm is trained from several seeds through the training loop's own pieces
(`SRIM.train_step`, `CodePool`) and measured every `--eval_every` steps. Each (arm, seed) is
written to studies/modes_runs/ when it finishes, and a rerun skips the finished ones; then
studies/modes.json, studies/modes.md (the table) and studies/modes_curves.png (coverage and
precision against steps) are written from all of them.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from srim_tf.inference.sampling import super_resolve_with  # noqa: E402
from srim_tf.settings import RunSettings  # noqa: E402
from srim_tf.training import build  # noqa: E402
from srim_tf.training.code_pool import CodePool  # noqa: E402
from studies import curves  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCK = 4  # HR pixels per block side = the scale: one LR pixel per block
AMPLITUDE = 0.2
CHECKER = 0.05
LR_SIZE = 8  # measured on LR 8x8, HR 32x32: 64 blocks per image
# Trained on LR 4x4 crops (16 blocks): a quarter of the compute per input, and with a code
# chosen per block each input still gives 16 independent choices.
TRAIN_LR_SIZE = 4


def patterns():
    """The 8 stripe patterns `[8, 4, 4]`: period-4 square waves, 2 orientations x 4 phases."""
    wave = np.array([1, 1, -1, -1], np.float32)
    rows = [np.roll(wave, phase) for phase in range(4)]
    horizontal = [np.repeat(r[:, None], BLOCK, axis=1) for r in rows]  # varies along y
    vertical = [h.T for h in horizontal]
    return AMPLITUDE * np.stack(horizontal + vertical)


PATTERNS = patterns()


def blocks(count, rng, size=LR_SIZE):
    """`(lr, mid, hr, base, labels)`: `count` images of the task, float32 in [0, 1].

    lr `[n, s, s, 3]`, mid `[n, 2s, 2s, 3]`, hr `[n, 4s, 4s, 3]` for `size` s, base (the flat
    blocks at HR size), labels `[n, s, s]` the pattern index of every block. The base is one colour per
    image with a faint checkerboard of blocks (+-`CHECKER`), which shows the block layout in
    the LR without blurring much when upsampled.
    """
    colour = rng.uniform(0.3, 0.7, (count, 1, 1, 3)).astype(np.float32)
    checker = CHECKER * (1 - 2 * (np.indices((size, size)).sum(axis=0) % 2))
    colour = colour + checker[None, :, :, None].astype(np.float32)
    labels = rng.integers(0, len(PATTERNS), (count, size, size))
    base = np.repeat(np.repeat(colour, BLOCK, axis=1), BLOCK, axis=2)
    pattern = PATTERNS[labels]  # [n, 8, 8, 4, 4]
    pattern = pattern.transpose(0, 1, 3, 2, 4).reshape(count, size * BLOCK, size * BLOCK)
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


def diagnose(samples):
    """What the samples `[n, K, 32, 32, 3]` are: each pattern's share of the matching blocks
    (a perfect sampler: 1/8 each), the RMS amplitude of matching and other blocks, and
    precision on blocks at the image's border and inside it."""
    residual = block_residuals(samples)
    rms = np.sqrt(((residual[..., None, :, :] - PATTERNS) ** 2).mean(axis=(-1, -2)))
    nearest, matches = rms.argmin(axis=-1), rms.min(axis=-1) < AMPLITUDE / 2
    amplitude = np.sqrt((residual ** 2).mean(axis=(-1, -2)))
    inner = np.zeros((LR_SIZE, LR_SIZE), bool)
    inner[1:-1, 1:-1] = True
    return {"pattern_share": np.round(np.bincount(nearest[matches], minlength=len(PATTERNS))
                                      / max(matches.sum(), 1), 3).tolist(),
            "amplitude_matching": float(amplitude[matches].mean()) if matches.any() else None,
            "amplitude_other": float(amplitude[~matches].mean()) if not matches.all() else None,
            "precision_border": float(matches[:, :, ~inner].mean()),
            "precision_inner": float(matches[:, :, inner].mean())}


def srim_config(**overrides):
    """A small generator and pixel distances; the defaults for the rest."""
    small = dict(hr_size=4 * TRAIN_LR_SIZE, channels=32, kernel_size=3, num_convs=5,
                 stage_output="residual",
                 loss_pixel_weight=1.0, loss_conv2_2_weight=0.0, loss_conv4_weight=0.0,
                 selection_pixel_weight=1.0, selection_conv4_weight=0.0,
                 num_lower_samples=16, num_upper_samples=16, sample_chunk=16,
                 learning_rate=2e-3, lr_decay_steps=(), vgg_weights="random")
    return RunSettings().replace(**{**small, **overrides})


def task_batches(batch, seed):
    """An endless dataset of `(lr, mid, hr)` batches of the task, drawn from `seed`."""
    rng = np.random.default_rng(seed)

    def draw():
        while True:
            lr, mid, hr, _, _ = blocks(batch, rng, TRAIN_LR_SIZE)
            yield lr, mid, hr

    spec = tuple(tf.TensorSpec((batch, s * TRAIN_LR_SIZE, s * TRAIN_LR_SIZE, 3), tf.float32)
                 for s in (1, 2, 4))
    return tf.data.Dataset.from_generator(draw, output_signature=spec)


def train_srim(config, steps, batch, seed, measure_at):
    """Trains SRIM through the training loop's pieces: `SRIM.train_step` on fresh batches,
    or on a `CodePool`'s when `config` reuses codes; calls `measure_at(step, generator)`."""
    model, _ = build.srim(config)
    model.compile(optimizer=build.optimizer(config))
    model.optimizer.build(model.generator.trainable_variables)
    strategy = tf.distribute.get_strategy()
    iterator = iter(strategy.experimental_distribute_dataset(task_batches(batch, seed)))
    imle = config.imle
    pool = (CodePool(model, strategy, iterator, imle.code_pool_size, batch, 0)
            if imle.code_pool_size else None)
    train_step = tf.function(lambda batches: model.train_step(next(batches)))
    for step in range(steps):
        if pool is not None and step % imle.code_reuse_steps == 0:
            pool.refill(seed * 1_000_003 + step)
        train_step(pool.iterator if pool is not None else iterator)
        measure_at(step + 1, model.generator)


def train_deterministic(config, steps, batch, seed, measure_at):
    """The same generator, codes zeroed, trained on L1 to the target: a regressor."""
    keras.utils.set_random_seed(config.training.seed)
    generator = build.generator(config)
    optimizer = build.optimizer(config)
    rng = np.random.default_rng(seed)

    @tf.function
    def step(lr, hr):
        z_lo, z_up = generator.noise_shapes(tf.shape(lr)[0], TRAIN_LR_SIZE, TRAIN_LR_SIZE)
        with tf.GradientTape() as tape:
            out = generator([lr, tf.zeros(z_lo), tf.zeros(z_up)], training=True)
            loss = tf.reduce_mean(tf.abs(out - hr))
        optimizer.apply(tape.gradient(loss, generator.trainable_variables),
                        generator.trainable_variables)

    for index in range(steps):
        lr, _, hr, _, _ = blocks(batch, rng, TRAIN_LR_SIZE)
        step(tf.constant(lr), tf.constant(hr))
        measure_at(index + 1, generator)


# Today's recipe: the shipped models' choices on this task. Codes chosen per block (one LR
# pixel), the 2x and z = 0 losses, 16 + 16 codes drawn for every input at every step.
TODAY = {"selection_patch": 1, "mid_loss_weight": 1.0, "zero_code_loss_weight": 1.0}
# RS-IMLE's radius on this task: a quarter of a match's squared distance (a block matches
# a pattern within an RMS of half the amplitude), so only samples that already match well
# are passed over.
RADIUS = (AMPLITUDE / 4) ** 2
# Each input's radius as a share of its bicubic upsample's distance (one amplitude squared
# on this task): 0.1 comes to about RADIUS.
RATIO = 0.1
# More codes where reuse pays for them: 64 + 64 codes for a pool of 64 inputs, trained on
# for 16 steps of 16, makes 64 * 128 / 16 = 512 generator evaluations per step for
# selection, as 16 inputs x (16 + 16) codes do; each pool input is trained on 4 times.
REUSE = {"num_lower_samples": 64, "num_upper_samples": 64, "code_pool_size": 64,
         "code_reuse_steps": 16}

# name -> (description, trainer, overrides of TODAY, steps as a multiple of --steps, noise at test)
ARMS = {
    "today": ("Today's recipe: per block, 16 + 16 codes, 2x and z = 0 losses", train_srim, {}, 1, 1.0),
    "reject_fixed": (f"+ RS-IMLE rejection, radius {RADIUS:g}", train_srim,
                     {"rejection_radius": RADIUS}, 1, 1.0),
    "reject_relative": (f"+ rejection, each input's radius {RATIO:g} x its bicubic distance",
                        train_srim, {"rejection_ratio": RATIO}, 1, 1.0),
    "reject_relative_0.03": ("+ rejection, each input's radius 0.03 x its bicubic distance",
                             train_srim, {"rejection_ratio": 0.03}, 1, 1.0),
    "reject_relative_0.3": ("+ rejection, each input's radius 0.3 x its bicubic distance",
                            train_srim, {"rejection_ratio": 0.3}, 1, 1.0),
    "no_anchor": ("- the z = 0 loss", train_srim, {"zero_code_loss_weight": 0.0}, 1, 1.0),
    "reuse_64": ("+ 64 + 64 codes, reused over 16 steps (same evaluations per step)", train_srim,
                 REUSE, 1, 1.0),
    "every_conv": ("+ noise at every convolution", train_srim,
                   {"noise_injection": "every_conv"}, 1, 1.0),
    "longer": ("Today's recipe, twice the steps", train_srim, {}, 2, 1.0),
    "combined": ("+ rejection (radius 0.1 x bicubic distance) - the z = 0 loss, twice the steps",
                 train_srim, {"rejection_ratio": RATIO, "zero_code_loss_weight": 0.0}, 2, 1.0),
    "deterministic": ("Deterministic: codes zeroed, L1", train_deterministic, {}, 1, 0.0),
}


def evaluation_inputs(count):
    """The LR inputs every arm and seed is measured on."""
    return blocks(count, np.random.default_rng(1234))[0]


def run_unit(arm, seed, args):
    """Trains one arm from one seed, measuring every `--eval_every` steps; returns its record."""
    description, trainer, overrides, multiple, noise_scale = ARMS[arm]
    lr = evaluation_inputs(args.test_images)
    steps = args.steps * multiple
    curve = []

    trained = {}

    def measure_at(step, generator):
        trained["generator"] = generator
        if step % args.eval_every and step != steps:
            return
        samples = np.asarray(super_resolve_with(generator, tf.constant(lr), args.k, seed,
                                                noise_scale))
        curve.append({"step": step, **measure(samples, lr)})
        print(f"{arm} seed {seed} step {step}: coverage {curve[-1]['coverage']:.3f}"
              f" precision {curve[-1]['precision']:.3f}", flush=True)

    start = time.perf_counter()
    config = srim_config(seed=seed, **{**TODAY, **overrides})
    trainer(config, steps, args.batch, seed, measure_at)
    samples = np.asarray(super_resolve_with(trained["generator"], tf.constant(lr), args.k, seed,
                                            noise_scale))
    return {"arm": arm, "seed": seed, "description": description, "steps": steps,
            "diagnosis": diagnose(samples),
            "batch": args.batch, "k": args.k, "test_images": args.test_images,
            "seconds": round(time.perf_counter() - start, 1), "curve": curve}


def unit_path(args, arm, seed):
    return os.path.join(args.runs_dir, f"{arm}_seed{seed}.json")


def run_units_in_processes(units, args):
    """Runs each missing (arm, seed) in a process of its own, `--workers` at a time, each
    on 2 / workers threads; a unit's record is written when it finishes."""
    threads = max(1, (os.cpu_count() or 2) // args.workers)

    def one(unit):
        arm, seed = unit
        command = [sys.executable, os.path.abspath(__file__), f"--unit={arm}:{seed}",
                   f"--threads={threads}"] + [f"--{name}={getattr(args, name)}" for name in
                                              ("steps", "eval_every", "batch", "test_images", "k",
                                               "runs_dir")]
        with open(unit_path(args, arm, seed) + ".log", "w", encoding="utf-8") as log:
            return unit, subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)

    with concurrent.futures.ThreadPoolExecutor(args.workers) as executor:
        for (arm, seed), status in executor.map(one, units):
            print(f"{arm} seed {seed}: {'done' if status == 0 else f'failed ({status})'}", flush=True)


def summarise(records):
    """`{arm: {...}}`: each arm's final coverage, precision and LR-PSNR, mean and range over
    its seeds, and its mean curve."""
    summary = {}
    for arm in ARMS:
        runs = [r for r in records if r["arm"] == arm]
        if not runs:
            continue
        finals = [r["curve"][-1] for r in runs]
        entry = {"description": runs[0]["description"], "seeds": [r["seed"] for r in runs],
                 "steps": runs[0]["steps"], "seconds": float(np.mean([r["seconds"] for r in runs]))}
        for key in ("coverage", "precision", "lr_psnr"):
            values = np.array([f[key] for f in finals])
            entry[key] = {"mean": float(values.mean()), "min": float(values.min()),
                          "max": float(values.max())}
        diagnoses = [r["diagnosis"] for r in runs if "diagnosis" in r]
        if len(diagnoses) == len(runs):
            # Odd phases are the patterns that are flat at 2x: only the upper stage draws them.
            entry["odd_phase_share"] = float(np.mean([sum(d["pattern_share"][1::2])
                                                      for d in diagnoses]))
            for key in ("precision_border", "precision_inner"):
                entry[key] = float(np.mean([d[key] for d in diagnoses]))
        steps = [point["step"] for point in runs[0]["curve"]]
        entry["curve"] = {"step": steps, **{key: [float(np.mean([r["curve"][i][key] for r in runs]))
                                                  for i in range(len(steps))]
                                            for key in ("coverage", "precision")}}
        summary[arm] = entry
    return summary


def write(summary, records, args, prefix):
    with open(prefix + ".json", "w", encoding="utf-8") as f:
        json.dump({"args": {k: v for k, v in vars(args).items() if k != "unit"},
                   "summary": summary}, f, indent=2)
    k = args.k
    lines = [f"Commands: `python studies/modes.py --steps={args.steps} --batch={args.batch} --k={k}"
             f" --test_images={args.test_images} --arms=ARMS --seeds=N` (studies/README.md), this"
             f" table from every record in `modes_runs/`; {args.test_images} test images x 64"
             f" blocks, K = {k} samples each, mean over seeds [min, max]. A perfect sampler (every block's pattern"
             f" drawn uniformly from the 8) would cover {1 - (7 / 8) ** k:.3f} with precision 1."
             " Curves: `modes_curves.png`; every seed's curve: `modes_runs/`.", "",
             "Odd phases: the share of matching blocks that are one of the 4 patterns flat at 2x"
             " (a perfect sampler: 0.5); precision on border / inner blocks (`diagnose`; '-':"
             " measured before it existed).", "",
             "| arm | seeds | steps | coverage | precision | odd phases | precision border / inner |"
             " LR-PSNR (dB) | train s |", "|---|---|---|---|---|---|---|---|---|"]
    for entry in summary.values():
        cells = [f"{entry[key]['mean']:.3f} [{entry[key]['min']:.3f}, {entry[key]['max']:.3f}]"
                 for key in ("coverage", "precision")]
        odd, border = "-", "-"
        if "odd_phase_share" in entry:
            odd = f"{entry['odd_phase_share']:.2f}"
            border = f"{entry['precision_border']:.2f} / {entry['precision_inner']:.2f}"
        lines.append(f"| {entry['description']} | {len(entry['seeds'])} | {entry['steps']} |"
                     f" {cells[0]} | {cells[1]} |"
                     f" {odd} | {border} | {entry['lr_psnr']['mean']:.1f} | {entry['seconds']:.0f} |")
    with open(prefix + ".md", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    curves.plot({arm: e["curve"] for arm, e in summary.items()}, ("coverage", "precision"),
                prefix + "_curves.png", runs={arm: [r["curve"] for r in records if r["arm"] == arm]
                                              for arm in summary},
                goals={"coverage": 0.90, "precision": 0.80})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--arms", default=",".join(ARMS), help=f"Comma-separated: {', '.join(ARMS)}")
    parser.add_argument("--seeds", type=int, default=3, help="Seeds per arm: 0, 1, ...")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--eval_every", type=int, default=100)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--test_images", type=int, default=8)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1,
                        help="(arm, seed) runs at once, each in its own process")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: all)")
    parser.add_argument("--runs_dir", default=os.path.join(ROOT, "studies", "modes_runs"))
    parser.add_argument("--unit", default="", help="Run one ARM:SEED and write its record")
    parser.add_argument("--summarise_only", action="store_true",
                        help="Run nothing: write the table and curves of every record in --runs_dir")
    parser.add_argument("--out", default=os.path.join(ROOT, "studies", "modes"))
    args = parser.parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    os.makedirs(args.runs_dir, exist_ok=True)
    if args.unit:
        arm, seed = args.unit.split(":")
        record = run_unit(arm, int(seed), args)
        with open(unit_path(args, arm, int(seed)), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
        return
    names = args.arms.split(",")
    unknown = [n for n in names if n not in ARMS]
    if unknown:
        parser.error(f"Unknown arms {unknown}. Expected some of {list(ARMS)}.")
    units = [(arm, seed) for arm in names for seed in range(args.seeds)]
    if args.summarise_only:
        units = [(arm, seed) for arm in ARMS for seed in range(100)]
    else:
        missing = [u for u in units if not os.path.exists(unit_path(args, *u))]
        print(f"{len(units) - len(missing)} of {len(units)} runs already done; running"
              f" {len(missing)}.", flush=True)
        run_units_in_processes(missing, args)
    records = []
    for unit in units:
        if os.path.exists(unit_path(args, *unit)):
            with open(unit_path(args, *unit), encoding="utf-8") as f:
                records.append(json.load(f))
    write(summarise(records), records, args, args.out)


if __name__ == "__main__":
    main()
