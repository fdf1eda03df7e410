"""The voicing decision: which pitch frames carry a sung pitch, from all the evidence the cascade has.

The paper's rule (MAJL_SPEC §1: a frame is voiced iff the pitch estimator's peak activation is
``>= 0.5``) sees only the pitch estimator, which reports a confident pitch on any periodic sound —
a violin, a piano, an organ note leaking into the separated vocals. The separator knows better where
the voice is, and time knows that a sung note lasts. Evidence per pitch frame (arrays of length T on
the pitch estimator's grid, frame t centred at ``t · frame_period_s``), gathered in
:class:`VoicingEvidence`:

- ``confidence``: the peak activation (``activations.amax(-1)``), in [0, 1];
- ``vocals_db``: the separated vocals' level (frame RMS, dBFS) on the same frames;
- ``mixture_db``: the mixture's level on the same frames, hence the vocal-to-mixture ratio
  ``ratio_db = vocals_db − mixture_db`` (level-independent: a song played 20 dB quieter has the
  same ratio);
- the frame period, for the rules that reason in seconds (continuity over time).

Each rule is a small documented object (torchcrepe ``threshold.py`` style): construct it with its
parameters (validated, with a clear error), call it on the evidence, get a boolean mask (T,).
Rules compose: ``All(a, b)`` (or ``a & b``) is voiced where every part is, ``MinDuration`` and
``FillGaps`` clean another rule's runs in time. ``decide_voicing(evidence, rule)`` checks and
applies one; :data:`DEFAULT_VOICING` is the measured default (see its comment and
``scripts/measure_voicing.py``); ``PAPER_VOICING = PeakThreshold(0.5)`` is the paper's rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "All",
    "DEFAULT_VOICING",
    "FillGaps",
    "Hysteresis",
    "MinDuration",
    "PAPER_VOICING",
    "PeakThreshold",
    "ViterbiVoicing",
    "VocalEnergyGate",
    "VoicingEvidence",
    "VoicingRule",
    "decide_voicing",
    "level_skip",
    "runs",
    "skippable_frames",
]


def _number(name: str, value, lo: float | None = None, hi: float | None = None, *, lo_open=False, hi_open=False):
    """``value`` as a float, or a ValueError naming the parameter and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    if lo is not None:
        bad |= v <= lo if lo_open else v < lo
    if hi is not None:
        bad |= v >= hi if hi_open else v > hi
    if bad:
        lo_s = "" if lo is None else f"{'(' if lo_open else '['}{lo}"
        hi_s = "" if hi is None else f"{hi}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must be a finite number in {lo_s or '(-inf'}, {hi_s or 'inf)'}, got {value!r}")
    return v


def _array(name: str, x, n: int | None = None) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().float().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per frame), got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} frames, confidence has {n}")
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN")
    return a


