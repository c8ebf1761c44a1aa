#!/usr/bin/env python3
"""The photos recipe's degradations, one change at a time: short runs of
`configs/cpu_x4_photos.cfg` from the shipped `pretrained`, each with one degradation
changed, measured on Set14 degraded as a photograph comes (`--lr_degradation=photo`).

    python studies/photo_grain.py                          # every arm, ~20 minutes each
    python studies/photo_grain.py --arms=control,no_noise --steps=100

Besides LPIPS, the question is grain: std across samples where the truth is flat ("std flat",
grey levels), under 2 for `pretrained`. Each arm's record is kept when it finishes (a rerun skips it).
Writes studies/photo_grain.json and .md.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from studies.set14_runs import ROOT, measure_on_set14, run_logged  # noqa: E402

# name -> (what it is, flags over configs/cpu_x4_photos.cfg, None for the start model)
ARMS = {
    "start": ("`pretrained`, not fine-tuned", None),
    "control": ("blur, JPEG, noise up to 10 grey levels (the default)", ["--max_noise_sigma=10"]),
    "noise_max3": ("noise up to 3 grey levels (the photo level's; the config's)",
                   ["--max_noise_sigma=3"]),
    "no_noise": ("blur and JPEG only", ["--degradations=blur,jpeg"]),
    "no_rejection": ("without RS-IMLE's rejection", ["--rejection_ratio=0"]),
}
KEYS = ("lpips", "zero_noise_lpips", "lpips_diversity", "y_psnr", "zero_noise_y_psnr",
        "worst_of_k_y_psnr", "bicubic_y_psnr", "diversity_std_textured", "diversity_std_flat")


def _train(name, flags, steps, out_dir):
    model = os.path.join(out_dir, name)
    run_logged([sys.executable, "bin/srim_train", "--flagfile=configs/cpu_x4_photos.cfg",
                f"--workdir={model}", f"--train_steps={steps}", f"--checkpoint_every={steps}",
                "--image_summary_every=100000", *flags],
               os.path.join(out_dir, f"{name}.log"))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--out", default=os.path.join(ROOT, "workdirs", "photo_grain"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(ROOT, "studies", "photo_grain.json")
    results = json.load(open(json_path, encoding="utf-8")) if os.path.isfile(json_path) else {}
    for name in args.arms.split(","):
        what, flags = ARMS[name]
        steps = 0 if flags is None else args.steps
        if name in results and results[name]["steps"] == steps:
            continue
        started = time.time()
        model = "pretrained" if flags is None else _train(name, flags, args.steps, args.out)
        result = measure_on_set14(model, args.out, name, ["--lr_degradation=photo"])
        results[name] = {"what": what, "flags": flags, "steps": steps,
                         "minutes": round((time.time() - started) / 60, 1),
                         **{key: result.get(key) for key in KEYS}}
        print(name, {k: results[name][k] for k in KEYS}, flush=True)
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    _write_table(results)


def _write_table(results):
    lines = ["# The photos recipe's degradations, one change at a time: Set14 at"
             " `--lr_degradation=photo`", "",
             "`python studies/photo_grain.py` (2-core CPU; K = 10; LPIPS-Alex v0.1; std in grey"
             " levels; each arm fine-tunes `pretrained` with `configs/cpu_x4_photos.cfg` and one"
             " change).", "",
             "| arm | what changes | steps | LPIPS samples / z = 0 | LPIPS diversity |"
             " Y-PSNR mean / z = 0 / worst | std textured / flat |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['what']} | {r['steps']} | {r['lpips']:.3f} / {r['zero_noise_lpips']:.3f} |"
            f" {r['lpips_diversity']:.1f} | {r['y_psnr']:.2f} / {r['zero_noise_y_psnr']:.2f} /"
            f" {r['worst_of_k_y_psnr']:.2f} |"
            f" {255 * r['diversity_std_textured']:.1f} / {255 * r['diversity_std_flat']:.1f} |")
    with open(os.path.join(ROOT, "studies", "photo_grain.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
