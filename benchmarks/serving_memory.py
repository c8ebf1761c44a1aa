#!/usr/bin/env python3
"""Peak memory of SavedModel requests at the export's bounds, and of concurrent requests.

    python benchmarks/serving_memory.py [--model=pretrained] [--concurrent=1,4,8]

Exports the model (default bounds), then, each in a fresh process so peaks do not mix,
calls a signature the way TF Serving does (a loaded SavedModel, concurrent requests from
threads) and records the process's peak RSS (`ru_maxrss`): a `samples` request of 4 x 512
x 512 at K = 1 (the default `max_request_pixels`), one 1024 x 1024 image (the default
`max_input_pixels`), a 1 x 1048576 strip, and 1, 4 and 8 concurrent `samples` requests at
the bound. Writes benchmarks/serving_memory.json and prints a table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = {  # name -> (signature, image shape [N, H, W, 3], num_samples, concurrent requests)
    "samples 4x512x512": ("samples", (4, 512, 512), 1, 1),
    "serving_default 1024x1024": ("serving_default", (1, 1024, 1024), 1, 1),
    "samples strip 1x1048576": ("samples", (1, 1, 1048576), 1, 1),
}

_CHILD = r"""
import resource, sys, threading, time
import numpy as np, tensorflow as tf
path, signature, n, h, w, k, concurrent = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
model = tf.saved_model.load(path)
fn = model.signatures[signature]
images = tf.constant(np.random.default_rng(0).integers(0, 256, (n, h, w, 3), dtype=np.uint8))
args = {"images": images}
if signature == "samples":
    args.update(num_samples=tf.constant(k, tf.int64), seed=tf.constant(0, tf.int64),
                noise_scale=tf.constant(1.0))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.time()
threads = [threading.Thread(target=lambda: fn(**args)) for _ in range(concurrent)]
[t.start() for t in threads]; [t.join() for t in threads]
print(base / 1e6, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, time.time() - start)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pretrained")
    parser.add_argument("--concurrent", default="1,4,8")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "serving_memory.json"))
    args = parser.parse_args()
    cases = dict(CASES)
    for c in args.concurrent.split(","):
        cases[f"{c} concurrent samples 4x512x512"] = ("samples", (4, 512, 512), 1, int(c))
    export_dir = tempfile.mkdtemp()
    subprocess.run([sys.executable, os.path.join(ROOT, "bin", "srim_export"), f"--model={args.model}",
                    f"--export_dir={export_dir}"], check=True, capture_output=True)
    results = {}
    for name, (signature, (n, h, w), k, concurrent) in cases.items():
        run = subprocess.run([sys.executable, "-c", _CHILD, os.path.join(export_dir, "1"), signature,
                              str(n), str(h), str(w), str(k), str(concurrent)],
                             capture_output=True, text=True)
        if run.returncode:
            results[name] = {"error": (run.stderr.strip().splitlines() or ["killed"])[-1][:200]}
        else:
            base, peak, seconds = (float(v) for v in run.stdout.split())
            results[name] = {"peak_rss_gb": round(peak, 2), "after_load_gb": round(base, 2),
                             "seconds": round(seconds, 1)}
        print(f"{name:40s} {results[name]}", flush=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"command": "python benchmarks/serving_memory.py", "model": args.model,
                   "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
