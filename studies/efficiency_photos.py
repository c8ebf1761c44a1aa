#!/usr/bin/env python3
"""Sample efficiency on photographs: the changes that helped on the known answer
(`modes.py`), one at a time and combined, measured on Set14 and looked at.

    python studies/efficiency_photos.py                          # every arm, ~15 minutes each
    python studies/efficiency_photos.py --arms=control,reject_relative --steps=100

Every arm fine-tunes the shipped perceptual model (`pretrained`) with srim_train's own loop for
the same steps from the same seed, with `configs/cpu_x4_perceptual.cfg`'s data, shapes and
loss, adding one change; "control" adds none (the same steps of today's recipe), "start" is
the model before fine-tuning. srim_eval then measures each on Set14 with K = 10 samples:
LPIPS (AlexNet, NTIRE's), its diversity score, high-frequency ratio, LR-PSNR, Y-PSNR (mean
and worst sample), per-pixel std on textured and flat pixels. And a picture to look at:
crops of straight edges and fine regular structure (barbara's scarf and tablecloth, the
zebra's neck) as bicubic | two samples | std (white = 32 grey levels) | truth, one row per arm.
Each arm's record is kept when it finishes (a rerun skips it). Writes
studies/efficiency_photos.json, .md and efficiency_photos_crops.png.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from studies.set14_runs import DATA, ROOT, measure_on_set14, run_logged  # noqa: E402

# name -> (what it is, flags over configs/cpu_x4_perceptual.cfg, None for the start model)
ARMS = {
    "start": ("`pretrained`, not fine-tuned", None),
    "control": ("today's recipe, the same steps", []),
    "reject_relative": ("+ rejection, each input's radius 0.1 x its bicubic distance",
                        ["--rejection_ratio=0.1"]),
    "no_anchor": ("- the z = 0 loss", ["--zero_code_loss_weight=0"]),
    "more_codes": ("+ 48 + 48 codes per pool image (12 + 12 today)",
                   ["--num_lower_samples=48", "--num_upper_samples=48", "--sample_chunk=12"]),
    "lr_loss": ("+ L1 between the output's 4x downsample and the LR", ["--lr_loss_weight=50"]),
    "combined": ("rejection 0.1 - z = 0 loss + LR loss",
                 ["--rejection_ratio=0.1", "--zero_code_loss_weight=0", "--lr_loss_weight=50"]),
}
KEYS = ("lpips", "zero_noise_lpips", "lpips_diversity", "hf_ratio", "lr_psnr", "y_psnr",
        "worst_of_k_y_psnr", "diversity_std_textured", "diversity_std_flat")
# (image, top, left, size) of HR crops with straight edges and fine regular structure.
CROPS = (("barbara.png", 200, 390, 96), ("barbara.png", 330, 40, 96), ("zebra.png", 90, 340, 96))


def _train(name, flags, steps, out_dir):
    model = os.path.join(out_dir, name)
    run_logged([sys.executable, "bin/srim_train", "--flagfile=configs/cpu_x4_perceptual.cfg",
                f"--workdir={model}", "--init_from=pretrained", f"--train_steps={steps}",
                f"--checkpoint_every={steps}", "--image_summary_every=100000", *flags],
               os.path.join(out_dir, f"{name}.log"))
    return model


def crops_figure(models, path):
    """One row per `{label: model}`: for each crop, bicubic | 2 samples | std | truth."""
    import numpy as np
    from PIL import Image, ImageDraw

    from srim_tf.data import image_io
    from srim_tf.data.resize import bicubic_upsample
    from srim_tf.evaluation.evaluate import hr_and_lr
    from srim_tf.inference import outputs, tiling
    from srim_tf.inference.samplers import load_sampler

    label_width, gap = 150, 4
    inputs = {name: hr_and_lr(os.path.join(DATA, "Set14", name)) for name in {c[0] for c in CROPS}}
    rows = []
    for label, model in models.items():
        sampler = load_sampler(model)
        panels = []
        for name, top, left, size in CROPS:
            hr, lr, _ = inputs[name]
            # Sampled from an LR window with context around the crop, then cut to it.
            t0, l0 = max(top // 4 - 8, 0), max(left // 4 - 8, 0)
            window = lr[t0:t0 + size // 4 + 16, l0:l0 + size // 4 + 16]
            samples = tiling.super_resolve_image(sampler, window, 2, seed=0)
            dy, dx = 4 * (top // 4 - t0), 4 * (left // 4 - l0)
            samples = samples[:, dy:dy + size, dx:dx + size]
            bicubic = np.round(bicubic_upsample(window[None] / 255.0, 4).numpy()[0] * 255)
            bicubic = bicubic[dy:dy + size, dx:dx + size].astype(np.uint8)
            std = np.repeat(outputs.std_map(samples)[..., None], 3, axis=-1)
            panels += [bicubic, *samples, std, hr[top:top + size, left:left + size]]
        row = np.full((CROPS[0][3], label_width + len(panels) * (CROPS[0][3] + gap), 3), 255, np.uint8)
        for index, panel in enumerate(panels):
            x = label_width + index * (CROPS[0][3] + gap)
            row[:, x:x + panel.shape[1]] = panel
        image = Image.fromarray(row)
        ImageDraw.Draw(image).text((4, 40), label, fill="black")
        rows.append(np.asarray(image))
    header = Image.new("RGB", (rows[0].shape[1], 16), "white")
    names = ["bicubic", "sample 1", "sample 2", "std (white 32)", "truth"] * len(CROPS)
    for index, name in enumerate(names):
        ImageDraw.Draw(header).text((label_width + index * (CROPS[0][3] + gap) + 2, 2), name,
                                    fill="black")
    image_io.write_png(path, np.concatenate([np.asarray(header)] + rows, axis=0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", default=os.path.join(ROOT, "workdirs", "efficiency_photos"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(ROOT, "studies", "efficiency_photos.json")
    results = json.load(open(json_path, encoding="utf-8")) if os.path.isfile(json_path) else {}
    models = {}
    for name in args.arms.split(","):
        what, flags = ARMS[name]
        models[name] = "pretrained" if flags is None else os.path.join(args.out, name)
        if name in results and results[name]["steps"] == (0 if flags is None else args.steps):
            continue
        started = time.time()
        if flags is not None:
            _train(name, flags, args.steps, args.out)
        result = measure_on_set14(models[name], args.out, name)
        results[name] = {"what": what, "flags": flags, "steps": 0 if flags is None else args.steps,
                         "minutes": round((time.time() - started) / 60, 1),
                         **{key: result.get(key) for key in KEYS}}
        print(name, {k: results[name][k] for k in KEYS}, flush=True)
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    _write_table(results, args.steps)
    crops_figure(models, os.path.join(ROOT, "studies", "efficiency_photos_crops.png"))


def _write_table(results, steps):
    lines = [f"# Sample efficiency on Set14: {steps} fine-tuning steps per arm from `pretrained`",
             "", "`python studies/efficiency_photos.py` (2-core CPU; K = 10 samples; LPIPS-Alex"
             " v0.1 as NTIRE measures it; std in grey levels). Crops: `efficiency_photos_crops.png`.",
             "", "| arm | what changes | LPIPS | LPIPS z=0 | LPIPS diversity | hf ratio | LR-PSNR |"
             " Y-PSNR mean | worst sample | std textured / flat |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['what']} | {r['lpips']:.3f} | {r['zero_noise_lpips']:.3f} |"
            f" {r['lpips_diversity']:.1f} | {r['hf_ratio']:.2f} | {r['lr_psnr']:.1f} |"
            f" {r['y_psnr']:.2f} | {r['worst_of_k_y_psnr']:.2f} |"
            f" {255 * r['diversity_std_textured']:.1f} / {255 * r['diversity_std_flat']:.1f} |")
    with open(os.path.join(ROOT, "studies", "efficiency_photos.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
