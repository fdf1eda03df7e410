"""MAJL evaluation metrics (SDR, GNSDR, RPA, RCA, OA, VR, VFA) as a local `evaluate` metric module.

Load it from its file path, offline:

    metric = evaluate.load(majl_hf.evaluation.metric_module_path())

It wraps majl_hf.evaluation (separation.py, pitch.py); the numbers are those functions' numbers.
`evaluate` copies this file into its modules cache and checks each import line, so every import
below stands on its own line and majl_hf must be importable.
"""

import datasets
import evaluate

from majl_hf.evaluation import pitch as majl_pitch
from majl_hf.evaluation import separation as majl_separation

_CITATION = """\
@inproceedings{wei2024majl,
  title = {MAJL: A Model-Agnostic Joint Learning Framework for Music Source Separation and Pitch Estimation},
  author = {Wei, Haojie and Yuan, Jun and Zhang, Rui and Dai, Quanyu and Chen, Yueguo},
  booktitle = {Proceedings of the 32nd ACM International Conference on Multimedia (MM '24)},
  year = {2024},
  doi = {10.1145/3664647.3680985},
}
@article{hsu2010improvement,
  title = {On the Improvement of Singing Voice Separation for Monaural Recordings Using the MIR-1K Dataset},
  author = {Hsu, Chao-Ling and Jang, Jyh-Shing Roger},
  journal = {IEEE Transactions on Audio, Speech, and Language Processing},
  year = {2010},
}
@inproceedings{raffel2014mireval,
  title = {mir_eval: A Transparent Implementation of Common MIR Metrics},
  author = {Raffel, Colin and others},
  booktitle = {ISMIR},
  year = {2014},
}
"""

_DESCRIPTION = """\
Joint singing-voice separation and vocal pitch metrics as in the MAJL paper (Table 2).
Separation: BSS Eval SDR of the vocal estimate per clip (mir_eval.separation), NSDR = SDR(estimate)
- SDR(mixture); reported as the length-weighted mean SDR ("sdr") and GNSDR ("gnsdr", Hsu & Jang).
Pitch: RPA, RCA (50 cents), OA, VR, VFA by mir_eval.melody on a 20 ms grid, frame-weighted over clips.
Clips with silent reference vocals have no SDR and clips with no voiced reference frame have no
RPA/RCA/VR: they are skipped and counted under "skipped", never scored as 0.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: one per clip, either a dict
        {"vocals": audio, "times_s": [...], "f0_hz": [...], "voicing": [...] (optional)}
        or just the vocal audio. Audio is (samples,) or (channels, samples).
    references: one per clip, either a dict
        {"vocals": audio, "mixture": audio (for GNSDR), "times_s": [...], "f0_hz": [...]}
        or just the vocal audio. Any key may be left out; the metrics that need it are None.
    sdr_method: "bss_eval" (default) or "energy_ratio".
    mode: BSS Eval variant, "auto" (default; sources for mono, images otherwise), "sources", "images".
    grid_s: pitch evaluation grid in seconds (default 0.02).
    cent_tolerance: cents for a correct pitch (default 50).
    allow_length_mismatch: crop to the shorter signal instead of raising (default False).
    return_per_clip: also return the per-clip scores under "per_clip" (default False).
Returns:
    sdr: length-weighted mean SDR over clips (dB), or None
    gnsdr: length-weighted mean NSDR over clips (dB), or None
    rpa, rca, oa, vr, vfa: frame-weighted means over clips (fractions in [0, 1]), or None
    n_clips: number of clips
    skipped: {metric: {reason: number of clips}} for metrics some clip had no value for; reasons are
        separation statuses ("silent_reference", ...), "missing" (input not given) or "undefined"
        (e.g. no voiced reference frame)
Examples:
    >>> metric = evaluate.load(majl_hf.evaluation.metric_module_path())
    >>> metric.compute(predictions=[estimate], references=[reference])["sdr"]
"""

_FLOATS = datasets.Sequence(datasets.Value("float64"))
_CHANNELS = datasets.Sequence(datasets.Sequence(datasets.Value("float64")))


_PREDICTION_KEYS = ("vocals", "times_s", "f0_hz", "voicing")
_REFERENCE_KEYS = ("vocals", "mixture", "times_s", "f0_hz")


def _features(audio):
    return datasets.Features(
        {
            "predictions": {k: audio if k == "vocals" else _FLOATS for k in _PREDICTION_KEYS},
            "references": {k: audio if k in ("vocals", "mixture") else _FLOATS for k in _REFERENCE_KEYS},
        }
    )


def _fill(example, keys, name):
    """A dict example with every key of the schema (absent ones as None); a bare array is the vocals."""
    if example is None:
        return None
    if not isinstance(example, dict):
        example = {"vocals": example}
    unknown = sorted(set(example) - set(keys))
    if unknown:
        raise ValueError(f"{name} has unknown key(s) {unknown}; allowed: {list(keys)}")
    return {k: example.get(k) for k in keys}


