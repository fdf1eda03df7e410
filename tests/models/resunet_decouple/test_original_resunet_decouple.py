"""Our ResUNetDecouple+ vs the authors' code (bytesep 0.1.1, read from the wheel, never installed):
with the original's weights copied in, the same waveform out.

The original needs inplace_abn and torchlibrosa, which are not installed; they are stood in for
here: InPlaceABNSync by BatchNorm2d + LeakyReLU(0.01) (its default activation slope), torchlibrosa's
STFT/ISTFT by our framing (majl_hf.models.common.stft / istft, as the contract requires) and its
``magphase`` by its definition. What is compared is therefore everything between the STFT and its
inverse: the layer structure, the per-bin input BatchNorm, the padding/cropping of frames and bins
and the decoupled magnitude/phase output."""

import re
import sys
import types
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from majl_hf.models.common import istft, stft
from majl_hf.models.resunet_decouple import ResUNetDecoupleConfig, ResUNetDecoupleModel
from tests.conftest import REPO_ROOT

WHEEL_NAME = "bytesep-0.1.1-py3-none-any.whl"
SOURCES = ("bytesep/models/pytorch_modules.py", "bytesep/models/resunet_ismir2021.py")


def bytesep_wheel():
    for candidate in (REPO_ROOT / "wheels" / WHEEL_NAME, REPO_ROOT.parent / "wheels" / WHEEL_NAME):
        if candidate.is_file():
            return candidate
    pytest.skip(f"needs {WHEEL_NAME} in wheels/ (pip download bytesep==0.1.1 --no-deps)")


class _InPlaceABNSync(nn.BatchNorm2d):
    def __init__(self, num_features, momentum=0.1, activation="leaky_relu", activation_param=0.01, eps=1e-5):
        super().__init__(num_features, eps=eps, momentum=momentum)
        assert activation == "leaky_relu"
        self.slope = activation_param

    def forward(self, x):
        return F.leaky_relu(super().forward(x), self.slope)


class _STFT(nn.Module):
    def __init__(self, n_fft, hop_length, **kwargs):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length

    def forward(self, x):  # (N, samples) → real, imag (N, 1, frames, bins)
        spec = stft(x, self.n_fft, self.hop_length)[:, None]
        return spec.real, spec.imag


class _ISTFT(_STFT):
    def forward(self, real, imag, length):  # (N, 1, frames, bins) → (N, length)
        return istft(torch.complex(real, imag)[:, 0], self.n_fft, self.hop_length, length)


def _magphase(real, imag):  # torchlibrosa.stft.magphase
    mag = (real**2 + imag**2) ** 0.5
    return mag, real / torch.clamp(mag, 1e-10, np.inf), imag / torch.clamp(mag, 1e-10, np.inf)


