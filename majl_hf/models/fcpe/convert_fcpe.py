"""Convert FCPE's bundled weights (torchfcpe 0.0.4, ``torchfcpe/assets/fcpe_c_v001.pt``, MIT) into ``FcpeModel``.

The checkpoint ships inside the torchfcpe wheel on PyPI; this script reads it from the wheel file
(``pip download --no-deps torchfcpe==0.0.4``) without installing or importing torchfcpe (whose
import pulls torchaudio). Both the wheel and the weight file are sha256-checked, the checkpoint is
read with ``weights_only=True``, its ``config_dict`` must describe the model we build (``conv_only``
CFNaiveMelPE, 128 mels, 512 hidden, 6 layers, 360 bins, 32.7–1975.5 Hz), every tensor is mapped
by an explicit table, and every key not mapped must be one known to be unused:

- ``cent_table`` / ``gaussian_blurred_cent_mask``: buffers derived from the config; ``cent_table``
  is checked against our ``PitchBins`` (within float32 rounding of ``torch.linspace``).
- ``net.encoder_layers.N.norm.*``: the pre-attention layer norms, unused when ``conv_only`` is set
  (each layer is then ``x + conv_module(x)``); dropped.

    python -m majl_hf.models.fcpe.convert_fcpe --wheel wheels/torchfcpe-0.0.4-py3-none-any.whl \
        --output-dir converted/fcpe --hop-length 320

Never imported by the library.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from ...utils import check_sha256, fetch_checked_wheel
from .configuration_fcpe import FcpeConfig
from .modeling_fcpe import FcpeModel

TORCHFCPE_VERSION = "0.0.4"
WHEEL_NAME = f"torchfcpe-{TORCHFCPE_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "f042c463d850d76c6f4899a0b84f0b694bb560adf05f4de951097a756d17472d"
ASSET_PATH = "torchfcpe/assets/fcpe_c_v001.pt"
ASSET_SHA256 = "b9aeaeb673436eeda50ceafd632aa681aa63417e52eae4207503d180c9b10015"

#: the bundled config_dict entries that fix the architecture, and the FcpeConfig value each must equal
EXPECTED_CONFIG = {
    ("mel", "sr"): 16000,
    ("mel", "num_mels"): 128,
    ("mel", "n_fft"): 1024,
    ("mel", "win_size"): 1024,
    ("mel", "hop_size"): 160,
    ("mel", "fmin"): 0,
    ("mel", "fmax"): 8000,
    ("model", "type"): "CFNaiveMelPE",
    ("model", "out_dims"): 360,
    ("model", "hidden_dims"): 512,
    ("model", "n_layers"): 6,
    ("model", "f0_min"): 32.7,
    ("model", "f0_max"): 1975.5,
    ("model", "conv_only"): True,
}

_LAYER_MAP = {  # torchfcpe ConformerConvModule → FcpeConvModule
    "conformer.net.0.weight": "norm.weight",
    "conformer.net.0.bias": "norm.bias",
    "conformer.net.2.weight": "pointwise_in.weight",
    "conformer.net.2.bias": "pointwise_in.bias",
    "conformer.net.4.conv.weight": "depthwise.weight",
    "conformer.net.4.conv.bias": "depthwise.bias",
    "conformer.net.6.weight": "pointwise_out.weight",
    "conformer.net.6.bias": "pointwise_out.bias",
}
_TOP_MAP = {
    "input_stack.0.weight": "input_conv1.weight",
    "input_stack.0.bias": "input_conv1.bias",
    "input_stack.1.weight": "input_norm.weight",
    "input_stack.1.bias": "input_norm.bias",
    "input_stack.3.weight": "input_conv2.weight",
    "input_stack.3.bias": "input_conv2.bias",
    "norm.weight": "final_norm.weight",
    "norm.bias": "final_norm.bias",
    "output_proj.weight_g": "output_proj.parametrizations.weight.original0",
    "output_proj.weight_v": "output_proj.parametrizations.weight.original1",
    "output_proj.bias": "output_proj.bias",
}
_UNUSED = (re.compile(r"net\.encoder_layers\.\d+\.norm\.(weight|bias)"),)
_DERIVED = ("cent_table", "gaussian_blurred_cent_mask")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_torchfcpe_wheel(dest: Path) -> Path:
    """``pip download --no-deps torchfcpe==0.0.4`` into ``dest`` (PyPI only), hash-checked."""
    return fetch_checked_wheel(dest, f"torchfcpe=={TORCHFCPE_VERSION}", WHEEL_NAME, WHEEL_SHA256)


def check_wheel(wheel: Path) -> None:
    check_sha256(wheel, WHEEL_SHA256, f"torchfcpe {TORCHFCPE_VERSION}")


def load_fcpe_checkpoint(wheel: Path) -> dict:
    """The bundled checkpoint (``{'model': state_dict, 'config_dict': ..., 'global_step': ...}``) read
    from the wheel, both hash-checked."""
    check_wheel(wheel)
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(ASSET_PATH)
    digest = sha256_of(data)
    if digest != ASSET_SHA256:
        raise ValueError(f"{wheel}: {ASSET_PATH} has sha256 {digest}, expected {ASSET_SHA256}")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def check_bundled_config(config_dict: dict) -> None:
    for (section, key), expected in EXPECTED_CONFIG.items():
        value = config_dict.get(section, {}).get(key)
        if value != expected:
            raise ValueError(f"bundled config {section}.{key} = {value!r}, this converter expects {expected!r}")


def map_state_dict(state: dict[str, torch.Tensor], num_layers: int) -> dict[str, torch.Tensor]:
    """torchfcpe ``CFNaiveMelPE`` keys → ``FcpeModel`` keys (explicit table; unknown keys are errors)."""
    table = dict(_TOP_MAP)
    for i in range(num_layers):
        for src, dst in _LAYER_MAP.items():
            table[f"net.encoder_layers.{i}.{src}"] = f"layers.{i}.{dst}"
    out, unknown = {}, []
    for key, value in state.items():
        if key in table:
            out[table[key]] = value
        elif key in _DERIVED or any(p.fullmatch(key) for p in _UNUSED):
            continue
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"unexpected keys in the FCPE checkpoint: {unknown}")
    missing = sorted(set(table) - set(state))
    if missing:
        raise ValueError(f"keys missing from the FCPE checkpoint: {missing}")
    return out


def convert_fcpe(wheel_path: Path, output_dir: Path | None = None, hop_length: int = 320) -> FcpeModel:
    """Build an ``FcpeModel`` (output grid ``hop_length`` samples at 16 kHz) with FCPE's bundled
    weights (strict load) and optionally ``save_pretrained`` it (safetensors)."""
    ckpt = load_fcpe_checkpoint(Path(wheel_path))
    check_bundled_config(ckpt["config_dict"])
    config = FcpeConfig(hop_length=hop_length)
    model = FcpeModel(config)
    state = ckpt["model"]
    cents = config.pitch_bins.cents
    err = np.abs(state["cent_table"].double().numpy() - cents).max()
    if err > 1e-2:  # torch.linspace in float32 rounds to ~1e-3 cents
        raise ValueError(f"the checkpoint's cent_table differs from FcpeConfig.pitch_bins by {err:.3g} cents")
    model.load_state_dict(map_state_dict(state, config.num_layers), strict=True)
    model.eval()
    if output_dir is not None:
        model.save_pretrained(output_dir)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help=f"path to {WHEEL_NAME} (downloaded when absent)")
    parser.add_argument("--download-dir", type=Path, default=Path("wheels"))
    parser.add_argument("--hop-length", type=int, default=320, help="output grid, samples at 16 kHz (160 = 10 ms)")
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    wheel = args.wheel or download_torchfcpe_wheel(args.download_dir)
    convert_fcpe(wheel, args.output_dir, args.hop_length)
    print(f"saved FCPE to {args.output_dir}")


if __name__ == "__main__":
    main()