def _fill_all(examples, keys, name):
    if examples is None:
        return None
    return [_fill(example, keys, name) for example in examples]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MajlMetric(evaluate.Metric):
    """SDR / GNSDR / RPA / RCA / OA / VR / VFA for joint singing-voice separation and pitch estimation."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            # tried in order: mono audio (samples,), then (channels, samples); bare arrays are
            # turned into {"vocals": array} before they reach these schemas
            features=[_features(_FLOATS), _features(_CHANNELS)],
            reference_urls=[
                "https://github.com/mir-evaluation/mir_eval",
                "https://github.com/sigsep/sigsep-mus-eval",
            ],
        )

    # evaluate needs every key of a dict schema in every example: fill the absent ones with None
    def compute(self, *, predictions=None, references=None, **kwargs):
        """Compute the metrics (dict examples may leave keys out; inputs are described below)."""
        return super().compute(
            predictions=_fill_all(predictions, _PREDICTION_KEYS, "predictions"),
            references=_fill_all(references, _REFERENCE_KEYS, "references"),
            **kwargs,
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of clips (dict examples may leave keys out)."""
        return super().add_batch(
            predictions=_fill_all(predictions, _PREDICTION_KEYS, "predictions"),
            references=_fill_all(references, _REFERENCE_KEYS, "references"),
            **kwargs,
        )

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one clip (a dict example may leave keys out)."""
        return super().add(
            prediction=_fill(prediction, _PREDICTION_KEYS, "prediction"),
            reference=_fill(reference, _REFERENCE_KEYS, "reference"),
            **kwargs,
        )

    def _compute(
        self,
        predictions,
        references,
        sdr_method="bss_eval",
        mode="auto",
        grid_s=majl_pitch.GRID_S,
        cent_tolerance=majl_pitch.CENT_TOLERANCE,
        allow_length_mismatch=False,
        return_per_clip=False,
    ):
        if sdr_method not in ("bss_eval", "energy_ratio"):
            raise ValueError(f"sdr_method must be 'bss_eval' or 'energy_ratio', got {sdr_method!r}")
        sdr_scores, nsdr_scores, pitch_scores, per_clip = [], [], [], []
        for pred, ref in zip(predictions, references):
            pred = pred or {}
            ref = ref or {}
            clip = {}
            if _present(pred.get("vocals")) and _present(ref.get("vocals")):
                common = {"allow_length_mismatch": allow_length_mismatch}
                if sdr_method == "bss_eval":
                    sdr = majl_separation.bss_eval_sdr(ref["vocals"], pred["vocals"], mode=mode, **common)
                else:
                    sdr = majl_separation.energy_ratio_sdr(ref["vocals"], pred["vocals"], **common)
                clip["sdr"] = sdr.to_dict()
                sdr_scores.append(sdr)
                if _present(ref.get("mixture")):
                    nsdr = majl_separation.nsdr(
                        ref["vocals"], pred["vocals"], ref["mixture"], method=sdr_method, mode=mode, **common
                    )
                    clip["nsdr"] = nsdr.to_dict()
                    nsdr_scores.append(nsdr)
                else:
                    nsdr_scores.append(None)
            else:
                sdr_scores.append(None)
                nsdr_scores.append(None)
            pitch_keys = (ref.get("times_s"), ref.get("f0_hz"), pred.get("times_s"), pred.get("f0_hz"))
            if all(_present(v) for v in pitch_keys):
                voicing = pred.get("voicing") if _present(pred.get("voicing")) else None
                scores = majl_pitch.melody_metrics(
                    *pitch_keys, est_voicing=voicing, grid_s=grid_s, cent_tolerance=cent_tolerance
                )
                clip["pitch"] = scores
                pitch_scores.append(scores)
            per_clip.append(clip)

        n_clips = len(per_clip)
        sdr_agg = majl_separation.gsdr(sdr_scores)
        nsdr_agg = majl_separation.gnsdr(nsdr_scores)
        pitch_agg = majl_pitch.aggregate_melody_metrics(pitch_scores)
        # {metric: {reason: number of clips}}, only for metrics where some clip had no value
        skipped = {"sdr": dict(sdr_agg["skipped"]), "gnsdr": dict(nsdr_agg["skipped"])}
        for key in majl_pitch.METRIC_KEYS:
            skipped[key] = {}
            if n_clips > len(pitch_scores):
                skipped[key]["missing"] = n_clips - len(pitch_scores)
            if pitch_agg["skipped"].get(key):
                skipped[key]["undefined"] = pitch_agg["skipped"][key]
        skipped = {key: reasons for key, reasons in skipped.items() if reasons}
        result = {
            "sdr": sdr_agg["sdr"],
            "gnsdr": nsdr_agg["gnsdr"],
            **{key: pitch_agg[key] for key in majl_pitch.METRIC_KEYS},
            "n_clips": n_clips,
            "skipped": skipped,
        }
        if return_per_clip:
            result["per_clip"] = per_clip
        return result


def _present(value):
    """True for a non-empty array or list (datasets turns a missing key into None)."""
    if value is None:
        return False
    try:
        return len(value) > 0
    except TypeError:
        return True
