"""A small synthetic corpus in MIR-1K's own layout (made by the tests, no real data needed):
16 kHz stereo WAVs with the accompaniment on the left and the vocals on the right, and ``.pv``
pitch labels (MIDI semitones per 20 ms frame, 0 = unvoiced)."""

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000  # Hz, MIR-1K's rate
HOP_S = 0.02  # s, MIR-1K's label hop
CLIPS = {  # name: (seconds, MIDI note of the sung tone, voiced from, voiced until (s))
    "synth_1_01": (2.0, 57, 0.5, 1.5),
    "synth_2_01": (1.5, 64, 0.3, 1.1),
}


def write_mir1k_like(root) -> Path:
    """Write the clips of :data:`CLIPS` under ``root`` (``Wavfile/``, ``PitchLabel/``); returns root."""
    root = Path(root)
    (root / "Wavfile").mkdir(parents=True, exist_ok=True)
    (root / "PitchLabel").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (seconds, midi, t0, t1) in CLIPS.items():
        n = int(seconds * SR)
        t = np.arange(n) / SR
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        voice = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6))
        voice = 0.25 * voice / np.abs(voice).max() * ((t >= t0) & (t < t1))
        accompaniment = 0.05 * rng.standard_normal(n) + 0.1 * np.sin(2 * np.pi * 110.0 * t)
        sf.write(root / "Wavfile" / f"{name}.wav", np.stack([accompaniment, voice], 1), SR, subtype="PCM_16")
        # line i is the frame centred at 0.02 * i + 0.02 s (MIR-1K's convention)
        centres = HOP_S * np.arange(int(seconds / HOP_S)) + HOP_S
        labels = np.where((centres >= t0) & (centres < t1), midi, 0)
        (root / "PitchLabel" / f"{name}.pv").write_text("".join(f"{v}\n" for v in labels))
    return root