@dataclass(frozen=True)
class VoicingEvidence:
    """What the cascade knows about each pitch frame (all arrays (T,), same frames).

    Args:
        confidence: peak activation of the pitch estimator per frame, in [0, 1].
        vocals_db: separated vocals' frame RMS level in dBFS (``-inf``/very low for silence), or
            ``None`` when unknown (rules that need it then raise).
        mixture_db: the mixture's frame RMS level in dBFS on the same frames, or ``None``.
        frame_period_s: seconds between frames (0.02 on the MAJL grid).
    """

    confidence: np.ndarray
    vocals_db: np.ndarray | None = None
    mixture_db: np.ndarray | None = None
    frame_period_s: float = 0.02

    def __post_init__(self):
        conf = _array("confidence", self.confidence)
        if conf.size and (conf.min() < 0 or conf.max() > 1):
            raise ValueError(f"confidence must lie in [0, 1], got values in [{conf.min():.3g}, {conf.max():.3g}]")
        object.__setattr__(self, "confidence", conf)
        for name in ("vocals_db", "mixture_db"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _array(name, value, conf.shape[0]))
        _number("frame_period_s", self.frame_period_s, 0.0, lo_open=True)

    @property
    def num_frames(self) -> int:
        return int(self.confidence.shape[0])

    @property
    def ratio_db(self) -> np.ndarray:
        """Vocal-to-mixture level ratio per frame (dB): ``vocals_db − mixture_db``."""
        if self.vocals_db is None or self.mixture_db is None:
            raise ValueError("the vocal-to-mixture ratio needs both vocals_db and mixture_db in the evidence")
        with np.errstate(invalid="ignore"):
            ratio = self.vocals_db - self.mixture_db
        return np.where(np.isnan(ratio), -np.inf, ratio)  # silent vocals in a silent mixture: no vocals

    @classmethod
    def from_audio(cls, confidence, vocals, mixture, sampling_rate: int, *, pitch_sampling_rate: int = 16000,
                   hop_length: int = 320, frame_length: int = 1024) -> "VoicingEvidence":
        """Evidence from the pitch frames' confidence and the (channels, samples) vocals and mixture at
        ``sampling_rate``: both are downmixed and resampled to the pitch estimator's rate exactly as
        the cascade does (``majl_hf.inference.apply.resample_long``) and measured on the pitch frames
        (``frame_rms_db``: ``frame_length`` samples centred on each frame)."""
        import torch

        from ..inference.apply import frame_rms_db, resample_long

        conf = _array("confidence", confidence)
        levels = []
        for audio in (vocals, mixture):
            x = torch.as_tensor(np.asarray(audio, dtype=np.float32))
            y = resample_long(x, int(sampling_rate), int(pitch_sampling_rate))
            levels.append(frame_rms_db(y, frame_length, hop_length, conf.shape[0]).numpy())
        return cls(conf, levels[0], levels[1], hop_length / pitch_sampling_rate)


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) frame indices of the True runs of a boolean mask."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return edges[0::2], edges[1::2]


class VoicingRule:
    """Base class: ``rule(evidence) -> np.ndarray[bool]`` of shape (T,); ``a & b`` is ``All(a, b)``."""

    #: the decision on frame t depends on the confidence of frame t only (not on its neighbours')
    confidence_local = False

    def __call__(self, evidence: VoicingEvidence) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def skippable(self, evidence: VoicingEvidence) -> np.ndarray | None:
        """Frames this rule calls unvoiced from the levels alone (``evidence.confidence`` unused) and whose
        confidence cannot change its decision on any frame — so the pitch estimator need not run on them
        (:func:`skippable_frames`); ``None``: none known. Frame-wise in the levels: frame t's answer
        depends on the levels of frame t only (the streamed path asks block by block)."""
        return None

    def __and__(self, other: "VoicingRule") -> "All":
        return All(self, other)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(repr(self))


def _check_rule(name: str, rule) -> "VoicingRule":
    if not callable(rule):
        raise ValueError(f"{name} must be a voicing rule (callable on VoicingEvidence), got {rule!r}")
    return rule


class PeakThreshold(VoicingRule):
    """Voiced where the pitch estimator's peak activation is ``>= threshold``.

    ``PeakThreshold(0.5)`` is the MAJL paper's rule (MAJL_SPEC §1; :data:`PAPER_VOICING`), equal to
    ``decode_f0(..., threshold=0.5)``'s ``voiced``. It sees only the pitch estimator: any periodic
    instrument leaking into the vocals is voiced too (the instrumental MusicDelta_Beethoven excerpt).
    """

    confidence_local = True

    def __init__(self, threshold: float = 0.5):
        self.threshold = _number("threshold", threshold, 0.0, 1.0)

    def __call__(self, evidence: VoicingEvidence) -> np.ndarray:
        return evidence.confidence >= self.threshold


