"""The ``majl-vocal`` pipeline: a song in; vocals, accompaniment and the vocal f0 track out.

    import majl_hf
    from transformers import pipeline
    result = pipeline("majl-vocal")("song.mp3")
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import Pipeline

from ..feature_extraction_majl import AudioInputError, from_model_output, load_audio, to_model_input
from ..inference.apply import apply_majl
from ..pitch.decode import DECODERS, decode_f0


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


class MajlVocalPipeline(Pipeline):
    """Separate the vocals of a mixture and track their pitch.

    Call with a path (wav, flac, ogg, mp3), bytes, an array/tensor with ``sampling_rate=``, a dict
    ``{"array"|"raw": ..., "sampling_rate": ...}``, or a list of these. Any rate (soxr), mono or
    stereo (more channels are downmixed with a warning).

    Options (at construction or call): ``voicing_threshold`` (0.5), ``decoder``
    (``"weighted_average"``, ``"argmax"``, ``"viterbi"``), ``chunk_length_s`` (12 — one Spleeter patch; 0 = unchunked),
    ``overlap_s`` (context per chunk for context-dependent separators), ``batch_size`` (pitch frames
    per network call ×64; default 1), ``vocal_gate_db`` (skip pitch frames whose separated
    vocals are quieter than this, dBFS; ``None`` = off), ``return_accompaniment`` (True).
    ``device`` and ``dtype`` are the usual ``pipeline()`` arguments.

    Returns a dict of plain values: ``vocals``, ``accompaniment`` (float32 numpy arrays, channels ×
    samples, at the input's rate and channel count), ``sampling_rate``, ``f0_hz`` (0 where
    unvoiced), ``times_s``, ``confidence`` (peak activation), ``voiced`` (bool), per pitch frame.
    """

    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False
    _load_processor = False
    _load_video_processor = False

    FRAMES_PER_BATCH_UNIT = 64  # CREPE full holds ~4 MB of activations per frame in flight

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.model.eval()  # pipeline() does not call .eval()

    def __call__(self, inputs, **kwargs):
        # batch_size is ours: pitch frames per network call (songs are batched inside themselves);
        # the base class would refuse batch_size > 1 without a tokenizer or feature extractor.
        if "batch_size" in kwargs:
            kwargs["frames_per_batch"] = self._frames_per_batch(kwargs.pop("batch_size"))
        return super().__call__(inputs, **kwargs)

    def _frames_per_batch(self, batch_size):
        _check("batch_size", batch_size, lambda v: isinstance(v, int) and v >= 1, "must be a positive integer")
        return int(batch_size) * self.FRAMES_PER_BATCH_UNIT

    def _sanitize_parameters(
        self,
        sampling_rate=None,
        voicing_threshold=None,
        decoder=None,
        chunk_length_s=None,
        overlap_s=None,
        frames_per_batch=None,
        vocal_gate_db="unset",
        return_accompaniment=None,
        batch_size=None,
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
        pre, fwd, post = {}, {}, {}
        if sampling_rate is not None:
            pre["sampling_rate"] = int(sampling_rate)
        if chunk_length_s is not None:
            fwd["chunk_s"] = float(chunk_length_s)
        if overlap_s is not None:
            fwd["overlap_s"] = float(overlap_s)
        if batch_size is not None:
            frames_per_batch = self._frames_per_batch(batch_size)
        if frames_per_batch is not None:
            fwd["frames_per_batch"] = int(frames_per_batch)
        if vocal_gate_db != "unset":
            _check("vocal_gate_db", vocal_gate_db, lambda v: -200 < v < 0, "must be a level in dBFS below 0, or None")
            fwd["gate_db"] = vocal_gate_db
        if voicing_threshold is not None:
            post["voicing_threshold"] = float(voicing_threshold)
        if decoder is not None:
            post["decoder"] = decoder
        if return_accompaniment is not None:
            post["return_accompaniment"] = bool(return_accompaniment)
        return pre, fwd, post

    def preprocess(self, inputs, sampling_rate=None):
        audio, info = load_audio(inputs, sampling_rate=sampling_rate)
        x = to_model_input(audio, info, self.model.sampling_rate, self.model.audio_channels)
        return {"mixture": _Handover(torch.from_numpy(x)), "info": info}

    def _forward(self, model_inputs, chunk_s=12.0, overlap_s=None, frames_per_batch=64, gate_db=None):
        holder = model_inputs["mixture"]
        holder.to(next(self.model.parameters()).device)
        # apply_majl takes the only reference out of the holder and frees it after separation
        result = apply_majl(self.model, holder, chunk_s=chunk_s, overlap_s=overlap_s,
                            frames_per_batch=frames_per_batch, gate_db=gate_db)
        return {"result": result, "info": model_inputs["info"]}

    def postprocess(self, model_outputs, voicing_threshold=None, decoder="weighted_average", return_accompaniment=True):
        result, info = model_outputs["result"], model_outputs["info"]
        threshold = self.model.config.voicing_threshold if voicing_threshold is None else voicing_threshold
        f0, confidence, voiced = decode_f0(result.probabilities, self.model.pitch_bins, threshold, decoder)
        sr = self.model.sampling_rate
        out = {
            "vocals": from_model_output(result.vocals.float().cpu().numpy(), sr, info),
            "sampling_rate": info.sampling_rate,
            "f0_hz": f0.numpy().astype(np.float32),
            "times_s": result.times_s.astype(np.float64),
            "confidence": confidence.numpy().astype(np.float32),
            "voiced": voiced.numpy(),
        }
        if return_accompaniment:
            out["accompaniment"] = from_model_output(result.accompaniment.float().cpu().numpy(), sr, info)
        return out


__all__ = ["AudioInputError", "MajlVocalPipeline"]