@pytest.fixture(scope="module")
def original_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bytesep")
    with zipfile.ZipFile(bytesep_wheel()) as zf:
        for name in SOURCES:
            zf.extract(name, folder)
    stubs = {
        "inplace_abn": types.ModuleType("inplace_abn"),
        "inplace_abn.abn": types.ModuleType("inplace_abn.abn"),
        "torchlibrosa": types.ModuleType("torchlibrosa"),
        "torchlibrosa.stft": types.ModuleType("torchlibrosa.stft"),
        "bytesep": types.ModuleType("bytesep"),  # the package's __init__ imports pytorch_lightning: bypass it
        "bytesep.models": types.ModuleType("bytesep.models"),
    }
    stubs["inplace_abn.abn"].InPlaceABNSync = _InPlaceABNSync
    stubs["torchlibrosa.stft"].STFT, stubs["torchlibrosa.stft"].ISTFT = _STFT, _ISTFT
    stubs["torchlibrosa.stft"].magphase = _magphase
    stubs["bytesep"].__path__ = [str(folder / "bytesep")]
    stubs["bytesep.models"].__path__ = [str(folder / "bytesep" / "models")]
    names = list(stubs) + ["bytesep.models.pytorch_modules", "bytesep.models.resunet_ismir2021"]
    saved = {n: sys.modules.get(n) for n in names}
    sys.modules.update(stubs)
    try:
        from bytesep.models.resunet_ismir2021 import ResUNet143_DecouplePlusInplaceABN_ISMIR2021

        yield ResUNet143_DecouplePlusInplaceABN_ISMIR2021
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def map_original_key(key: str) -> str:
    """bytesep's state-dict names → ours."""
    block = {"bn1": "norm1", "abn2": "norm2", "conv1": "conv1", "conv2": "conv2", "shortcut": "shortcut"}

    def res(prefix, j, rest):
        name, _, tail = rest.partition(".")
        return f"{prefix}.blocks.{j}.{block[name]}.{tail}"

    if key.startswith("bn0."):
        return "input_norm." + key[4:]
    if key.startswith("after_conv2."):
        return "output_conv." + key[12:]
    if m := re.fullmatch(r"encoder_block(\d)\.conv_block(\d)\.(.+)", key):
        return res(f"encoder.{int(m[1]) - 1}", int(m[2]) - 1, m[3])
    if m := re.fullmatch(r"conv_block7([a-d])\.conv_block(\d)\.(.+)", key):
        return res(f"bottleneck.{'abcd'.index(m[1])}", int(m[2]) - 1, m[3])
    if m := re.fullmatch(r"after_conv_block1\.conv_block(\d)\.(.+)", key):
        return res("output_stage", int(m[1]) - 1, m[2])
    if m := re.fullmatch(r"decoder_block(\d)\.(bn1|conv1)\.(.+)", key):
        return f"decoder.{int(m[1]) - 1}.{'norm' if m[2] == 'bn1' else 'upsample'}.{m[3]}"
    if m := re.fullmatch(r"decoder_block(\d)\.conv_block(\d)\.(.+)", key):
        return res(f"decoder.{int(m[1]) - 1}.stage", int(m[2]) - 2, m[3])
    raise KeyError(key)


@pytest.mark.parametrize(("preset", "channels"), [("ismir2021", 2), ("majl", 1)])
def test_matches_the_authors_code(original_class, preset, channels):
    torch.manual_seed(0)
    original = original_class(input_channels=channels, target_sources_num=1)
    n_original = sum(p.numel() for p in original.parameters() if p.requires_grad)
    config = ResUNetDecoupleConfig.from_preset(preset)
    model = ResUNetDecoupleModel(config)
    n_ours = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{preset}: original {n_original:,} trainable parameters, ours {n_ours:,}")
    assert n_ours == n_original == {2: 102_571_278, 1: 102_570_824}[channels]
    assert original.stft.hop_length == 441 and original.stft.n_fft == 2048  # the original's own STFT setting
    for stft_module in (original.stft, original.istft):  # in the preset's framing
        stft_module.n_fft, stft_module.hop_length = config.n_fft, config.hop_length

    with torch.no_grad():  # random weights everywhere, BN statistics included, so that every tensor matters
        for name, t in original.state_dict().items():
            if name.endswith("running_var"):
                t.uniform_(0.5, 2.0)
            elif name.endswith("num_batches_tracked"):
                continue
            elif name.endswith(("running_mean", "bias")):
                t.uniform_(-0.1, 0.1)
            elif t.ndim == 1:  # BN weight
                t.uniform_(0.5, 1.5)
    state = {map_original_key(k): v for k, v in original.state_dict().items()}
    assert set(state) == set(model.state_dict())
    for k, v in model.state_dict().items():
        assert v.shape == state[k].shape, k
    model.load_state_dict(state)
    original.eval()
    model.eval()

    n = config.sampling_rate // 4  # 0.25 s: 30 / 22 STFT frames, padded to 32 by both
    x = torch.randn(1, channels, n) * 0.1
    with torch.no_grad():
        want = original({"waveform": x})["waveform"]
        got = model(x).vocals
    err = (got - want).abs().max().item()
    print(f"{preset}: max abs err vs the original {err:.2e} (peak {want.abs().max().item():.2e})")
    assert want.abs().max().item() > 1e-3
    assert err <= 1e-4 * want.abs().max().item()
