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

Split (``split_by``), both 80/20 and the same on every machine:

- ``"singer"`` (the default): by singer (the ``<singer>`` part of the file name), with
  :func:`~majl_hf.data.base.assign_split` (sha256 of ``"<seed>:<singer>"``): no singer is in both
  splits (leak-free); with 19 singers the realised test share varies with the seed (3–5 singers).
- ``"clip"``: the MAJL paper's split, 80/20 at random over clips
  (:func:`~majl_hf.data.base.split_at_random`: exactly ``round(0.2 · n)`` test clips, seeded); a
  singer is usually on both sides. The Table 5 configurations use this one.

The ``.pv`` reader (:func:`read_mir1k_pv`) lives here; ``majl_hf.pitch`` re-exports it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from ..pitch.convert import midi_to_hz
from ..pitch.labels import frame_times, resample_f0
from .base import CorpusError, assign_split, check_split_by, grid_times, make_example, read_audio, split_at_random
from .corpus import Corpus

logger = logging.getLogger(__name__)

CORPUS = "mir1k"
LICENCE = "MIR-1K: no licence stated; research use (NTHU/NTU MIR Lab)"
MIR1K_SAMPLING_RATE = 16000  # Hz
MIR1K_HOP_S = 0.02  # s: MIR-1K label hop
MIR1K_FIRST_CENTRE_S = 0.02  # s: frame i covers [0.02 i, 0.02 i + 0.04], centre 0.02 i + 0.02
DEFAULT_MAX_LABEL_SHORTFALL_S = 0.2  # s: .pv may stop this much before the last grid frame
DEFAULT_MAX_LABEL_EXCESS_S = 2.5  # s: .pv may run this much past the last grid frame (cropped)


def read_mir1k_pv(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a MIR-1K ``PitchLabel/*.pv`` file: one MIDI semitone per 20 ms frame, ``0`` = unvoiced.

    Returns ``(times_s, f0_hz)`` at the frame centres (0.02·i + 0.02 s). Raises
    ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file and line on a
    malformed value.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MIR-1K pitch label not found: {path}")
    values = []
    for lineno, line in enumerate(path.read_text(encoding="ascii", errors="strict").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            v = float(line)
        except ValueError:
            raise ValueError(f"{path}:{lineno}: expected a MIDI semitone number, got {line!r}") from None
        if not np.isfinite(v) or v < 0 or v > 127:
            raise ValueError(f"{path}:{lineno}: semitone {v} outside 0..127 (0 = unvoiced)")
        values.append(v)
    if not values:
        raise ValueError(f"{path}: empty pitch label file")
    semis = np.asarray(values)
    return frame_times(len(semis), MIR1K_HOP_S, MIR1K_FIRST_CENTRE_S), midi_to_hz(semis)


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
    if label_end > audio_end + MIR1K_HOP_S / 2:
        warnings.warn(
            f"{pv_path}: the pitch label runs to {label_end:.2f} s, {label_end - audio_end:.2f} s past the audio's "
            f"last frame at {audio_end:.2f} s; the excess is cropped (is the audio file complete?)",
            stacklevel=2,
        )
    # exact frame mapping: .pv frame i (centre 0.02 i + 0.02) -> grid frame i + 1; nothing farther
    # than half a hop from a label frame is voiced (grid frame 0 and frames past the label's end)
    return resample_f0(times_src, f0_src, times_dst, max_gap_s=0.5 * MIR1K_HOP_S + 1e-6)


class MIR1K(Corpus):
    """MIR-1K (module docstring): one example per ``Wavfile/*.wav`` clip, in file-name order.

    Args:
        root: the MIR-1K folder (holding ``Wavfile/`` and ``PitchLabel/``).
        split: ``"train"``, ``"test"`` or ``None`` (all clips, each tagged with its split).
        split_by: ``"singer"`` (default; leak-free, no singer in both splits) or ``"clip"`` (the
            paper's 80/20 at random over clips).
        seed: split seed (int).
        test_fraction: share put in the test split, in [0, 1] (of singers in expectation with
            ``"singer"``, of clips exactly with ``"clip"``).
        with_f0: read ``PitchLabel/*.pv`` (default). ``False`` gives separation-only examples
            (``has_f0`` False) and needs no label files.
        on_error: ``"raise"`` (default) or ``"skip"`` (log a warning and leave the clip out).
        max_label_shortfall_s: seconds the label may stop before the audio's last grid frame.
        max_label_excess_s: seconds the label may run past the audio's last grid frame (cropped).
    """

    name = CORPUS
    display_name = "MIR-1K"
    licence = LICENCE
    labels = frozenset({"vocals", "f0"})

    def __init__(
        self,
        root,
        *,
        split: str | None = None,
        split_by: str = "singer",
        seed: int = 0,
        test_fraction: float = 0.2,
        with_f0: bool = True,
        on_error: str = "raise",
        max_label_shortfall_s: float = DEFAULT_MAX_LABEL_SHORTFALL_S,
        max_label_excess_s: float = DEFAULT_MAX_LABEL_EXCESS_S,
    ):
        check_split_by(split_by)
        if not 0.0 <= test_fraction <= 1.0:
            raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
        self.split_by = split_by
        self.seed = int(seed)
        self.test_fraction = float(test_fraction)
        self.with_f0 = bool(with_f0)
        self.max_label_shortfall_s = float(max_label_shortfall_s)
        self.max_label_excess_s = float(max_label_excess_s)
        super().__init__(root, split=split, on_error=on_error)

    def splits_of(self, clips: list[str]) -> dict[str, str]:
        """``{clip: split}`` under this instance's ``split_by`` / ``seed`` / ``test_fraction``."""
        if self.split_by == "clip":
            return split_at_random(clips, seed=self.seed, test_fraction=self.test_fraction)
        return {c: assign_split(singer_of(c), seed=self.seed, test_fraction=self.test_fraction) for c in clips}

    def _items(self):
        clips = _clips(self.root)
        splits = self.splits_of(clips)  # over every clip on disk, whatever the selected split
        return [(c, splits[c]) for c in clips if self.split is None or splits[c] == self.split]

    def _build(self, item) -> dict:
        clip, clip_split = item
        audio, sr = read_audio(self.root / "Wavfile" / f"{clip}.wav", channels=2)
        accompaniment, vocals = audio[0:1], audio[1:2]
        f0 = None
        if self.with_f0:
            f0 = mir1k_f0_on_grid(
                self.root / "PitchLabel" / f"{clip}.pv",
                audio.shape[1],
                sr,
                max_label_shortfall_s=self.max_label_shortfall_s,
                max_label_excess_s=self.max_label_excess_s,
            )
        return make_example(
            id=clip,
            corpus=CORPUS,
            split=clip_split,
            mixture=accompaniment + vocals,  # 0 dB mix: plain sum
            vocals=vocals,
            sampling_rate=sr,
            f0_hz=f0,
            licence=LICENCE,
        )

    def files(self) -> list[Path]:
        clips = _clips(self.root)
        out = [self.root / "Wavfile" / f"{c}.wav" for c in clips]
        if self.with_f0:
            out += [self.root / "PitchLabel" / f"{c}.pv" for c in clips]
        return out


iter_mir1k = MIR1K.iterate  # the function forms of before: iter_mir1k(root, split, **options)
load_mir1k = MIR1K.load