class Hysteresis(VoicingRule):
    """Voiced: every run of frames whose peak activation stays ``>= off`` and that reaches ``on``
    somewhere (``off <= on``; non-causal, so a note's rising onset is voiced too): a sung note
    whose confidence dips during vibrato, a consonant or a
    breathy onset keeps its voicing, and isolated blips between ``off`` and ``on`` stay unvoiced.

    Default ``on=0.5`` (the paper's threshold: no run is voiced that the paper's rule would not
    start) and ``off=0.3`` (CREPE's peak on digital silence and white noise stays below ~0.2 on
    almost every frame). Measured (``scripts/measure_voicing.py``): it raises voicing recall a
    little but also voices the reverberant tails of sung phrases that annotations call unvoiced, so
    it is an option, not part of :data:`DEFAULT_VOICING`.
    """

    def __init__(self, on: float = 0.5, off: float = 0.3):
        self.on = _number("on", on, 0.0, 1.0)
        self.off = _number("off", off, 0.0, 1.0)
        if self.off > self.on:
            raise ValueError(f"Hysteresis needs off <= on, got on={on!r}, off={off!r}")

    def __call__(self, evidence: VoicingEvidence) -> np.ndarray:
        conf = evidence.confidence
        starts, ends = runs(conf >= self.off)
        on_idx = np.flatnonzero(conf >= self.on)
        out = np.zeros(conf.shape[0], dtype=bool)
        if starts.size and on_idx.size:
            k = np.searchsorted(on_idx, starts)  # first frame reaching `on` at or after each run's start
            has_on = (k < on_idx.size) & (on_idx[np.minimum(k, on_idx.size - 1)] < ends)
            for s, e in zip(starts[has_on], ends[has_on]):
                out[s:e] = True
        return out


class VocalEnergyGate(VoicingRule):
    """Voiced only where the separated vocals are really there: their level is at least
    ``min_ratio_db`` relative to the mixture's on the same frame, and at least ``floor_db`` dBFS.

    Defaults, chosen to be far from anything sung rather than tuned to an excerpt:

    - ``min_ratio_db=-15``: a lead vocal sits within ~10 dB of its mix's level while singing
      (vocal-to-mixture RMS of the separated vocals on the sung frames of the MedleyDB 80sRock
      mixture: median −3.4 dB, 5th percentile −11.5 dB; MIR-1K mixes are 0 dB vocal-to-accompaniment
      by construction); a voice 15 dB below the mixture carries 3 % of its energy and is masked by
      it. What the separator leaves in the vocals of music without voice sits far lower (median
      −67 dB on the instrumental MusicDelta_Beethoven excerpt, −68 dB on MIR-1K amy_3_01's
      accompaniment-only start). ``None`` disables the ratio test.
    - ``floor_db=-80``: below any sung signal at any sane level (singing at −40 dB gain is still
      around −60 dBFS) and above 16-bit dither/quantisation noise (≈ −96 dBFS); digital silence
      (−200 dBFS from ``frame_rms_db``'s clamp) is never voiced. ``None`` disables it.
    """

    def __init__(self, min_ratio_db: float | None = -15.0, floor_db: float | None = -80.0):
        self.min_ratio_db = None if min_ratio_db is None else _number("min_ratio_db", min_ratio_db, -200.0, 40.0)
        self.floor_db = None if floor_db is None else _number("floor_db", floor_db, -200.0, 0.0)
        if self.min_ratio_db is None and self.floor_db is None:
            raise ValueError("VocalEnergyGate needs min_ratio_db or floor_db (both None gates nothing)")

    def __call__(self, evidence: VoicingEvidence) -> np.ndarray:
        if evidence.vocals_db is None:
            raise ValueError("VocalEnergyGate needs vocals_db in the evidence (the separated vocals' frame levels)")
        out = np.ones(evidence.num_frames, dtype=bool)
        if self.floor_db is not None:
            out &= evidence.vocals_db >= self.floor_db
        if self.min_ratio_db is not None:
            out &= evidence.ratio_db >= self.min_ratio_db
        return out

    confidence_local = True  # it does not look at the confidence at all

    def skippable(self, evidence: VoicingEvidence) -> np.ndarray | None:
        """Every frame it gates: its decision there is unvoiced whatever the pitch estimator says."""
        return ~self(evidence)


