#!/usr/bin/env python3
"""What suppresses sample diversity on natural images: one change at a time, same data and steps.

    python studies/diversity.py                         # every variant (~1 hour on 2 cores)
    python studies/diversity.py --variants=base,patch4 --steps=200   # a subset

Each variant trains the same small generator (the quickstart's: 32 channels, 3x3, 6
convolutions per stage, residual stages) with `srim_train`'s own loop on T91 + BSD200
crops for the same number of steps from the same seed, changing one setting of the base,
then `srim_eval` measures it on Set14 with 10 samples: z = 0, mean and best-of-10 Y-PSNR,
LR-PSNR, per-pixel std across samples (all, textured and flat pixels) and the
high-frequency ratio against the truth (1 = as sharp as the truth). Writes
studies/diversity.json and studies/diversity.md.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging  # noqa: E402

from srim_tf.evaluation import evaluate as evaluation  # noqa: E402
from srim_tf.inference.samplers import load_sampler  # noqa: E402
from srim_tf.settings import RunSettings  # noqa: E402
from srim_tf.training.loop import train_and_evaluate  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data")

BASE = dict(
    hr_size=64, batch_size=8,
    channels=32, kernel_size=3, num_convs=6, stage_output="residual",
    num_lower_samples=8, num_upper_samples=8, sample_chunk=8,
    loss_pixel_weight=1.0, loss_conv2_2_weight=0.0, loss_conv4_weight=0.0,
    selection_pixel_weight=1.0, selection_conv4_weight=0.0,
    learning_rate=1e-3, lr_decay_steps=[], vgg_weights="random",
    summary_every=50, image_summary_every=10 ** 6, checkpoint_every=10 ** 6,
    num_validation_images=2)

# name -> (what changes, overrides of BASE)
VARIANTS = {
    "base": ("base: whole-image selection, 8 + 8 codes, fixed jitter, pixel L1", {}),
    # Without code reuse every step chooses fresh codes, so fixed and per-step jitter are the
    # same draw: compare them under reuse (cpu_x4's pool, scaled down).
    "reuse": ("code reuse (pool 64, 100 steps), jitter fixed per pool (authors')",
              {"code_pool_size": 64, "code_reuse_steps": 100}),
    "reuse_per_step_jitter": ("code reuse, jitter redrawn every step",
                              {"code_pool_size": 64, "code_reuse_steps": 100,
                               "code_jitter_mode": "per_step"}),
    "anchor": ("+ z = 0 anchor loss (weight 1)", {"zero_code_loss_weight": 1.0}),
    "codes16": ("16 + 16 codes per stage", {"num_lower_samples": 16, "num_upper_samples": 16,
                                            "sample_chunk": 16}),
    "random_vgg": ("frozen random VGG19 features (authors' weights and distances)",
                   {"loss_pixel_weight": 1e-3, "loss_conv2_2_weight": 1.0,
                    "loss_conv4_weight": 0.1, "selection_pixel_weight": 0.0,
                    "selection_conv4_weight": 1.0}),
    "noise16": ("16 noise channels per stage", {"noise_channels": 16}),
    "lr3e-4": ("learning rate 3e-4", {"learning_rate": 3e-4}),
    "patch4": ("codes chosen per 4x4-LR-pixel patch", {"selection_patch": 4}),
    "patch2": ("codes chosen per 2x2-LR-pixel patch", {"selection_patch": 2}),
    "patch2_anchor": ("per 2x2 patch + z = 0 anchor loss", {"selection_patch": 2,
                                                             "zero_code_loss_weight": 1.0}),
}


def config_for(overrides, steps, seed, data_dir):
    """The defaults, then BASE, the data, steps and seed, then the variant's overrides."""
    return RunSettings().replace(**{**BASE, "data": f"folder:{data_dir}/T91,folder:{data_dir}/BSD200",
                                    "train_steps": steps, "seed": seed, **overrides})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_dir", default=DATA, help="Holds T91, BSD200 and Set14.")
    parser.add_argument("--num_samples", type=int, default=10)
    parser.add_argument("--workdirs", default=os.path.join(ROOT, "workdirs", "diversity"))
    parser.add_argument("--out", default=os.path.join(ROOT, "studies", "diversity"))
    args = parser.parse_args()
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"Unknown variants {unknown}. Expected some of {list(VARIANTS)}.")
    logging.set_verbosity(logging.WARNING)
    results = {}
    if os.path.isfile(args.out + ".json"):  # Add to earlier variants' results.
        with open(args.out + ".json", encoding="utf-8") as f:
            results = json.load(f)["results"]
    for name in names:
        description, overrides = VARIANTS[name]
        # A finished workdir is measured again, not retrained (train_and_evaluate resumes).
        workdir = os.path.join(args.workdirs, f"{name}_{args.steps}")
        start = time.perf_counter()
        train_and_evaluate(config_for(overrides, args.steps, args.seed, args.data_dir), workdir)
        seconds = time.perf_counter() - start
        measured = evaluation.evaluate(load_sampler(workdir), [os.path.join(args.data_dir, "Set14")],
                                       args.num_samples,
                                       show_progress=False)
        result = {k: v for k, v in next(iter(measured.values())).items() if isinstance(v, float)}
        results[name] = {"description": description, "train_seconds": round(seconds), **result}
        print(f"{name}: " + ", ".join(f"{k}={v:.4g}" for k, v in result.items()), flush=True)
        write(results, args)


def write(results, args):
    with open(args.out + ".json", "w", encoding="utf-8") as f:
        json.dump({"args": vars(args), "results": results}, f, indent=2)
    eval_set = "Set14"
    lines = [f"Command: `python studies/diversity.py --steps={args.steps}`; measured on"
             f" {eval_set} with {args.num_samples} samples. Y-PSNR in dB; std in grey levels"
             " (0-255); hf = high-frequency power over the truth's.", "",
             "| variant | z = 0 | mean | best of 10 | LR-PSNR | std | std textured | std flat"
             " | hf samples | hf z = 0 | train s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _name, r in results.items():
        lines.append(
            f"| {r['description']} | {r['zero_noise_y_psnr']:.2f} | {r['y_psnr']:.2f} |"
            f" {r['best_of_k_y_psnr']:.2f} | {r['lr_psnr']:.1f} | {255 * r['diversity_std']:.2f} |"
            f" {255 * r['diversity_std_textured']:.2f} | {255 * r['diversity_std_flat']:.2f} |"
            f" {r['hf_ratio']:.2f} | {r['zero_noise_hf_ratio']:.2f} | {r['train_seconds']} |")
    with open(args.out + ".md", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
