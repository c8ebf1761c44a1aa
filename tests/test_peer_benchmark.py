"""benchmarks/peer.py: the process holding TensorFlow never imports torch (PyPI's torch brings
triton, which crashed that process with SIGSEGV); the peer is built and timed in a process of
its own (`peer_worker.py`), and a crash there is reported, not shared."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import ROOT


def _run(script, timeout=600):
    """`script` in a fresh process laid out as peer.py's: TensorFlow loaded, peer importable."""
    prelude = f"import sys; sys.path.insert(0, {os.path.join(ROOT, 'benchmarks')!r})\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(script)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_a_crash_of_the_torch_process_is_reported_and_torch_stays_out(tmp_path):
    crashing = tmp_path / "crashing_worker.py"  # dies as triton did, on its first request
    crashing.write_text("import os, signal, sys\nsys.stdin.buffer.read(1)\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    result = _run(f"""
        import peer
        assert "tensorflow" in sys.modules and "torch" not in sys.modules
        peer.WORKER = {str(crashing)!r}
        try:
            peer.TorchProcess()
        except RuntimeError as error:
            print("reported:", error)
        assert "torch" not in sys.modules
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "reported: The PyTorch process" in result.stdout and "exited with status -11 during 'info'" in result.stdout


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch (the peer extra) is not installed")
def test_the_peer_computes_our_function_and_steps_in_its_own_process():
    # Builds a peer (its Adam imported triton, which crashed a process holding TensorFlow),
    # times one step at batch 1, and checks the peer given our weights gives our output.
    result = _run("""
        import peer
        with peer.TorchProcess() as torch_process:
            assert torch_process.info["threads"] >= 1
            assert peer.same_function_difference(torch_process) < 1e-4
            side = peer.Peer(torch_process, "nchw", "pixel", "float32", m=2, step_batch=1, channels_last=False)
            seconds = side.timed("step")
            side.close()
        assert seconds > 0 and "torch" not in sys.modules
        print("ok", seconds)
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")
