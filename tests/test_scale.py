"""tf.distribute, mixed precision and XLA: each trains, and mirrored matches one device."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from srim_tf import build
from tests.conftest import tiny_config

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


def _train_two_workers(workdir, steps, *flags):
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
             "--checkpoint_every=2", "--summary_every=2", "--image_summary_every=2", *flags],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    return [err for _, err in outputs]


def test_multi_worker_with_code_reuse_trains_and_only_the_chief_writes(tmp_path):
    import glob
    import os

    from tests.test_train_program import _steps

    workdir = str(tmp_path / "cluster")
    # Pools of 4 images chosen at steps 0 and 2: both workers train past a refill.
    reuse = ("--code_pool_size=4", "--code_reuse_steps=2")
    _train_two_workers(workdir, 3, *reuse)
    assert _steps(workdir) == 3
    assert sorted(os.listdir(workdir)) == ["checkpoints", "config.json", "train"]  # no worker copies
    assert len(glob.glob(os.path.join(workdir, "train", "events.*"))) == 1  # the chief's alone
    # Both workers resume from the chief's checkpoint (else their collectives would not match).
    logs = _train_two_workers(workdir, 4, *reuse)
    assert _steps(workdir) == 4
    assert all("Resumed from" in log and "ckpt-3" in log for log in logs)


LOOP_SCRIPT = textwrap.dedent("""
    import sys, threading, numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from srim_tf import build, imle, layers, selection, train
    from tests.conftest import tiny_config

    workdir = sys.argv[1]
    built, seen, part = [], [], threading.local()
    make_model, make_optimizer = build.srim, build.optimizer
    build.srim = lambda config: built.append(make_model(config)) or built[-1]

    # What every hidden convolution computes in, by replica, in the gradient step or not.
    conv_call = layers.WeightNormConv2D.call
    def recording_call(self, inputs, *args, **kwargs):
        replica = tf.distribute.get_replica_context()
        rid = tf.get_static_value(replica.replica_id_in_sync_group) if replica else 0
        seen.append((int(rid), getattr(part, "name", "other"), inputs[0].dtype.name
                     if isinstance(inputs, (list, tuple)) else inputs.dtype.name))
        return conv_call(self, inputs, *args, **kwargs)
    layers.WeightNormConv2D.call = recording_call
    def tagged(function, name):
        def run(*args, **kwargs):
            part.name = name
            try:
                return function(*args, **kwargs)
            finally:
                part.name = "other"
        return run
    imle.SRIM._loss = tagged(imle.SRIM._loss, "step")
    selection.select = tagged(selection.select, "selection")

    def weights(run):
        return [v.numpy() for v in built[-1][0].generator.weights]

    # 1. bf16 selection under mirrored.
    train.train_and_evaluate(tiny_config(strategy="mirrored", selection_precision="bfloat16",
                                         batch_size=4, train_steps=2), workdir + "/bf16")
    policies = {l.dtype_policy.name for m in (built[-1][0].generator.lower, built[-1][0].generator.upper)
                for l in m.layers}
    step_dtypes = {d for _, name, d in seen if name == "step"}
    selected = {(r, d) for r, name, d in seen if name == "selection"}
    print("POLICIES", sorted(policies), "STEP", sorted(step_dtypes), "SELECTION", sorted(selected))

    # 2. mirrored vs one device: the same update, fresh selection and code reuse.
    build.optimizer = lambda config: keras.optimizers.SGD(1e-1)
    for name, extra in (("fresh", {}), ("reuse", dict(code_pool_size=4, code_reuse_steps=2))):
        config = tiny_config(batch_size=4, train_steps=3, checkpoint_every=3, **extra)
        results = []
        for strategy in ("default", "mirrored"):
            train.train_and_evaluate(dict(config, strategy=strategy), f"{workdir}/{name}_{strategy}")
            results.append(weights(built[-1]))
        initial = [v.numpy() for v in make_model(config)[0].generator.weights]
        gap = max(float(np.abs(a - b).max()) for a, b in zip(*results))
        moved = max(float(np.abs(a - b).max()) for a, b in zip(initial, results[0]))
        print("SAME", name, gap, moved)
""")


def test_mirrored_training_loop_on_two_cpus(tmp_path):
    """srim_train's loop under MirroredStrategy: bf16 selection leaves the policies and the
    float32 gradient step alone, and trains what one device trains."""
    result = subprocess.run([sys.executable, "-c", LOOP_SCRIPT, str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    print(out)
    policies = next(l for l in out.splitlines() if l.startswith("POLICIES"))
    assert policies == ("POLICIES ['float32'] STEP ['float32'] SELECTION"
                        " [(0, 'bfloat16'), (1, 'bfloat16')]")
    for line in (l for l in out.splitlines() if l.startswith("SAME")):
        _, name, gap, moved = line.split()
        assert float(moved) > 1e-4, line  # training did change the weights
        assert float(gap) < 1e-4 * float(moved), line


def test_mixed_float16_skipped_steps_keep_step_checkpoint_and_schedule_together(
        tmp_path, monkeypatch):
    import keras

    from srim_tf import train

    optimizers = []
    make = build.optimizer

    def huge_loss_scale(config):
        # Scaled gradients overflow float16 at first: the first updates are skipped.
        optimizers.append(keras.optimizers.LossScaleOptimizer(make(config), initial_scale=2.0 ** 40))
        return optimizers[-1]

    monkeypatch.setattr(build, "optimizer", huge_loss_scale)
    workdir = str(tmp_path / "run")
    config = tiny_config(mixed_precision="mixed_float16", train_steps=3, checkpoint_every=3,
                         lr_decay_steps=["2"], learning_rate=1e-3, lr_decay_factor=0.5)
    try:
        train.train_and_evaluate(config, workdir)
        first = optimizers[-1]
        assert float(first.dynamic_scale.numpy()) < 2.0 ** 40  # some updates were skipped
        assert int(first.iterations.numpy()) == 3
        assert tf.train.latest_checkpoint(f"{workdir}/checkpoints").endswith("ckpt-3")
        assert float(first.learning_rate.numpy()) == pytest.approx(5e-4)  # decayed at 2
        train.train_and_evaluate(dict(config, train_steps=4), workdir)
        assert int(optimizers[-1].iterations.numpy()) == 4  # resumed and stopped at 4
        assert tf.train.latest_checkpoint(f"{workdir}/checkpoints").endswith("ckpt-4")
    finally:
        keras.mixed_precision.set_global_policy("float32")
