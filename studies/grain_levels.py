#!/usr/bin/env python3
"""How much fine grain do samples carry where the truth is flat, against the truth's own?

The per-pixel std across samples ("std flat" in srim_eval) says how much samples differ
there. It does not say whether they carry more grain than real photographs do. This script
measures the grain itself, per image: the noise sigma of Immerkaer's estimator (the mean
absolute 3x3 Laplacian-of-Laplacian response, x sqrt(pi / 2) / 6) over the quarter of pixels
where the truth is flattest. It does so for the truth, for bicubic and for two samples of
each model, all given the LR degraded at `--lr_degradation`. Grey levels, mean over the images.

    python studies/grain_levels.py [--models=pretrained,pretrained_photos] [--lr_degradation=photo]
"""

import argparse
import glob
import os
import sys

import numpy as np
from scipy.ndimage import sobel, uniform_filter
from scipy.signal import convolve2d

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from srim_tf.cli import quiet  # noqa: E402

quiet.quiet_tensorflow_startup()

from srim_tf.data.resize import bicubic_upsample  # noqa: E402
from srim_tf.evaluation.evaluate import hr_and_lr, model_lr  # noqa: E402
from srim_tf.inference.samplers import load_sampler  # noqa: E402
from srim_tf.inference.tiling import super_resolve_image  # noqa: E402
from studies.set14_runs import DATA  # noqa: E402

LAPLACIAN_OF_LAPLACIAN = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)


def luma(image):
    image = image.astype(np.float64)
    return image[..., :3].mean(axis=-1) if image.shape[-1] >= 3 else image[..., 0]


def flattest_quarter(truth):
    """Mask of the quarter of (interior) pixels where the truth's smoothed gradient is least."""
    gradient = uniform_filter(np.hypot(sobel(truth, 0), sobel(truth, 1)), 9)[1:-1, 1:-1]
    return gradient <= np.percentile(gradient, 25)


def grain_sigma(image, mask):
    """Immerkaer's noise sigma of `image` (grey levels) over `mask` (interior pixels)."""
    response = np.abs(convolve2d(image, LAPLACIAN_OF_LAPLACIAN, mode="valid"))
    return float(np.sqrt(np.pi / 2) / 6 * response[mask].mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="pretrained,pretrained_photos")
    parser.add_argument("--lr_degradation", default="photo")
    parser.add_argument("--hr_dir", default=os.path.join(DATA, "Set14"))
    args = parser.parse_args()
    quiet.quiet_python_logs(0)
    samplers = {model: load_sampler(model) for model in args.models.split(",")}
    sigmas = {name: [] for name in ("truth", "bicubic", *samplers)}
    for path in sorted(glob.glob(os.path.join(args.hr_dir, "*"))):
        hr, lr, _ = hr_and_lr(path)
        seen = model_lr(lr, args.lr_degradation, os.path.basename(path))
        seen = np.repeat(seen, 3, axis=-1) if seen.shape[-1] == 1 else seen
        truth = luma(hr)
        mask = flattest_quarter(truth)
        sigmas["truth"].append(grain_sigma(truth, mask))
        bicubic = np.clip(bicubic_upsample(seen[None] / 255.0, 4).numpy()[0], 0, 1) * 255
        sigmas["bicubic"].append(grain_sigma(luma(np.round(bicubic)), mask))
        for model, sampler in samplers.items():
            samples = super_resolve_image(sampler, seen, 2, seed=0)
            sigmas[model].append(np.mean([grain_sigma(luma(sample), mask) for sample in samples]))
    print(f"Grain sigma where the truth is flattest, {os.path.basename(args.hr_dir)},"
          f" --lr_degradation={args.lr_degradation} (grey levels, mean / median over images):")
    for name, values in sigmas.items():
        print(f"  {name}: {np.mean(values):.2f} / {np.median(values):.2f}")


if __name__ == "__main__":
    main()
