#!/usr/bin/env python3
"""Pixel vs perceptual selection and loss, one change at a time, measured on Set14.

    python studies/perceptual_study.py                      # every arm (~45 min on 2 cores)
    python studies/perceptual_study.py --arms=pixel,vgg_both --steps=100

Every arm fine-tunes the pixel-trained shipped model (`pretrained_psnr`) with `srim_train`'s
own loop for the same steps from the same seed, on `configs/cpu_x4.cfg`'s data and shapes
(T91 + BSD200 crops, 12 + 12 codes, pools of 256 images), changing what chooses the samples
and what the loss measures. Then `srim_eval` measures it on Set14 with 10 samples: LPIPS
(AlexNet, NTIRE's), its diversity score, high-frequency ratio, Y-PSNR (z = 0, mean and
worst sample), per-pixel std on textured and flat pixels. The arm "start" is the model
before any fine-tuning. Writes studies/perceptual_study.json and .md.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from studies.set14_runs import ROOT, measure_on_set14, run_logged  # noqa: E402

PIXEL_LOSS = ["--loss_pixel_weight=1", "--loss_conv2_2_weight=0", "--loss_conv4_weight=0"]
VGG_LOSS = ["--loss_pixel_weight=1e-3", "--loss_conv2_2_weight=1", "--loss_conv4_weight=0.1"]
PIXEL_SELECTION = ["--selection_pixel_weight=1", "--selection_conv4_weight=0"]
VGG_SELECTION = ["--selection_pixel_weight=0", "--selection_conv4_weight=1"]
LPIPS_SELECTION = ["--selection_pixel_weight=0", "--selection_conv4_weight=0",
                   "--selection_lpips_weight=1", "--lpips_net=alex"]
# name -> (what it is, flags over configs/cpu_x4_perceptual.cfg)
ARMS = {
    "start": ("the pixel-trained model, not fine-tuned", None),
    "pixel": ("pixel selection, pixel L1 loss (control: same steps)", PIXEL_SELECTION + PIXEL_LOSS),
    "vgg_selection": ("VGG16 conv4_3 selection, pixel loss", VGG_SELECTION + PIXEL_LOSS),
    "vgg_loss": ("pixel selection, VGG16 loss (1e-3 px + conv2_2 + 0.1 conv4_3)",
                 PIXEL_SELECTION + VGG_LOSS),
    "vgg_both": ("VGG16 selection and VGG16 loss (the authors')", VGG_SELECTION + VGG_LOSS),
    "lpips_selection": ("LPIPS-Alex selection, VGG16 loss", LPIPS_SELECTION + VGG_LOSS),
    "vgg_both_whole": ("VGG16 selection and loss, one code per image (no patches)",
                       VGG_SELECTION + VGG_LOSS + ["--selection_patch=0"]),
}
KEYS = ("lpips", "zero_noise_lpips", "lpips_diversity", "hf_ratio", "zero_noise_hf_ratio",
        "y_psnr", "zero_noise_y_psnr", "worst_of_k_y_psnr", "diversity_std_textured",
        "diversity_std_flat", "lr_psnr")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--out", default=os.path.join(ROOT, "workdirs", "perceptual_study"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(ROOT, "studies", "perceptual_study.json")
    results = json.load(open(json_path)) if os.path.isfile(json_path) else {}
    for name in args.arms.split(","):
        what, flags = ARMS[name]
        started = time.time()
        if flags is None:
            model = "pretrained_psnr"
        else:
            model = os.path.join(args.out, name)
            run_logged([sys.executable, "bin/srim_train", "--flagfile=configs/cpu_x4_perceptual.cfg",
                  f"--workdir={model}", f"--train_steps={args.steps}",
                  f"--checkpoint_every={args.steps}", "--image_summary_every=100000", *flags],
                 os.path.join(args.out, f"{name}.log"))
        result = measure_on_set14(model, args.out, name)
        results[name] = {"what": what, "flags": flags, "steps": 0 if flags is None else args.steps,
                         "minutes": round((time.time() - started) / 60, 1),
                         **{key: result.get(key) for key in KEYS}}
        print(name, {k: results[name][k] for k in KEYS}, flush=True)
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    _write_table(results, args.steps)


def _write_table(results, steps):
    lines = [f"# Perceptual study on Set14: {steps} fine-tuning steps per arm",
             "", "`python studies/perceptual_study.py` (2-core CPU; K = 10 samples; LPIPS-Alex"
             " v0.1 as NTIRE measures it; std in grey levels).", "",
             "| arm | what changes | LPIPS | LPIPS z=0 | LPIPS diversity | hf ratio | Y-PSNR mean"
             " | Y-PSNR z=0 | worst sample | std textured / flat |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['what']} | {r['lpips']:.3f} | {r['zero_noise_lpips']:.3f} |"
            f" {r['lpips_diversity']:.1f} | {r['hf_ratio']:.2f} | {r['y_psnr']:.2f} |"
            f" {r['zero_noise_y_psnr']:.2f} | {r['worst_of_k_y_psnr']:.2f} | {255 * r['diversity_std_textured']:.1f} /"
            f" {255 * r['diversity_std_flat']:.1f} |")
    with open(os.path.join(ROOT, "studies", "perceptual_study.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
