#!/usr/bin/env python3
"""The README figure: a crop of a Set14 image as LR | bicubic | 3 samples | std | truth,
one row per model (default: the pixel-trained model above the perceptual one).

    python tools/figure.py [--models=pretrained_psnr,pretrained] [--image=../shared/data/Set14/comic.png]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from srim_tf.cli import quiet  # noqa: E402

# TensorFlow imported with its start-up banner hidden, as the programs do, before the
# imports below bring it in.
quiet.quiet_tensorflow_startup()

from srim_tf.data import image_io  # noqa: E402
from srim_tf.data.resize import bicubic_downsample, bicubic_upsample  # noqa: E402
from srim_tf.inference import outputs, tiling  # noqa: E402
from srim_tf.inference.samplers import load_sampler  # noqa: E402
from tools.panels import labelled, row, stacked  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="pretrained_psnr,pretrained")
    parser.add_argument("--image", default=os.path.join(ROOT, "..", "shared", "data", "Set14", "comic.png"))
    parser.add_argument("--crop", default="40,60,128", help="top,left,size of the HR crop")
    parser.add_argument("--out", default=os.path.join(ROOT, "tools", "figures", "set14_crop.png"))
    args = parser.parse_args()
    quiet.quiet_python_logs(0)
    top, left, size = (int(v) for v in args.crop.split(","))
    hr = image_io.read_image(args.image).rgb[top:top + size, left:left + size]
    lr = np.round(bicubic_downsample(hr[None] / 255.0, 4).numpy()[0] * 255).astype(np.uint8)
    nearest = np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1)
    bicubic = np.round(bicubic_upsample(lr[None] / 255.0, 4).numpy()[0] * 255).astype(np.uint8)
    rows = []
    for model in args.models.split(","):
        samples = tiling.super_resolve_image(load_sampler(model), lr, 3, seed=0, noise_scale=1.0)
        std = np.repeat(outputs.std_map(samples)[..., None], 3, axis=-1)
        rows.append(row([labelled(nearest, "LR (nearest 4x)"), labelled(bicubic, "bicubic"),
                         *(labelled(s, f"{model}: sample {i + 1}") for i, s in enumerate(samples)),
                         labelled(std, outputs.STD_LABEL),
                         labelled(hr, "truth")]))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    image_io.write_png(args.out, stacked(rows))
    print(args.out)


if __name__ == "__main__":
    main()
