"""The ``majl-vocal`` pipeline: a song in; vocals, accompaniment and the vocal f0 track out.

    import majl_hf
    from transformers import pipeline
    result = pipeline("majl-vocal")("song.mp3")
"""

from __future__ import annotations

import os

import numpy as np
import torch
from transformers import Pipeline

from ..defaults import DEFAULT_DECODER  # "viterbi" (why: majl_hf.defaults)
from ..feature_extraction_majl import AudioInputError, from_model_output, load_audio, to_model_input
from ..inference.apply import apply_majl
from ..pitch.convert import cents_to_hz
from ..pitch.decode import DECODERS, decode_cents
from ..pitch.voicing import DEFAULT_VOICING, PeakThreshold, VoicingEvidence, decide_voicing, level_skip

NORMALIZE_LEVEL = True  # default of the ``normalize_level`` option (see apply.level_gain)


def _check(name, value, ok, what):
    if value is not None and not ok(value):
        raise ValueError(f"{name}={value!r}: {what}")


class _Handover:
    """Holds the mixture between ``preprocess`` and ``_forward`` (the base class copies dicts of
    tensors but passes other objects through), so that ``_forward`` can take the only reference
    and the song's buffer is freed once the vocals are separated."""

    def __init__(self, tensor: torch.Tensor):
        self._tensor = tensor

    def to(self, device) -> None:
        self._tensor = self._tensor.to(device)

    def take(self) -> torch.Tensor:
        tensor, self._tensor = self._tensor, None
        if tensor is None:
            raise RuntimeError("the mixture was already consumed")
        return tensor


class MajlBatchError(RuntimeError):
    """Raised by a list call in which some inputs failed: nothing that succeeded is lost.

    ``results`` holds one entry per input, in order (``None`` where that input failed);
    ``errors`` maps the index of each failed input to its exception."""

    def __init__(self, results: list, errors: dict[int, BaseException]):
        self.results, self.errors = results, errors
        lines = "; ".join(f"input {i}: {err}" for i, err in errors.items())
        super().__init__(
            f"{len(errors)} of {len(results)} inputs failed ({lines}); the others' results are in "
            "this error's .results (or call with errors='return' to get them in the list)"
        )