class ViterbiVoicing(VoicingRule):
    """Two-state (unvoiced/voiced) Viterbi path, as pYIN's voicing: each frame's evidence for
    "voiced" is the log-odds ``logit(confidence) − logit(threshold)`` (positive above
    ``threshold``), and every switch between the states costs ``log((1 − p) / p)`` with
    ``p = switch_prob``. A short dip or blip flips the state only if its summed log-odds outweigh
    two switches. ``gate`` (optional rule, e.g. :class:`VocalEnergyGate`) forces its False frames
    unvoiced before the path is found, so the path never bridges across them.

    Defaults: ``threshold=0.5`` (the paper's), ``switch_prob=0.01`` (pYIN's voicing switch
    probability per 10 ms frame; per 20 ms frame it still means ~1 change of state per second of
    singing, slower than any syllable rate is fast).
    """

    def __init__(self, threshold: float = 0.5, switch_prob: float = 0.01, gate: VoicingRule | None = None):
        self.threshold = _number("threshold", threshold, 0.0, 1.0, lo_open=True, hi_open=True)
        self.switch_prob = _number("switch_prob", switch_prob, 0.0, 0.5, lo_open=True, hi_open=True)
        self.gate = None if gate is None else _check_rule("gate", gate)

    def __call__(self, evidence: VoicingEvidence) -> np.ndarray:
        eps = 1e-6
        c = np.clip(evidence.confidence, eps, 1 - eps)
        t = self.threshold
        llr = np.log(c / (1 - c)) - math.log(t / (1 - t))  # voiced minus unvoiced emission, per frame
        if self.gate is not None:
            llr = np.where(np.asarray(self.gate(evidence), dtype=bool), llr, -np.inf)
        return _two_state_path(llr, math.log((1 - self.switch_prob) / self.switch_prob))

    def skippable(self, evidence: VoicingEvidence) -> np.ndarray | None:
        """The gate's skippable frames: the path sees −inf there whatever their confidence."""
        return None if self.gate is None else skippable_frames(self.gate, evidence)


def _two_state_path(llr: np.ndarray, switch_cost: float) -> np.ndarray:
    """Most likely voiced/unvoiced path: maximise Σ llr over voiced frames − switch_cost × switches."""
    n = llr.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    # forward recursion on scores relative to the unvoiced state (u ≡ 0): v = voiced − unvoiced
    back_v = np.zeros(n, dtype=bool)  # voiced at t came from voiced at t−1
    back_u = np.zeros(n, dtype=bool)  # unvoiced at t came from voiced at t−1
    u, v = 0.0, float(llr[0])
    values = llr.tolist()
    for t in range(1, n):
        stay_v, from_u = v, u - switch_cost
        stay_u, from_v = u, v - switch_cost
        bv, bu = stay_v >= from_u, from_v > stay_u
        nv = (stay_v if bv else from_u) + values[t]
        nu = from_v if bu else stay_u
        back_v[t], back_u[t] = bv, bu
        u, v = 0.0, nv - nu  # renormalise to keep numbers small
    out = np.empty(n, dtype=bool)
    state = v > u
    for t in range(n - 1, -1, -1):
        out[t] = state
        state = back_v[t] if state else back_u[t]
    return out


class All(VoicingRule):
    """Voiced where every one of ``rules`` says voiced (frame-wise AND)."""

    def __init__(self, *rules: VoicingRule):
        if not rules:
            raise ValueError("All needs at least one rule")
        self.rules = tuple(_check_rule(f"rules[{i}]", r) for i, r in enumerate(rules))

    def __call__(self, evidence: VoicingEvidence) -> np.ndarray:
        out = np.ones(evidence.num_frames, dtype=bool)
        for rule in self.rules:
            out &= np.asarray(rule(evidence), dtype=bool)
        return out

    def __repr__(self) -> str:
        return f"All({', '.join(map(repr, self.rules))})"

    @property
    def confidence_local(self) -> bool:
        return all(getattr(r, "confidence_local", False) for r in self.rules)

    def skippable(self, evidence: VoicingEvidence) -> np.ndarray | None:
        """The frames any part rules out from the levels (AND: unvoiced there), provided no part looks at
        their confidence to decide another frame: each part is confidence-local or skips them too."""
        masks = [skippable_frames(r, evidence) for r in self.rules]
        union = None
        for m in masks:
            if m is not None:
                union = m.copy() if union is None else union | m
        if union is None or not union.any():
            return union
        for rule, m in zip(self.rules, masks):
            if not getattr(rule, "confidence_local", False) and (m is None or (union & ~m).any()):
                return None
        return union


