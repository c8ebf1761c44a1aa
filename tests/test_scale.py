"""tf.distribute, mixed precision and XLA: each trains, and mirrored matches one device."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from srim_tf import build
from tests.conftest import tiny_config

MIRRORED_SCRIPT = textwrap.dedent("""
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from srim_tf import build
    from srim_tf.data import to_triple
    from tests.conftest import tiny_config

    config = tiny_config(batch_size=4, code_jitter=0.0, learning_rate=1e-2)
    rng = np.random.default_rng(0)
    hr = tf.image.resize(rng.random((4, 8, 8, 3)).astype("float32"), [32, 32]).numpy().clip(0, 1)
    lr, mid, hr = (x.numpy() for x in to_triple(tf.constant(hr)))

    def make(strategy):
        with strategy.scope():
            model, _ = build.srim(config)
            model.compile(optimizer=keras.optimizers.SGD(1e-2))
        return model

    single = make(tf.distribute.get_strategy())
    z_lo, z_up = (rng.standard_normal(s).astype("float32")
                  for s in single.generator.noise_shapes(4, 8, 8))
    initial = single.generator.get_weights()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    mirrored = make(strategy)
    mirrored.generator.set_weights(initial)
    assert strategy.num_replicas_in_sync == 2

    # Given codes: the update must equal the single-device one on the whole batch.
    given = tf.data.Dataset.from_tensors(dict(lr=lr, mid=mid, hr=hr, z_lo=z_lo, z_up=z_up))
    single.fit(given, verbose=0)
    mirrored.fit(given, verbose=0)
    gap = max(float(np.abs(a - b).max()) for a, b in
              zip(single.generator.get_weights(), mirrored.generator.get_weights()))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(initial, mirrored.generator.get_weights()))
    print("GAP", gap, "MOVED", moved)

    # With selection: each replica selects for its own half of the batch.
    @tf.function
    def select(batch):
        return strategy.run(lambda b: mirrored.select_codes(*b), args=(batch,))
    batch = next(iter(strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors((lr, mid, hr)))))
    results = select(batch)
    per_replica = strategy.experimental_local_results(results[3])
    print("REPLICAS", len(per_replica), [tuple(r.shape) for r in per_replica],
          [bool(np.all(np.isfinite(r.numpy()))) for r in per_replica])
""")


def test_mirrored_strategy_on_two_cpus_matches_one_device():
    result = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(l for l in result.stdout.splitlines() if l.startswith("GAP"))
    gap, moved = float(line.split()[1]), float(line.split()[3])
    assert moved > 1e-4  # the step did change the weights
    assert gap < 1e-5 * max(1.0, moved * 100)
    assert "REPLICAS 2 [(2,), (2,)] [True, True]" in result.stdout


@pytest.mark.parametrize("overrides", [
    dict(mixed_precision="mixed_bfloat16"),
    dict(mixed_precision="mixed_float16"),
    dict(jit_compile=True),
])
def test_mixed_precision_and_xla_train_a_few_steps(overrides, triple, tmp_path):
    from srim_tf.train import train_and_evaluate

    import keras

    try:
        logs = train_and_evaluate(tiny_config(train_steps=3, checkpoint_every=3,
                                              image_summary_every=3, **overrides),
                                  str(tmp_path / "run"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(logs["loss"]) and logs["loss"] > 0
    assert np.isfinite(logs["validation/y_psnr_zero_noise"])


def test_mixed_float16_wraps_the_optimizer_in_loss_scaling():
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        config = tiny_config()
        model, _ = build.srim(config)
        model.compile(optimizer=build.optimizer(config))
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert model.generator.lower.layers[-2].compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _train_two_workers(workdir, steps):
    """Runs bin/srim_train as a two-worker MultiWorkerMirroredStrategy cluster on localhost."""
    import json
    import os

    from tests.test_train_program import ROOT, TINY_FLAGS

    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "bin", "srim_train"), f"--workdir={workdir}",
             "--strategy=multi_worker", *TINY_FLAGS, "--batch_size=4", f"--train_steps={steps}",
             "--checkpoint_every=2", "--summary_every=2", "--image_summary_every=2"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    return [err for _, err in outputs]


def test_multi_worker_trains_and_only_the_chief_writes(tmp_path):
    import glob
    import os

    from tests.test_train_program import _steps

    workdir = str(tmp_path / "cluster")
    _train_two_workers(workdir, steps=2)
    assert _steps(workdir) == 2
    assert sorted(os.listdir(workdir)) == ["checkpoints", "config.json", "train"]  # no worker copies
    assert len(glob.glob(os.path.join(workdir, "train", "events.*"))) == 1  # the chief's alone
    # Both workers resume from the chief's checkpoint (else their collectives would not match).
    logs = _train_two_workers(workdir, steps=4)
    assert _steps(workdir) == 4
    assert all("Resumed from" in log and "ckpt-2" in log for log in logs)