class MajlVocalPipeline(Pipeline):
    """Separate the vocals of a mixture and track their pitch.

    Call with a path (wav, flac, ogg, mp3), bytes, an array/tensor with ``sampling_rate=``, a dict
    ``{"array"|"raw": ..., "sampling_rate": ...}``, or a list of these. Any rate (soxr), mono or
    stereo (more channels are downmixed with a warning). A path is streamed (decoded and processed
    block by block, as the ``majl-vocal`` command does): memory holds the returned arrays plus a
    constant, whatever the song's length; the values equal the in-memory path's.

    Options (at construction or call):

    - ``voicing``: the voicing decision, a rule of :mod:`majl_hf.pitch.voicing` (default
      :data:`~majl_hf.pitch.voicing.DEFAULT_VOICING`: the paper's peak threshold where the separated
      vocals are within 15 dB of the mixture, no runs under 60 ms) or ``"paper"`` (the paper's rule,
      peak activation ≥ the model's ``voicing_threshold``).
    - ``voicing_threshold``: the paper's rule at this peak activation (``PeakThreshold``), when
      ``voicing`` is not given.
    - ``decoder``: ``"viterbi"`` (default: the most likely bin path under a jump prior, then the local
      average around it; why in :mod:`majl_hf.defaults`), ``"weighted_average"`` (the local average
      around each frame's argmax, the paper's), ``"argmax"``.
    - ``chunk_length_s`` (12 — one Spleeter patch; 0 = unchunked) and ``overlap_s`` (context per
      chunk for context-dependent separators; default their receptive field).
    - ``frames_per_batch`` (64): pitch frames per pitch-estimator call (memory, not results).
    - ``vocal_gate_db`` (``None`` = off): skip pitch frames whose separated vocals are quieter (dBFS).
    - ``skip_unvoiced`` (True): with a frame-wise decoder (``weighted_average``, ``argmax``), do not
      run the pitch estimator on frames the voicing rule calls unvoiced from the levels alone
      (:meth:`majl_hf.pitch.voicing.VoicingRule.skippable`, e.g. the default's vocal-energy gate: no
      vocals there); the voicing and f0 of every other frame are the same, ``confidence`` is 0 on the
      skipped ones. Nothing is skipped with ``decoder="viterbi"``: its path depends on every frame.
    - ``normalize_level`` (see :func:`majl_hf.inference.apply.level_gain`): scale the mixture to a
      reference level before separation and the outputs back, so results do not depend on the
      recording's level.
    - ``return_notes`` (False): also ``notes``, a list of ``majl_hf.notes.Note(onset_s, offset_s, pitch)``
      (sung notes segmented from the f0, :mod:`majl_hf.notes`).
    - ``return_accompaniment`` (True); ``progress``: a callable ``progress(stage, done, total)``
      (stage ``"reading"`` — the first pass over a file input, in samples — then ``"separation"`` and
      ``"pitch"``, in frames) called while a song is processed.
    - ``errors`` for list inputs: ``"raise"`` (default) runs every input, then raises
      :class:`MajlBatchError` carrying the results of those that succeeded; ``"return"`` puts a
      ``{"error": message}`` dict in the list at each failed position.
    - ``batch_size``: transformers' meaning (inputs per forward); songs are processed one after
      the other whatever its value, so it changes nothing here.

    ``device`` and ``dtype`` are the usual ``pipeline()`` arguments.

    Returns a dict of plain values: ``vocals``, ``accompaniment`` (float32 numpy arrays, channels ×
    samples, at the input's rate and channel count), ``sampling_rate``, ``f0_hz`` (0 where
    unvoiced), ``times_s``, ``confidence`` (peak activation), ``voiced`` (bool), per pitch frame.
    Save it with :func:`majl_hf.audio.save_result` (audio is channels × samples; soundfile wants
    samples × channels).
    """

    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False
    _load_processor = False
    _load_video_processor = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.model.eval()  # pipeline() does not call .eval()

    def __call__(self, inputs, **kwargs):
        # songs are never batched together (each is chunked inside itself); the base class would
        # refuse batch_size > 1 without a tokenizer or feature extractor
        batch_size = kwargs.pop("batch_size", None)
        _check("batch_size", batch_size, lambda v: isinstance(v, int) and v >= 1, "must be a positive integer")
        errors = kwargs.pop("errors", "raise")
        _check("errors", errors, lambda v: v in ("raise", "return"), "must be 'raise' or 'return'")
        if not isinstance(inputs, (list, tuple)):
            return self._call_one(inputs, kwargs)
        results, failed = [], {}
        for i, item in enumerate(inputs):
            try:
                results.append(self._call_one(item, kwargs))
            except (AudioInputError, ValueError, RuntimeError, OSError) as err:
                failed[i] = err
                results.append({"error": f"{type(err).__name__}: {err}"} if errors == "return" else None)
        if failed and errors == "raise":
            raise MajlBatchError(results, failed)
        return results

    def _call_one(self, item, kwargs: dict):
        """One input: a file path is streamed (:func:`majl_hf.inference.stream.separate_file`, the command
        line's path — decoded, separated and tracked block by block, so that memory holds the returned arrays
        plus a constant, not the decoded song and its copies); anything else goes through transformers'
        preprocess → _forward → postprocess. Both give the same values (tests/pipelines/test_majl_vocal.py)."""
        if isinstance(item, (str, os.PathLike)) and kwargs.get("sampling_rate") is None:
            return self._call_file(item, kwargs)
        return super().__call__(item, **kwargs)

    def _call_file(self, path, kwargs: dict) -> dict:
        from ..inference.stream import separate_file

        pre, fwd, post = self._sanitize_parameters(**kwargs)
        fwd = {**self._forward_params, **fwd}
        post = {**self._postprocess_params, **post}
        rule = self.voicing_rule(post.get("voicing"), post.get("voicing_threshold"))
        out = separate_file(
            self.model, path, voicing=rule, decoder=post.get("decoder", DEFAULT_DECODER),
            chunk_length_s=fwd.get("chunk_length_s", 12.0), overlap_s=fwd.get("overlap_s"),
            frames_per_batch=fwd.get("frames_per_batch", 64), gate_db=fwd.get("gate_db"),
            normalize_level=fwd.get("normalize_level", NORMALIZE_LEVEL),
            return_accompaniment=post.get("return_accompaniment", True), progress=fwd.get("progress"),
            skip_unvoiced=fwd.get("skip_unvoiced", True))
        keys = ["vocals", "sampling_rate", "f0_hz", "times_s", "confidence", "voiced"]
        if post.get("return_accompaniment", True):
            keys.append("accompaniment")
        result = {k: out[k] for k in keys}
        if post.get("return_notes", False):
            from ..notes import segment_notes

            result["notes"] = segment_notes(result["times_s"], result["f0_hz"], result["voiced"])
        return result

    def _sanitize_parameters(
        self,
        sampling_rate=None,
        voicing_threshold=None,
        voicing=None,
        decoder=None,
        chunk_length_s=None,
        overlap_s=None,
        frames_per_batch=None,
        vocal_gate_db="unset",
        normalize_level=None,
        skip_unvoiced=None,
        return_accompaniment=None,
        return_notes=None,
        progress=None,
        **kwargs,
    ):
        # Hub-loading arguments that pipeline() may pass on (they were used to load the model)
        for key in ("local_files_only", "cache_dir", "revision", "token", "trust_remote_code", "force_download"):
            kwargs.pop(key, None)
        if kwargs:
            raise TypeError(f"majl-vocal got unknown option(s) {sorted(kwargs)}; see MajlVocalPipeline's docstring")
        _check("voicing_threshold", voicing_threshold, lambda v: 0.0 <= v <= 1.0, "must be in [0, 1]")
        _check("decoder", decoder, lambda v: v in DECODERS, f"must be one of {DECODERS}")
        _check("chunk_length_s", chunk_length_s, lambda v: v >= 0, "must be >= 0 seconds (0 = unchunked)")
        _check("overlap_s", overlap_s, lambda v: v >= 0, "must be >= 0 seconds")
        _check("sampling_rate", sampling_rate, lambda v: int(v) > 0, "must be a positive number of Hz")
        _check("frames_per_batch", frames_per_batch, lambda v: isinstance(v, int) and v >= 1,
               "must be a positive integer (pitch frames per network call)")
        _check("progress", progress, callable, "must be a callable progress(stage, done, total)")
        pre, fwd, post = {}, {}, {}
        if sampling_rate is not None:
            pre["sampling_rate"] = int(sampling_rate)
        if chunk_length_s is not None:
            fwd["chunk_length_s"] = float(chunk_length_s)
        if overlap_s is not None:
            fwd["overlap_s"] = float(overlap_s)
        if frames_per_batch is not None:
            fwd["frames_per_batch"] = int(frames_per_batch)
        if vocal_gate_db != "unset":
            _check("vocal_gate_db", vocal_gate_db, lambda v: -200 < v < 0, "must be a level in dBFS below 0, or None")
            fwd["gate_db"] = vocal_gate_db
        if normalize_level is not None:
            fwd["normalize_level"] = bool(normalize_level)
        if progress is not None:
            fwd["progress"] = progress
        if skip_unvoiced is not None:
            fwd["skip_unvoiced"] = bool(skip_unvoiced)
        if voicing is not None:
            _check("voicing", voicing, lambda v: v == "paper" or callable(v),
                   "must be 'paper' or a voicing rule of majl_hf.pitch.voicing (callable on VoicingEvidence)")
            post["voicing"] = fwd["voicing"] = voicing
        if voicing_threshold is not None:
            post["voicing_threshold"] = fwd["voicing_threshold"] = float(voicing_threshold)
        if decoder is not None:
            post["decoder"] = fwd["decoder"] = decoder
        if return_accompaniment is not None:
            post["return_accompaniment"] = bool(return_accompaniment)
        if return_notes is not None:
            post["return_notes"] = bool(return_notes)
        return pre, fwd, post

    def preprocess(self, inputs, sampling_rate=None):
        audio, info = load_audio(inputs, sampling_rate=sampling_rate)
        x = to_model_input(audio, info, self.model.sampling_rate, self.model.audio_channels)
        return {"mixture": _Handover(torch.from_numpy(x)), "info": info}

    def _forward(self, model_inputs, chunk_length_s=12.0, overlap_s=None, frames_per_batch=64, gate_db=None,
                 normalize_level=NORMALIZE_LEVEL, progress=None, skip_unvoiced=True, voicing=None,
                 voicing_threshold=None, decoder=DEFAULT_DECODER):
        holder = model_inputs["mixture"]
        holder.to(next(self.model.parameters()).device)
        skip = None
        if skip_unvoiced and decoder != "viterbi":
            pe = self.model.pitch_estimator
            period = pe.config.hop_length / pe.config.sampling_rate
            skip = level_skip(self.voicing_rule(voicing, voicing_threshold), period)
        # apply_majl takes the only reference out of the holder and frees it after separation
        result = apply_majl(self.model, holder, chunk_length_s=chunk_length_s, overlap_s=overlap_s,
                            frames_per_batch=frames_per_batch, gate_db=gate_db, normalize_level=normalize_level,
                            progress=progress, skip=skip)
        return {"result": result, "info": model_inputs["info"]}

    def voicing_rule(self, voicing=None, voicing_threshold=None):
        """The rule a call's ``voicing`` / ``voicing_threshold`` options stand for."""
        if voicing == "paper":
            return PeakThreshold(self.model.config.voicing_threshold) if voicing_threshold is None else \
                PeakThreshold(voicing_threshold)
        if voicing is not None:
            return voicing
        if voicing_threshold is not None:
            return PeakThreshold(voicing_threshold)
        return DEFAULT_VOICING

    def postprocess(self, model_outputs, voicing_threshold=None, voicing=None, decoder=DEFAULT_DECODER,
                    return_accompaniment=True, return_notes=False):
        result, info = model_outputs["result"], model_outputs["info"]
        pe = self.model.pitch_estimator
        probs = result.pitch_probabilities[0]
        cents = decode_cents(probs, self.model.pitch_bins, decoder, window=pe.decode_window)
        confidence = probs.amax(-1)
        evidence = VoicingEvidence(confidence.numpy(), result.vocals_db[0].numpy(), result.mixture_db[0].numpy(),
                                   pe.config.hop_length / pe.config.sampling_rate)
        voiced = torch.from_numpy(decide_voicing(evidence, self.voicing_rule(voicing, voicing_threshold)))
        f0 = cents_to_hz(cents.double()).float()
        f0 = torch.where(voiced, f0, torch.zeros_like(f0))
        sr = self.model.sampling_rate
        out = {
            "vocals": from_model_output(result.vocals[0].float().cpu().numpy(), sr, info),
            "sampling_rate": info.sampling_rate,
            "f0_hz": f0.numpy().astype(np.float32),
            "times_s": result.times_s.numpy().astype(np.float64),
            "confidence": confidence.numpy().astype(np.float32),
            "voiced": voiced.numpy(),
        }
        if return_accompaniment:
            out["accompaniment"] = from_model_output(result.accompaniment[0].float().cpu().numpy(), sr, info)
        if return_notes:  # sung notes (majl_hf.notes.segment_notes at its measured defaults)
            from ..notes import segment_notes

            out["notes"] = segment_notes(out["times_s"], out["f0_hz"], out["voiced"])
        return out


__all__ = ["AudioInputError", "MajlBatchError", "MajlVocalPipeline"]