class MinDuration(VoicingRule):
    """``rule``'s voicing without its voiced runs shorter than ``seconds``.

    Default ``0.06`` s (3 frames of 20 ms): shorter than any sung note or syllable (sung syllables
    last ≳ 100 ms; even fast melismatic notes ≳ 80 ms), longer than the isolated one- and two-frame
    blips a pitch estimator gives on transients and leakage.
    """

    def __init__(self, seconds: float = 0.06, rule: VoicingRule | None = None):
        self.seconds = _number("seconds", seconds, 0.0, 10.0)
        self.rule = PeakThreshold() if rule is None else _check_rule("rule", rule)

    def __call__(self, evidence: VoicingEvidence) -> np.ndarray:
        mask = np.array(self.rule(evidence), dtype=bool)
        min_frames = self.seconds / evidence.frame_period_s - 1e-9
        starts, ends = runs(mask)
        for s, e in zip(starts, ends):
            if e - s < min_frames:
                mask[s:e] = False
        return mask

    def skippable(self, evidence: VoicingEvidence) -> np.ndarray | None:
        """The inner rule's: removing short runs only reads the inner decision, unvoiced on them."""
        return skippable_frames(self.rule, evidence)


class FillGaps(VoicingRule):
    """``rule``'s voicing with unvoiced gaps of at most ``seconds`` between two voiced runs filled
    (a glottal stop or a short consonant inside a phrase does not split the note). Default 0.04 s
    (2 frames): shorter than any rest a singer takes between notes."""

    def __init__(self, seconds: float = 0.04, rule: VoicingRule | None = None):
        self.seconds = _number("seconds", seconds, 0.0, 10.0)
        self.rule = PeakThreshold() if rule is None else _check_rule("rule", rule)

    def __call__(self, evidence: VoicingEvidence) -> np.ndarray:
        mask = np.array(self.rule(evidence), dtype=bool)
        max_frames = self.seconds / evidence.frame_period_s + 1e-9
        starts, ends = runs(~mask)
        for s, e in zip(starts, ends):
            if s > 0 and e < mask.shape[0] and e - s <= max_frames:
                mask[s:e] = True
        return mask


PAPER_VOICING = PeakThreshold(0.5)
# The measured default (scripts/measure_voicing.py): the paper's peak threshold, only where the separated
# vocals are within 15 dB of the mixture and above -80 dBFS, without runs shorter than 60 ms. Hysteresis
# (off=0.3) and the two-state path were measured too: on the labelled mixture they voice more of the
# reverberant tails that the annotation calls unvoiced (higher VFA) for no gain in voicing recall.
DEFAULT_VOICING = MinDuration(0.06, All(PeakThreshold(0.5), VocalEnergyGate(-15.0, -80.0)))


def skippable_frames(rule, evidence: VoicingEvidence) -> np.ndarray | None:
    """``rule.skippable(evidence)`` checked: a boolean (T,) mask of the frames the pitch estimator need not
    run on (the rule calls them unvoiced from the levels alone and never reads their confidence), or
    ``None`` (plain callables and rules that cannot tell)."""
    method = getattr(rule, "skippable", None)
    mask = None if method is None else method(evidence)
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (evidence.num_frames,):
        raise ValueError(f"rule {rule!r} gave skippable frames of shape {mask.shape}, "
                         f"expected ({evidence.num_frames},)")
    return mask


def level_skip(rule, frame_period_s: float):
    """``skip(vocals_db, mixture_db) -> mask | None``: :func:`skippable_frames` of ``rule`` from frame levels
    alone (the cascade's pitch paths call it before running the pitch estimator)."""

    def skip(vocals_db, mixture_db) -> np.ndarray | None:
        vocals_db = np.asarray(vocals_db, dtype=np.float64)
        ev = VoicingEvidence(np.zeros(vocals_db.shape[0]), vocals_db, mixture_db, frame_period_s)
        return skippable_frames(rule, ev)

    return skip


def decide_voicing(evidence: VoicingEvidence, rule: VoicingRule | None = None) -> np.ndarray:
    """Apply ``rule`` (default :data:`DEFAULT_VOICING`) to ``evidence``: a boolean mask (T,)."""
    if not isinstance(evidence, VoicingEvidence):
        raise ValueError(f"evidence must be a VoicingEvidence, got {type(evidence).__name__}")
    rule = DEFAULT_VOICING if rule is None else _check_rule("rule", rule)
    mask = np.asarray(rule(evidence))
    if mask.shape != (evidence.num_frames,):
        raise ValueError(f"rule {rule!r} returned shape {mask.shape}, expected ({evidence.num_frames},)")
    return mask.astype(bool, copy=False)
