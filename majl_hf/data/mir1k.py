"""MIR-1K: 1000 Chinese karaoke clips, vocals and accompaniment on separate channels, with pitch labels.

Folder tree (the corpus's own layout; other folders are ignored)::

    MIR-1K/
      Wavfile/<singer>_<song>_<clip>.wav   16 kHz stereo PCM16: left = accompaniment, right = vocals
      PitchLabel/<singer>_<song>_<clip>.pv one MIDI semitone per line, 20 ms hop, 0 = unvoiced
      UnvoicedFrameLabel/, vocal-nonvocalLabel/, Lyrics/, UndividedWavfile/   (not used)

Where to get it: http://mirlab.org/dataset/public/MIR-1K.zip (NTHU/NTU MIR Lab, Hsu & Jang 2010).
Licence: none stated; distributed by the MIR Lab for research use.

What an example holds (``corpus="mir1k"``):

- ``mixture`` = left + right as one channel (shape (1, samples)): the paper's 0 dB mix, a plain
  sum, no normalisation (values can exceed ±1; they are float32).
- ``vocals`` = the right channel, (1, samples); ``has_vocals`` True.
- ``f0_hz`` from the ``.pv`` file: line ``i`` (0-based) is the frame covering
  [0.02·i, 0.02·i + 0.04] s, i.e. centred at 0.02·i + 0.02 s; it lands on grid frame ``i + 1``
  (grid frame ``t`` is centred at 0.02·t s). Grid frame 0 (t = 0 s) has no MIR-1K label and is
  unvoiced. Semitones become Hz with :func:`majl_hf.pitch.convert.midi_to_hz`.

Label/audio length rule: a ``.pv`` may end earlier than the audio's last grid frame by at most
``max_label_shortfall_s`` (default 0.2 s; the uncovered tail frames are unvoiced) and may run past
it by at most ``max_label_excess_s`` (default 2.5 s; the excess is cropped). The generous excess
default lets the mirdata test excerpt ``amy_3_01`` load (its audio was cut to 2.0 s, its label
kept 3.98 s); anything beyond either tolerance is a :class:`~majl_hf.data.base.CorpusError`.

Split: 80/20 by singer (the ``<singer>`` part of the file name), with
:func:`~majl_hf.data.base.assign_split` (sha256 of ``"<seed>:<singer>"``): no singer is in both
splits, and the assignment is the same on every machine.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import numpy as np

from ..pitch.labels import MIR1K_HOP_S, read_mir1k_pv, resample_f0
from .base import (
    CorpusError,
    assign_split,
    build_dataset,
    check_on_error,
    check_split,
    files_fingerprint,
    grid_times,
    guarded,
    make_example,
    read_audio,
)

logger = logging.getLogger(__name__)

CORPUS = "mir1k"
LICENCE = "MIR-1K: no licence stated; research use (NTHU/NTU MIR Lab)"
MIR1K_SAMPLING_RATE = 16000  # Hz
DEFAULT_MAX_LABEL_SHORTFALL_S = 0.2  # s: .pv may stop this much before the last grid frame
DEFAULT_MAX_LABEL_EXCESS_S = 2.5  # s: .pv may run this much past the last grid frame (cropped)


def singer_of(clip_id: str) -> str:
    """The singer in a MIR-1K clip name ``<singer>_<song>_<clip>`` (e.g. ``amy_3_01`` → ``amy``)."""
    return clip_id.split("_", 1)[0]


def _clips(root: Path) -> list[str]:
    wav_dir = root / "Wavfile"
    if not wav_dir.is_dir():
        raise CorpusError(wav_dir, "MIR-1K Wavfile/ folder not found (is root the MIR-1K folder?)")
    clips = sorted(p.stem for p in wav_dir.glob("*.wav"))
    if not clips:
        raise CorpusError(wav_dir, "no .wav files")
    return clips


def mir1k_f0_on_grid(
    pv_path,
    n_samples: int,
    sampling_rate: int = MIR1K_SAMPLING_RATE,
    *,
    max_label_shortfall_s: float = DEFAULT_MAX_LABEL_SHORTFALL_S,
    max_label_excess_s: float = DEFAULT_MAX_LABEL_EXCESS_S,
) -> np.ndarray:
    """f0 (Hz, 0 = unvoiced) of a ``.pv`` file on the 20 ms grid of ``n_samples`` at ``sampling_rate``.

    Raises :class:`CorpusError` for a malformed file or a label/audio length mismatch beyond the
    tolerances (seconds, measured between the last label frame centre and the last grid frame centre).
    """
    pv_path = Path(pv_path)
    try:
        times_src, f0_src = read_mir1k_pv(pv_path)
    except FileNotFoundError as err:
        raise CorpusError(pv_path, "pitch label (.pv) not found") from err
    except (ValueError, UnicodeDecodeError) as err:
        msg = str(err)
        if msg.startswith(f"{pv_path}:"):  # read_mir1k_pv names the file itself: keep the rest
            msg = msg[len(f"{pv_path}:") :].strip()
            msg = f"line {msg}" if msg[:1].isdigit() else msg
        raise CorpusError(pv_path, f"malformed .pv file: {msg}") from err
    times_dst = grid_times(n_samples, sampling_rate)
    label_end, audio_end = float(times_src[-1]), float(times_dst[-1])
    if audio_end - label_end > max_label_shortfall_s + 1e-9:
        raise CorpusError(
            pv_path,
            f"label ends at {label_end:.2f} s but the audio's last frame is at {audio_end:.2f} s "
            f"(shortfall tolerance {max_label_shortfall_s} s): wrong or truncated label?",
        )
    if label_end - audio_end > max_label_excess_s + 1e-9:
        raise CorpusError(
            pv_path,
            f"label runs to {label_end:.2f} s, {label_end - audio_end:.2f} s past the audio's last frame at "
            f"{audio_end:.2f} s (excess tolerance {max_label_excess_s} s): wrong or truncated audio?",
        )
    if label_end > audio_end:
        logger.debug("%s: label cropped from %.2f s to the audio's %.2f s", pv_path, label_end, audio_end)
    # exact frame mapping: .pv frame i (centre 0.02 i + 0.02) -> grid frame i + 1; nothing farther
    # than half a hop from a label frame is voiced (grid frame 0 and frames past the label's end)
    return resample_f0(times_src, f0_src, times_dst, max_gap_s=0.5 * MIR1K_HOP_S + 1e-6)


def iter_mir1k(
    root,
    split: str | None = None,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    with_f0: bool = True,
    on_error: str = "raise",
    max_label_shortfall_s: float = DEFAULT_MAX_LABEL_SHORTFALL_S,
    max_label_excess_s: float = DEFAULT_MAX_LABEL_EXCESS_S,
) -> Iterator[dict]:
    """Yield MIR-1K examples (the schema of :mod:`majl_hf.data.base`) as numpy dicts, in file-name order.

    Args:
        root: the MIR-1K folder (holding ``Wavfile/`` and ``PitchLabel/``).
        split: ``"train"``, ``"test"`` or ``None`` (all clips, each tagged with its split).
        seed: split seed (int).
        test_fraction: share of singers (in expectation) put in the test split, in [0, 1].
        with_f0: read ``PitchLabel/*.pv`` (default). ``False`` gives separation-only examples
            (``has_f0`` False) and needs no label files.
        on_error: ``"raise"`` (default) or ``"skip"`` (log a warning and leave the clip out).
        max_label_shortfall_s: seconds the label may stop before the audio's last grid frame.
        max_label_excess_s: seconds the label may run past the audio's last grid frame (cropped).
    """
    check_split(split)
    check_on_error(on_error)
    root = Path(root)
    clips = _clips(root)
    if split is not None:
        clips = [c for c in clips if assign_split(singer_of(c), seed=seed, test_fraction=test_fraction) == split]

    def build(clip: str) -> dict:
        wav = root / "Wavfile" / f"{clip}.wav"
        audio, sr = read_audio(wav, channels=2)
        accompaniment, vocals = audio[0:1], audio[1:2]
        f0 = None
        if with_f0:
            f0 = mir1k_f0_on_grid(
                root / "PitchLabel" / f"{clip}.pv",
                audio.shape[1],
                sr,
                max_label_shortfall_s=max_label_shortfall_s,
                max_label_excess_s=max_label_excess_s,
            )
        return make_example(
            id=clip,
            corpus=CORPUS,
            split=assign_split(singer_of(clip), seed=seed, test_fraction=test_fraction),
            mixture=accompaniment + vocals,  # 0 dB mix: plain sum
            vocals=vocals,
            sampling_rate=sr,
            f0_hz=f0,
            licence=LICENCE,
        )

    yield from guarded(clips, build, on_error, logger)


def load_mir1k(
    root,
    split: str | None = None,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    with_f0: bool = True,
    on_error: str = "raise",
    max_label_shortfall_s: float = DEFAULT_MAX_LABEL_SHORTFALL_S,
    max_label_excess_s: float = DEFAULT_MAX_LABEL_EXCESS_S,
    cache_dir=None,
    keep_in_memory: bool = False,
):
    """MIR-1K as a ``datasets.Dataset`` (one ``split``) or ``DatasetDict`` (``train``/``test``).

    Same arguments as :func:`iter_mir1k`, plus ``cache_dir`` (the ``datasets`` cache folder,
    default ``~/.cache/huggingface/datasets``) and ``keep_in_memory``. Needs the ``train`` extra.
    """
    check_split(split)
    check_on_error(on_error)
    root = Path(root).resolve()
    clips = _clips(root)
    kwargs = dict(
        root=str(root),
        seed=seed,
        test_fraction=test_fraction,
        with_f0=with_f0,
        on_error=on_error,
        max_label_shortfall_s=max_label_shortfall_s,
        max_label_excess_s=max_label_excess_s,
    )
    paths = [root / "Wavfile" / f"{c}.wav" for c in clips] + [root / "PitchLabel" / f"{c}.pv" for c in clips]
    return build_dataset(
        CORPUS,
        kwargs,
        split=split,
        splits=("train", "test"),
        fingerprint=files_fingerprint(paths),
        cache_dir=cache_dir,
        keep_in_memory=keep_in_memory,
    )
