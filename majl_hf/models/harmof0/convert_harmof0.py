"""Convert the original HarmoF0 checkpoints (github.com/WX-Wei/HarmoF0, MIT, commit 3b22236…:
``harmof0/checkpoints/mir-1k.pth`` and ``mdb-stem-synth.pth``) into ``HarmoF0Model``.

The checkpoints are plain ``torch.save``d state dicts of ``harmof0.network.HarmoF0()`` (default
arguments = our default config). Our module names are the original's, so the mapping is the
identity except for one dropped key: ``waveform_to_logspecgram.waveform_to_specgram.window``, the
Hann window of a ``torchaudio`` Spectrogram the original builds and never calls (it is checked
to be that window before it is dropped). The load is strict and the file's sha256 is checked.

    python -m majl_hf.models.harmof0.convert_harmof0 ../shared/weights/harmof0/mdb-stem-synth.pth \
        --output-dir converted/harmof0-mdb-stem-synth --hop-length 320

The MIT licence of the original (``LICENSE`` beside the checkpoints) must travel with the converted
weights. Never imported by the library.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch

from .configuration_harmof0 import HarmoF0Config
from .modeling_harmof0 import HarmoF0Model

CHECKPOINT_SHA256 = {
    "mir-1k.pth": "f4d224e47871594360cedddeab3cc49048997eaa68a6fd6f5a631113a943cce6",
    "mdb-stem-synth.pth": "1d47ce083858782cf3de78b1a0f61d98e5836b5a81745a3e47f2ad8ddafec99e",
}
UNUSED_KEYS = ("waveform_to_logspecgram.waveform_to_specgram.window",)


def load_harmof0_state_dict(checkpoint_path) -> dict[str, torch.Tensor]:
    """The original state dict, sha256-checked, without its unused Spectrogram window."""
    path = Path(checkpoint_path)
    expected = CHECKPOINT_SHA256.get(path.name)
    if expected is None:
        raise ValueError(f"{path.name}: not an original HarmoF0 checkpoint (known: {sorted(CHECKPOINT_SHA256)})")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ValueError(f"{path}: sha256 {digest} is not the original {path.name}'s ({expected})")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in UNUSED_KEYS:
        window = state.pop(key, None)
        if window is not None and not torch.equal(window, torch.hann_window(window.numel())):
            raise ValueError(f"{path}: {key} is not the Hann window the original builds")
    return state


def convert_harmof0(checkpoint_path, output_dir=None, hop_length: int = 320) -> HarmoF0Model:
    """Build the published ``HarmoF0Model`` with an original checkpoint (strict load), in eval mode,
    and optionally ``save_pretrained`` it (safetensors) into ``output_dir``.

    ``hop_length`` is the output grid (320 = 20 ms, the cascade's; 160 = the native 10 ms)."""
    state = load_harmof0_state_dict(checkpoint_path)
    model = HarmoF0Model(HarmoF0Config(hop_length=hop_length))
    model.load_state_dict(state, strict=True)
    model.eval()
    if output_dir is not None:
        model.save_pretrained(output_dir)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="mir-1k.pth or mdb-stem-synth.pth")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--hop-length", type=int, default=320, help="output grid, samples at 16 kHz")
    args = parser.parse_args(argv)
    convert_harmof0(args.checkpoint, args.output_dir, args.hop_length)
    print(f"saved HarmoF0 ({args.checkpoint.name}) to {args.output_dir}")


if __name__ == "__main__":
    main()
