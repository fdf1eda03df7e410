"""Separation metrics for the vocal estimate: BSS Eval SDR, energy-ratio SDR, NSDR, GNSDR, museval SDR.

Audio arrays are ``(channels, samples)`` or ``(samples,)`` (mono), any channel count, any sampling rate
(BSS Eval has no notion of rate; only :func:`museval_sdr` needs one to size its windows). Arrays read
with ``soundfile`` are ``(samples, channels)``: pass ``x.T``. A 2-D array with more channels than
samples is refused as a likely transposition.

Every per-clip function returns a score object instead of a bare float, because some clips have no
defined SDR (MAJL spec §5): a clip whose reference vocals are silent is reported with
``status="silent_reference"`` and ``sdr=None`` (never 0, never ±inf), and the aggregation functions
(:func:`gsdr`, :func:`gnsdr`, :func:`museval_median_sdr`) skip such clips and say how many they
skipped and why.

Statuses
--------
``"ok"``                a number was computed.
``"silent_reference"``  the reference vocals are silent (RMS ≤ ``silent_rms``): SDR is undefined.
``"silent_estimate"``   BSS Eval only: the estimate is all zeros, so the projection SDR is -inf
                        (mir_eval/museval refuse such input; mir_eval also refuses a signal whose
                        channels cancel in every sample, L = -R, and that is reported the same way,
                        for the reference too, with mir_eval's message as the reason).
                        The energy-ratio SDR of a zero estimate
                        is well defined (0 dB) and is computed. Reports must show this count, since a
                        model that outputs silence would otherwise escape the mean.
``"silent_mixture"``    NSDR only: the mixture is silent, so SDR(x, s) is undefined.
``"perfect_estimate"``  the error signal is exactly zero: SDR is +inf. Pass ``eps > 0`` to
                        :func:`energy_ratio_sdr` for a finite value.

mir_eval's ``separation`` module is deprecated since mir_eval 0.8 and announced for removal in 0.9;
its FutureWarning is silenced here. The numbers are BSS Eval v3 (Vincent et al. 2006).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import sys
import warnings
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..utils import check_choice, require
from .pitch import real_float64

SILENT_RMS = 1e-8  # linear full-scale amplitude: a reference at or below this RMS is "silent"
MUSEVAL_WIN_S = 1.0  # s: museval / SiSEC window
MUSEVAL_HOP_S = 1.0  # s: museval / SiSEC hop

STATUS_OK = "ok"
STATUS_SILENT_REFERENCE = "silent_reference"
STATUS_SILENT_ESTIMATE = "silent_estimate"
STATUS_SILENT_MIXTURE = "silent_mixture"
STATUS_PERFECT_ESTIMATE = "perfect_estimate"

_BSS_MODES = ("auto", "sources", "images")
_NSDR_METHODS = ("bss_eval", "energy_ratio")


# --------------------------------------------------------------------------------------------------
# score objects


class _Scored:
    """What every score object has: ``ok`` (``status == "ok"``) and ``to_dict()``."""

    __slots__ = ()

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SdrScore(_Scored):
    """SDR of one clip, or the reason there is none.

    Attributes:
        sdr: SDR in dB, ``None`` unless ``status == "ok"``.
        status: see the module docstring.
        n_samples: samples per channel that were compared (the weight in :func:`gsdr`).
        method: ``"bss_eval_sources"``, ``"bss_eval_images"`` or ``"energy_ratio"``.
        reason: a sentence explaining a non-``"ok"`` status.
    """

    sdr: float | None
    status: str = STATUS_OK
    n_samples: int = 0
    method: str = ""
    reason: str | None = None


@dataclass(frozen=True)
class NsdrScore(_Scored):
    """NSDR of one clip: ``nsdr = sdr - sdr_mixture`` (dB), or the reason there is none.

    Attributes:
        nsdr: SDR(ŝ, s) − SDR(x, s) in dB, ``None`` unless ``status == "ok"``.
        sdr: SDR(ŝ, s) in dB (``None`` when undefined).
        sdr_mixture: SDR(x, s) in dB, the mixture taken as the estimate (``None`` when undefined).
        status, n_samples, method, reason: as in :class:`SdrScore`.
    """

    nsdr: float | None
    sdr: float | None
    sdr_mixture: float | None
    status: str = STATUS_OK
    n_samples: int = 0
    method: str = ""
    reason: str | None = None


@dataclass(frozen=True)
class MusevalScore(_Scored):
    """museval-style (BSS Eval v4, framewise) scores of one target of one track.

    Attributes:
        target: the source name (``"vocals"``, ``"accompaniment"``…).
        sdr: median over windows of the per-window SDR (dB), NaN windows ignored, as museval's
            aggregation does; ``None`` if the target has no score.
        isr, sir, sar: the same medians for ISR, SIR, SAR.
        frames: per-window values, ``{"SDR": [...], "SIR": [...], "SAR": [...], "ISR": [...]}``;
            ``None`` marks a window where some reference or estimate was silent (museval's NaN).
        win_s, hop_s: window and hop in seconds.
        n_frames: number of windows; n_nan_frames: how many had no value.
        status, n_samples, reason: as in :class:`SdrScore`.
    """

    target: str
    sdr: float | None
    isr: float | None = None
    sir: float | None = None
    sar: float | None = None
    frames: dict = field(default_factory=dict)
    win_s: float = MUSEVAL_WIN_S
    hop_s: float = MUSEVAL_HOP_S
    n_frames: int = 0
    n_nan_frames: int = 0
    status: str = STATUS_OK
    n_samples: int = 0
    reason: str | None = None


# --------------------------------------------------------------------------------------------------
# input checks


def _as_audio(x, name: str) -> np.ndarray:
    """``x`` as float64 ``(channels, samples)``; ValueError naming ``name`` on anything else."""
    arr = real_float64(x, name, "an audio array of shape (channels, samples) or (samples,)")
    if arr.ndim == 1:
        arr = arr[None, :]
    elif arr.ndim != 2:
        raise ValueError(f"{name} must have shape (channels, samples) or (samples,), got shape {arr.shape}")
    if arr.shape[1] == 0 or arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.shape[0] > arr.shape[1]:
        raise ValueError(
            f"{name} has shape {arr.shape}: more channels than samples. Arrays are (channels, samples); "
            f"if it came from soundfile as (samples, channels), pass {name}.T"
        )
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {n_bad} NaN or Inf value(s); clean or clip the signal first")
    return arr


def _match(arrays: Mapping[str, np.ndarray], allow_length_mismatch: bool) -> dict[str, np.ndarray]:
    """Check channel counts agree and lengths agree (or crop all to the shortest, with a warning)."""
    names = list(arrays)
    channels = {n: a.shape[0] for n, a in arrays.items()}
    if len(set(channels.values())) > 1:
        desc = ", ".join(f"{n}: {c}" for n, c in channels.items())
        raise ValueError(f"channel counts differ ({desc}); give every signal the same channel layout")
    lengths = {n: a.shape[1] for n, a in arrays.items()}
    if len(set(lengths.values())) == 1:
        return dict(arrays)
    desc = ", ".join(f"{n}: {L}" for n, L in lengths.items())
    if not allow_length_mismatch:
        raise ValueError(
            f"lengths differ ({desc} samples). Align the signals, or pass allow_length_mismatch=True "
            "to crop all of them to the shortest"
        )
    shortest = min(lengths.values())
    warnings.warn(f"lengths differ ({desc} samples); cropping {', '.join(names)} to {shortest} samples", stacklevel=3)
    return {n: a[:, :shortest] for n, a in arrays.items()}


def _check_silent_rms(silent_rms: float):
    if not (isinstance(silent_rms, (int, float)) and math.isfinite(silent_rms) and silent_rms >= 0):
        raise ValueError(f"silent_rms must be a finite number >= 0, got {silent_rms!r}")


def is_silent(audio, silent_rms: float = SILENT_RMS) -> bool:
    """True when the RMS of ``audio`` over all channels and samples is ≤ ``silent_rms`` (linear)."""
    _check_silent_rms(silent_rms)
    arr = _as_audio(audio, "audio")
    return _rms(arr) <= silent_rms


def _rms(arr: np.ndarray) -> float:
    return float(np.sqrt(np.mean(arr * arr)))


def _finite_or_status(value: float, n_samples: int, method: str) -> SdrScore:
    """An ``"ok"`` score for a finite value; ±inf/NaN become the status that explains them."""
    if value == math.inf:
        return SdrScore(
            None,
            STATUS_PERFECT_ESTIMATE,
            n_samples,
            method,
            "the estimate equals the reference (zero error), so SDR is +inf",
        )
    if value == -math.inf or math.isnan(value):
        return SdrScore(
            None,
            STATUS_SILENT_ESTIMATE,
            n_samples,
            method,
            "the estimate has no component along the reference, so SDR is -inf",
        )
    return SdrScore(float(value), STATUS_OK, n_samples, method)


def _silent_reference(n_samples: int, method: str, silent_rms: float, rms: float) -> SdrScore:
    return SdrScore(
        None,
        STATUS_SILENT_REFERENCE,
        n_samples,
        method,
        f"reference vocals are silent (RMS {rms:.3g} <= silent_rms {silent_rms:g}): SDR is undefined",
    )


# --------------------------------------------------------------------------------------------------
# per-clip SDR


def _mir_eval_separation():
    mir_eval = require("mir_eval", "eval")
    try:
        import mir_eval.separation as separation
    except ImportError as err:  # mir_eval >= 0.9 dropped the module
        raise ImportError(
            f"mir_eval {getattr(mir_eval, '__version__', '?')} has no `separation` module (removed in 0.9): "
            "install `pip install 'mir_eval>=0.7,<0.9'`, or use museval_sdr()"
        ) from err
    return separation


def bss_eval_sdr(
    reference,
    estimate,
    *,
    mode: str = "auto",
    allow_length_mismatch: bool = False,
    silent_rms: float = SILENT_RMS,
) -> SdrScore:
    """BSS Eval SDR (dB) of a vocal estimate, computed by ``mir_eval.separation`` on the whole clip.

    Only the vocal source is passed to BSS Eval. The SDR of a source depends on that source's reference
    alone (its projection onto the other references cancels in ŝ − s_target), so adding the
    accompaniment would change SIR/SAR but not this number.

    Args:
        reference: true vocals, ``(channels, samples)`` or ``(samples,)``.
        estimate: estimated vocals, same layout and channel count.
        mode: ``"sources"`` = ``mir_eval.separation.bss_eval_sources`` (mono only; the usual SDR on
            MIR-1K), ``"images"`` = ``bss_eval_images`` (any channel count; the stereo array is one
            source image of shape ``(samples, channels)``), ``"auto"`` = sources for mono, images
            otherwise.
        allow_length_mismatch: crop both to the shorter length (with a warning) instead of raising.
        silent_rms: a reference with RMS at or below this is silent (status ``"silent_reference"``).

    Returns:
        :class:`SdrScore` with ``method`` ``"bss_eval_sources"`` or ``"bss_eval_images"``.

    Raises:
        ValueError: NaN/Inf, bad shape, channel or (unless allowed) length mismatch, bad ``mode``.
    """
    check_choice("mode", mode, _BSS_MODES)
    _check_silent_rms(silent_rms)
    sig = _match(
        {"reference": _as_audio(reference, "reference"), "estimate": _as_audio(estimate, "estimate")},
        allow_length_mismatch,
    )
    ref, est = sig["reference"], sig["estimate"]
    n_channels, n_samples = ref.shape
    if mode == "auto":
        mode = "sources" if n_channels == 1 else "images"
    if mode == "sources" and n_channels != 1:
        raise ValueError(
            f"mode='sources' needs mono signals, got {n_channels} channels: use mode='images' or downmix first"
        )
    method = f"bss_eval_{mode}"
    rms = _rms(ref)
    if rms <= silent_rms:
        return _silent_reference(n_samples, method, silent_rms, rms)
    if not np.any(est):
        return SdrScore(
            None,
            STATUS_SILENT_ESTIMATE,
            n_samples,
            method,
            "the estimate is all zeros: BSS Eval SDR is -inf (mir_eval refuses silent estimates)",
        )
    try:
        value = _bss_eval_value(ref, est, mode)
    except ValueError as err:
        # mir_eval's own silence test sums the channels per sample, so a reference or estimate whose
        # channels cancel exactly (L = -R) is "silent" to it although its RMS is not zero
        message = str(err)
        for status, who in ((STATUS_SILENT_REFERENCE, "reference"), (STATUS_SILENT_ESTIMATE, "estimated")):
            if f"{who} sources should be non-silent" in message:
                return SdrScore(None, status, n_samples, method, f"mir_eval refused the input: {message}")
        raise
    return _finite_or_status(value, n_samples, method)


def _bss_eval_value(ref: np.ndarray, est: np.ndarray, mode: str) -> float:
    separation = _mir_eval_separation()
    with warnings.catch_warnings():
        # "mir_eval.separation.bss_eval_*\n\tDeprecated as of mir_eval version 0.8." (see module doc)
        warnings.filterwarnings("ignore", message=r"mir_eval\.separation", category=FutureWarning)
        if mode == "sources":
            sdr = separation.bss_eval_sources(ref, est, compute_permutation=False)[0]
        else:
            sdr = separation.bss_eval_images(ref.T[None], est.T[None], compute_permutation=False)[0]
    return float(np.asarray(sdr).reshape(-1)[0])


def energy_ratio_sdr(
    reference,
    estimate,
    *,
    eps: float = 0.0,
    allow_length_mismatch: bool = False,
    silent_rms: float = SILENT_RMS,
) -> SdrScore:
    """Plain energy-ratio SDR: ``10·log10((‖s‖² + eps) / (‖s − ŝ‖² + eps))`` in dB, over all channels.

    No projection and no distortion filter (unlike BSS Eval), so it is fast and penalises any gain
    error. ``eps = 0`` gives the closed form exactly; a zero error then yields status
    ``"perfect_estimate"`` (the value would be +inf). A silent estimate gives 0 dB.

    Args and raises: as :func:`bss_eval_sdr`; ``eps`` ≥ 0 is added to both energies.
    """
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    _check_silent_rms(silent_rms)
    sig = _match(
        {"reference": _as_audio(reference, "reference"), "estimate": _as_audio(estimate, "estimate")},
        allow_length_mismatch,
    )
    ref, est = sig["reference"], sig["estimate"]
    n_samples = ref.shape[1]
    rms = _rms(ref)
    if rms <= silent_rms:
        return _silent_reference(n_samples, "energy_ratio", silent_rms, rms)
    num = float(np.sum(ref * ref)) + eps
    err = ref - est
    den = float(np.sum(err * err)) + eps
    if den == 0.0:
        return _finite_or_status(math.inf, n_samples, "energy_ratio")
    return SdrScore(10.0 * math.log10(num / den), STATUS_OK, n_samples, "energy_ratio")


def nsdr(
    reference,
    estimate,
    mixture,
    *,
    method: str = "bss_eval",
    mode: str = "auto",
    allow_length_mismatch: bool = False,
    silent_rms: float = SILENT_RMS,
) -> NsdrScore:
    """Normalised SDR of one clip: ``SDR(ŝ, s) − SDR(x, s)`` in dB (x = mixture, s = true vocals).

    Args:
        reference, estimate, mixture: ``(channels, samples)`` or ``(samples,)``, same channel count.
        method: ``"bss_eval"`` (:func:`bss_eval_sdr`, with ``mode``) or ``"energy_ratio"``.
        allow_length_mismatch: crop all three to the shortest (with a warning) instead of raising.
        silent_rms: see :func:`bss_eval_sdr`.
    """
    check_choice("method", method, _NSDR_METHODS)
    sig = _match(
        {
            "reference": _as_audio(reference, "reference"),
            "estimate": _as_audio(estimate, "estimate"),
            "mixture": _as_audio(mixture, "mixture"),
        },
        allow_length_mismatch,
    )
    if method == "bss_eval":
        score = functools.partial(bss_eval_sdr, mode=mode, silent_rms=silent_rms)
    else:
        score = functools.partial(energy_ratio_sdr, silent_rms=silent_rms)
    est = score(sig["reference"], sig["estimate"])
    n_samples, name = est.n_samples, est.method
    if est.status == STATUS_SILENT_REFERENCE:
        return NsdrScore(None, None, None, est.status, n_samples, name, est.reason)
    mix = score(sig["reference"], sig["mixture"])
    if not np.any(sig["mixture"]):
        return NsdrScore(
            None,
            est.sdr,
            None,
            STATUS_SILENT_MIXTURE,
            n_samples,
            name,
            "the mixture is silent, so SDR(mixture, reference) is undefined",
        )
    if not est.ok:
        return NsdrScore(None, None, mix.sdr, est.status, n_samples, name, est.reason)
    if not mix.ok:  # the mixture equals the reference (no accompaniment): SDR(x, s) = +inf
        return NsdrScore(None, est.sdr, None, mix.status, n_samples, name, "mixture: " + (mix.reason or ""))
    return NsdrScore(est.sdr - mix.sdr, est.sdr, mix.sdr, STATUS_OK, n_samples, name)


# --------------------------------------------------------------------------------------------------
# aggregation over clips


def _value_and_status(item, key: str):
    """(value, status, n_samples) from a score object, a dict, a float or None."""
    if item is None:
        return None, "missing", None
    if isinstance(item, (SdrScore, NsdrScore, MusevalScore)):
        return getattr(item, key), item.status, item.n_samples
    if isinstance(item, Mapping):
        if key not in item:
            raise ValueError(f"score dict has no {key!r} key: {sorted(item)}")
        value = item[key]
        status = item.get("status", STATUS_OK if value is not None else "missing")
        return value, status, item.get("n_samples")
    value = float(item)
    if math.isnan(value):
        return None, "nan", None
    if math.isinf(value):
        raise ValueError(f"an infinite {key} ({value}) cannot be averaged; keep the score object instead")
    return value, STATUS_OK, None


def _weighted_mean(scores: Sequence, lengths, key: str) -> dict:
    scores = list(scores)
    if lengths is not None:
        lengths = [float(w) for w in lengths]
        if len(lengths) != len(scores):
            raise ValueError(f"lengths has {len(lengths)} entries for {len(scores)} scores")
        if any(not math.isfinite(w) or w < 0 for w in lengths):
            raise ValueError("lengths must be finite and >= 0")
    total, weight, used = 0.0, 0.0, 0
    skipped: dict[str, int] = {}
    for i, item in enumerate(scores):
        value, status, n_samples = _value_and_status(item, key)
        if value is None or status != STATUS_OK:
            reason = status if status != STATUS_OK else "missing"
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        if not math.isfinite(float(value)):
            raise ValueError(f"score {i} has a non-finite {key} ({value})")
        w = lengths[i] if lengths is not None else n_samples
        if w is None:
            raise ValueError(f"score {i} carries no length: pass lengths=[...] (samples or seconds per clip)")
        total += float(w) * float(value)
        weight += float(w)
        used += 1
    result = total / weight if weight > 0 else None
    return {
        "value": result,
        "n_clips": len(scores),
        "n_scored": used,
        "n_skipped": len(scores) - used,
        "skipped": skipped,
        "total_length": weight,
    }


def gnsdr(per_clip_nsdr: Sequence, lengths: Sequence | None = None) -> dict:
    """GNSDR (Hsu & Jang 2010): the length-weighted mean of per-clip NSDR, in dB.

    Args:
        per_clip_nsdr: :class:`NsdrScore` objects, dicts with an ``"nsdr"`` key, floats, or ``None``.
        lengths: clip lengths (samples or seconds: only ratios matter). Optional for score objects,
            which carry ``n_samples``.

    Returns:
        ``{"gnsdr": dB or None, "n_clips", "n_scored", "n_skipped", "skipped": {status: count},
        "total_length"}``. Clips without a number (silent reference, …) are skipped and counted.
    """
    out = _weighted_mean(per_clip_nsdr, lengths, "nsdr")
    return {"gnsdr": out.pop("value"), **out}


def gsdr(per_clip_sdr: Sequence, lengths: Sequence | None = None) -> dict:
    """Length-weighted mean SDR over clips (GSDR, the weighting of GNSDR applied to SDR), in dB.

    Accepts :class:`SdrScore` / :class:`NsdrScore` objects (their ``sdr``), dicts with ``"sdr"``,
    floats or ``None``; returns ``{"sdr": dB or None, "n_clips", "n_scored", "n_skipped",
    "skipped", "total_length"}`` like :func:`gnsdr`.
    """
    out = _weighted_mean(per_clip_sdr, lengths, "sdr")
    return {"sdr": out.pop("value"), **out}


# --------------------------------------------------------------------------------------------------
# museval (SiSEC 2018 / MUSDB18 convention)


@functools.lru_cache(maxsize=1)
def _museval_metrics():
    """``museval.metrics`` (BSS Eval v4). Importing the ``museval`` package pulls musdb → stempeg,
    which refuses to import without ffmpeg; the metrics module itself needs only numpy/scipy, so it
    is loaded from its file when the package import fails for that reason."""
    if importlib.util.find_spec("museval") is None:
        require("museval", "eval")  # raises the ImportError that names the extra
    try:
        import museval.metrics as metrics

        return metrics
    except Exception as err:  # noqa: BLE001 - stempeg raises RuntimeError when ffmpeg is missing
        spec = importlib.util.find_spec("museval")
        locations = list(spec.submodule_search_locations or [])
        path = os.path.join(locations[0], "metrics.py") if locations else ""
        if not os.path.isfile(path):
            raise ImportError(f"museval is installed but its metrics module cannot be loaded: {err}") from err
        name = "_majl_hf_museval_metrics"
        file_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(file_spec)
        sys.modules[name] = module
        file_spec.loader.exec_module(module)
        return module


def _as_sources(x, name: str) -> dict[str, np.ndarray]:
    if isinstance(x, Mapping):
        if not x:
            raise ValueError(f"{name} is an empty mapping")
        return {str(k): _as_audio(v, f"{name}[{k!r}]") for k, v in x.items()}
    return {"vocals": _as_audio(x, name)}


def _nanmedian(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None


def museval_sdr(
    reference_sources,
    estimates,
    win: float = MUSEVAL_WIN_S,
    hop: float = MUSEVAL_HOP_S,
    *,
    sampling_rate: int = 44100,
    allow_length_mismatch: bool = False,
    silent_rms: float = SILENT_RMS,
) -> dict[str, MusevalScore]:
    """museval-style scores: BSS Eval v4 on ``win``-second windows, median over windows per target.

    Computes exactly what ``museval.evaluate`` / ``museval.eval_mus_track`` compute (mode ``"v4"``:
    ``museval.metrics.bss_eval`` with distortion filters fitted on the whole track, no permutation,
    the ``bss_eval_images`` criteria), then takes the per-target median over windows, ignoring NaN
    windows, as museval's aggregation does. The literature's MUSDB18 number is then the median over
    tracks: :func:`museval_median_sdr`.

    Args:
        reference_sources: ``{"vocals": array, "accompaniment": array, ...}``, arrays
            ``(channels, samples)`` or ``(samples,)``; a single array means ``{"vocals": array}``.
            All targets are evaluated jointly (SIR/SAR/ISR depend on the set; SDR does not).
        estimates: the same keys (extra keys are ignored), same layouts.
        win, hop: window and hop in **seconds** (museval's 1.0 s by default).
        sampling_rate: Hz, to turn ``win``/``hop`` into samples (``int(win * sampling_rate)``).
        allow_length_mismatch: crop everything to the shortest (with a warning) instead of raising.
            (museval itself silently zero-pads or truncates the estimates.)
        silent_rms: a target whose whole reference is at or below this RMS is reported as
            ``"silent_reference"`` and left out of the joint evaluation; an all-zero estimate is
            reported as ``"silent_estimate"`` and left out too (museval raises on both).

    Returns:
        ``{target: MusevalScore}`` in the order of ``reference_sources``.
    """
    for arg, value in (("win", win), ("hop", hop)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{arg} must be a positive number of seconds, got {value!r}")
    if not (isinstance(sampling_rate, (int, np.integer)) and sampling_rate > 0):
        raise ValueError(f"sampling_rate must be a positive integer (Hz), got {sampling_rate!r}")
    _check_silent_rms(silent_rms)
    refs = _as_sources(reference_sources, "reference_sources")
    ests = _as_sources(estimates, "estimates")
    missing = [k for k in refs if k not in ests]
    if missing:
        raise ValueError(f"estimates lack target(s) {missing}; got {sorted(ests)}")
    named = {f"reference_sources[{k!r}]": v for k, v in refs.items()}
    named.update({f"estimates[{k!r}]": ests[k] for k in refs})
    matched = _match(named, allow_length_mismatch)
    refs = {k: matched[f"reference_sources[{k!r}]"] for k in refs}
    ests = {k: matched[f"estimates[{k!r}]"] for k in refs}
    n_samples = next(iter(refs.values())).shape[1]
    win_n, hop_n = int(win * sampling_rate), int(hop * sampling_rate)
    if win_n < 1 or hop_n < 1:
        raise ValueError(f"win and hop must be at least one sample at {sampling_rate} Hz")

    results: dict[str, MusevalScore] = {}
    scored = []
    for k in refs:
        rms = _rms(refs[k])
        common = dict(win_s=float(win), hop_s=float(hop), n_samples=n_samples)
        if rms <= silent_rms:
            results[k] = MusevalScore(
                k,
                None,
                status=STATUS_SILENT_REFERENCE,
                reason=f"reference {k!r} is silent (RMS {rms:.3g} <= silent_rms {silent_rms:g}): SDR is undefined",
                **common,
            )
        elif not np.any(ests[k]):
            results[k] = MusevalScore(
                k,
                None,
                status=STATUS_SILENT_ESTIMATE,
                reason=f"estimate {k!r} is all zeros: BSS Eval SDR is -inf (museval refuses silent estimates)",
                **common,
            )
        else:
            results[k] = None
            scored.append(k)
    if scored:
        metrics = _museval_metrics()
        ref_arr = np.stack([refs[k].T for k in scored])  # (nsrc, nsampl, nchan), museval's layout
        est_arr = np.stack([ests[k].T for k in scored])
        sdr, isr, sir, sar, _ = metrics.bss_eval(
            ref_arr,
            est_arr,
            window=win_n,
            hop=hop_n,
            compute_permutation=False,
            framewise_filters=False,
            bsseval_sources_version=False,
        )
        for i, k in enumerate(scored):
            per = {"SDR": sdr[i], "SIR": sir[i], "SAR": sar[i], "ISR": isr[i]}
            frames = {m: [float(v) if np.isfinite(v) else None for v in vals] for m, vals in per.items()}
            n_nan = int(np.sum(~np.isfinite(sdr[i])))
            median = _nanmedian(np.asarray(sdr[i], dtype=np.float64))
            status, reason = STATUS_OK, None
            if median is None:
                status = STATUS_SILENT_REFERENCE
                reason = f"every window of {k!r} had a silent reference or estimate: no SDR"
            results[k] = MusevalScore(
                k,
                median,
                isr=_nanmedian(np.asarray(isr[i], dtype=np.float64)),
                sir=_nanmedian(np.asarray(sir[i], dtype=np.float64)),
                sar=_nanmedian(np.asarray(sar[i], dtype=np.float64)),
                frames=frames,
                win_s=float(win),
                hop_s=float(hop),
                n_frames=len(frames["SDR"]),
                n_nan_frames=n_nan,
                status=status,
                n_samples=n_samples,
                reason=reason,
            )
    return results


def museval_median_sdr(per_track: Sequence) -> dict:
    """SiSEC/MUSDB18 aggregate: the median over tracks of each track's median-over-windows SDR (dB).

    Args:
        per_track: :class:`MusevalScore` objects (one target, e.g. ``scores["vocals"]`` per track),
            dicts with ``"sdr"``, floats or ``None``.

    Returns:
        ``{"sdr": dB or None, "n_tracks", "n_scored", "n_skipped", "skipped": {status: count}}``.
    """
    values, skipped = [], {}
    per_track = list(per_track)
    for item in per_track:
        value, status, _ = _value_and_status(item, "sdr")
        if value is None or status != STATUS_OK:
            reason = status if status != STATUS_OK else "missing"
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        values.append(float(value))
    return {
        "sdr": float(np.median(values)) if values else None,
        "n_tracks": len(per_track),
        "n_scored": len(values),
        "n_skipped": len(per_track) - len(values),
        "skipped": skipped,
    }
