#!/usr/bin/env python3
"""Do a model's samples keep the input's colours? Each model super-resolves a photo 4x
(four samples) and the script prints the samples' mean R, G, B minus the input's, and how far
their 4x bicubic downsample strays from the input (mean absolute difference), in grey levels.
0 means the colours are kept; no ground truth is needed.

    python tools/colour_shift.py [--models=pretrained,pretrained_psnr] [--image=PHOTO]

Default image: the README's photo.png, the 128x128 crop of scikit-image's cat (chelsea).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from srim_tf.cli import quiet  # noqa: E402

quiet.quiet_tensorflow_startup()

from srim_tf.data import image_io  # noqa: E402
from srim_tf.data.resize import bicubic_downsample  # noqa: E402
from srim_tf.inference import tiling  # noqa: E402
from srim_tf.inference.samplers import load_sampler  # noqa: E402


def readme_photo():
    import skimage.data

    return skimage.data.chelsea()[60:188, 160:288]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="pretrained,pretrained_psnr")
    parser.add_argument("--image", default=None, help="default: the README's photo.png crop")
    args = parser.parse_args()
    quiet.quiet_python_logs(0)
    image = readme_photo() if args.image is None else image_io.read_image(args.image).rgb
    print("model: samples' mean R / G / B minus the input's; |downsample - input| (grey levels)")
    for model in args.models.split(","):
        samples = tiling.super_resolve_image(load_sampler(model), image, 4, seed=0, noise_scale=1.0)
        shift = samples.reshape(-1, 3).mean(axis=0) - image.reshape(-1, 3).mean(axis=0)
        downsampled = np.round(bicubic_downsample(samples / 255.0, 4).numpy() * 255.0)
        stray = np.abs(downsampled - image[None]).mean()
        print(f"{model}: {shift[0]:+.1f} / {shift[1]:+.1f} / {shift[2]:+.1f}; {stray:.2f}")


if __name__ == "__main__":
    main()
