"""MajlModel: the cascade mixture → separator → vocals → pitch estimator, with the joint losses
of MAJL_SPEC §2–4 (pipeline, naive, DWHS) computed inside the model."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import julius
import torch
from transformers import AutoModel, PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_majl import MajlConfig
from .dwhs import DynamicWeightModule, assign_cases, dwhs_loss, frame_accuracy, init_dwm_layer
from .models import auto_models as _backbone_models  # noqa: F401  (registers the backbone models)
from .models.common import mean_abs_error_per_sample
from .pitch.convert import f0_to_targets
from .pitch.decode import frame_confidence


@dataclass
class MajlOutput(ModelOutput):
    """Output of :class:`MajlModel`. Every field is optional.

    Args:
        loss: the training loss of ``config.joint_method`` when targets are given.
        loss_mss, loss_pe: (batch,) per-sample separation (mean |s − ŝ|) and pitch (mean BCE) losses.
        loss_dwhs: L_dwhs (joint_method ``"dwhs"``).
        vocals: (batch, channels, samples) vocals at the separator's rate.
        accompaniment: (batch, channels, samples).
        pitch_logits, pitch_probabilities: (batch, frames, bins) activations of PE(ŝ).
        times_s: (frames,) frame-centre times in seconds.
        confidence: (batch, frames) Eq. 4 confidence of PE(ŝ): max(ŷ) if ≥ 0.5 else 1 − max(ŷ).
        target_pitch_probabilities: (batch, frames, bins) PE(s) on the true vocals (pipeline / dwhs).
        loss_pe_target: (batch,) L_pe of PE(s) (``train_pe_on_target``).
        dwhs_weights: (batch, 2) = (ω_mss, ω_pe) from the DWM. dwhs_cases: (batch,) Table 1 cases
            1…4, 0 for a sample that takes no case (no pitch label or target vocals, or every
            frame masked): it adds nothing to L_dwhs and its losses are weighted by 1.
    """

    loss: torch.Tensor | None = None
    loss_mss: torch.Tensor | None = None
    loss_pe: torch.Tensor | None = None
    loss_dwhs: torch.Tensor | None = None
    vocals: torch.Tensor | None = None
    accompaniment: torch.Tensor | None = None
    pitch_logits: torch.Tensor | None = None
    pitch_probabilities: torch.Tensor | None = None
    times_s: torch.Tensor | None = None
    confidence: torch.Tensor | None = None
    target_pitch_probabilities: torch.Tensor | None = None
    loss_pe_target: torch.Tensor | None = None
    dwhs_weights: torch.Tensor | None = None
    dwhs_cases: torch.Tensor | None = None
    gated: torch.Tensor | None = None
    vocals_db: torch.Tensor | None = None
    mixture_db: torch.Tensor | None = None
    level_gain: float | None = None


#: keyword arguments that transformers' own code may pass to a model's forward; accepted and unused
_IGNORED_FORWARD_KWARGS = frozenset({"output_attentions", "output_hidden_states", "num_items_in_batch"})


@contextmanager
def running_statistics_frozen(module: torch.nn.Module):
    """Run ``module`` (in whatever mode it is) without changing any of its buffers: batch-norm
    running means, variances and batch counters are restored on exit. For the passes that must not
    learn (MAJL_SPEC §4): PE(ŝ) in ``pipeline`` mode and PE(s) on the true vocals in ``dwhs`` mode.
    Train-mode layers still normalise with the batch's statistics, as the learning pass does."""
    if not module.training:  # eval mode: batch norm uses its running statistics and updates nothing
        yield
        return
    # the pass runs on copies of the buffers, the originals are put back untouched (no in-place
    # write: the learning pass before it may have saved them for its backward)
    saved = []
    for sub in module.modules():
        for name, buf in sub._buffers.items():
            if buf is not None:
                saved.append((sub, name, buf))
                sub._buffers[name] = buf.detach().clone()
    try:
        yield
    finally:
        for sub, name, buf in saved:
            sub._buffers[name] = buf


class MajlPreTrainedModel(PreTrainedModel):
    config_class = MajlConfig
    base_model_prefix = "majl"
    main_input_name = "input_values"

    def _init_weights(self, module):
        from transformers import initialization as init

        # DWM layers are initialised one by one (by their dwm_role), so that a DWM missing from a
        # checkpoint (e.g. from_pretrained(pipeline_model, joint_method="dwhs")) is initialised too
        if isinstance(module, DynamicWeightModule):
            for layer in (module.conv1, module.conv2, module.fc1, module.fc2):
                init_dwm_layer(layer, init)
        elif getattr(module, "dwm_role", None) is not None:
            init_dwm_layer(module, init)


class MajlModel(MajlPreTrainedModel):
    """The MAJL cascade. Build it from a config, or from two backbones
    ``MajlModel(separator=..., pitch_estimator=...)`` (like transformers' encoder–decoder)."""

    def __init__(self, config: MajlConfig | None = None, separator=None, pitch_estimator=None):
        if config is None:
            if separator is None or pitch_estimator is None:
                raise ValueError("give a MajlConfig, or both a separator and a pitch_estimator")
            config = MajlConfig(separator_config=separator.config, pitch_config=pitch_estimator.config)
        super().__init__(config)
        self.separator = separator if separator is not None else AutoModel.from_config(config.separator_config)
        self.pitch_estimator = (
            pitch_estimator if pitch_estimator is not None else AutoModel.from_config(config.pitch_config)
        )
        # keep the composite's sub-configs the backbones' own objects
        self.config.separator_config = self.separator.config
        self.config.pitch_config = self.pitch_estimator.config
        self.dwm = (
            DynamicWeightModule(config.dwm_channels, config.dwm_pool_size, config.dwm_hidden_size, config.w_max)
            if config.joint_method == "dwhs"
            else None
        )
        self._resamplers: dict = {}
        self.post_init()

    # ------------------------------------------------------------------ rates and grids
    @property
    def sampling_rate(self) -> int:
        """Sample rate of ``input_values`` (the separator's)."""
        return self.separator.config.sampling_rate

    @property
    def audio_channels(self) -> int:
        return self.separator.config.audio_channels

    @property
    def pitch_bins(self):
        return self.pitch_estimator.config.pitch_bins

    def num_pitch_samples(self, num_samples: int) -> int:
        return int(num_samples) * self.pitch_estimator.config.sampling_rate // self.sampling_rate

    def num_pitch_frames(self, num_samples: int) -> int:
        """Pitch frames produced for ``num_samples`` separator-rate samples (labels must have this many)."""
        return self.pitch_estimator.num_frames(self.num_pitch_samples(num_samples))

    def to_pitch_input(self, vocals: torch.Tensor) -> torch.Tensor:
        """(batch, channels, samples) at the separator's rate → (batch, samples') mono at the PE's rate.
        Channel mean, then julius' band-limited sinc resampler: differentiable, inside the graph."""
        mono = vocals.mean(1)
        src, dst = self.sampling_rate, self.pitch_estimator.config.sampling_rate
        if src == dst:
            return mono
        key = (src, dst, str(mono.device), mono.dtype)
        if key not in self._resamplers:
            self._resamplers[key] = julius.ResampleFrac(
                src, dst, zeros=self.config.resampler_zeros, rolloff=self.config.resampler_rolloff
            ).to(device=mono.device, dtype=mono.dtype)
        return self._resamplers[key](mono, output_length=self.num_pitch_samples(mono.shape[-1]))

    def pitch_of(self, vocals: torch.Tensor):
        return self.pitch_estimator(self.to_pitch_input(vocals))

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        input_values: torch.Tensor,
        target_vocals: torch.Tensor | None = None,
        target_f0_hz: torch.Tensor | None = None,
        pitch_labels: torch.Tensor | None = None,
        confidence_mss: torch.Tensor | None = None,
        confidence_pe: torch.Tensor | None = None,
        has_vocals: torch.Tensor | None = None,
        has_f0: torch.Tensor | None = None,
        return_dict: bool | None = True,
        **kwargs,
    ):
        """
        Args:
            input_values: (batch, channels, samples) mixture at the separator's rate (mono may be (batch, samples)).
            target_vocals: (batch, channels, samples) true vocals.
            target_f0_hz: (batch, frames) true f0 in Hz (0 = unvoiced) on the PE's grid, frames =
                ``num_pitch_frames(samples)``; encoded as Gaussian targets of σ = label_sigma_cents.
            pitch_labels: (batch, frames, bins) targets, instead of ``target_f0_hz``.
            confidence_mss, confidence_pe: (batch, frames) stage-II frame confidences (Eq. 4–8);
                thresholded at ``pseudo_label_threshold`` into 0/1 masks (Eq. 15).
            has_vocals, has_f0: (batch,) bool — samples without that target add nothing to its loss.
        """
        unknown = sorted(set(kwargs) - _IGNORED_FORWARD_KWARGS)
        if unknown:
            raise TypeError(
                f"MajlModel.forward() got unexpected keyword argument(s) {', '.join(repr(k) for k in unknown)}; "
                "it takes input_values, target_vocals, target_f0_hz, pitch_labels, confidence_mss, "
                "confidence_pe, has_vocals, has_f0, return_dict"
            )
        sep = self.separator(input_values)
        vocals = sep.vocals
        has_targets = target_vocals is not None and (target_f0_hz is not None or pitch_labels is not None)
        method = self.config.joint_method
        if method == "pipeline" and has_targets:  # PE(ŝ) does not learn in pipeline mode
            with torch.no_grad(), running_statistics_frozen(self.pitch_estimator):
                pe = self.pitch_of(vocals)
        else:
            pe = self.pitch_of(vocals)
        out = MajlOutput(
            vocals=vocals,
            accompaniment=sep.accompaniment,
            pitch_logits=pe.logits,
            pitch_probabilities=pe.probabilities,
            times_s=pe.times_s,
            confidence=frame_confidence(pe.probabilities.detach()),
        )
        if has_targets:
            self._compute_loss(out, input_values, target_vocals, target_f0_hz, pitch_labels,
                               confidence_mss, confidence_pe, has_vocals, has_f0)
        return out if return_dict is not False else out.to_tuple()

    # ------------------------------------------------------------------ losses
    def _frame_masks(self, confidence, n_frames, like):
        if confidence is None:
            return None
        if confidence.shape[-1] != n_frames:
            raise ValueError(f"confidences have {confidence.shape[-1]} frames, the pitch grid has {n_frames}")
        return (confidence.to(like) >= self.config.pseudo_label_threshold).to(like)

    def _sample_mask(self, frame_mask: torch.Tensor, num_samples: int) -> torch.Tensor:
        """(batch, frames) frame mask → (batch, 1, samples) at the separator's rate (nearest frame)."""
        frame_s = self.pitch_estimator.config.hop_length / self.pitch_estimator.config.sampling_rate
        t = torch.arange(num_samples, device=frame_mask.device, dtype=torch.float64) / self.sampling_rate
        idx = torch.round(t / frame_s).long().clamp_max(frame_mask.shape[-1] - 1)
        return frame_mask[:, idx][:, None]

    def pitch_loss(self, logits: torch.Tensor, labels: torch.Tensor, frame_mask=None) -> torch.Tensor:
        """L_pe per sample through the pitch estimator's own ``pitch_loss`` hook (a softmax backbone
        brings its own loss). The hook weighs frames and normalises by all frames (Eq. 8/15);
        ``confidence_normalization="kept_frames"`` rescales to a mean over each sample's kept frames."""
        loss = self.pitch_estimator.pitch_loss(logits, labels, frame_mask)
        if frame_mask is not None and self.config.confidence_normalization == "kept_frames":
            kept = frame_mask.to(loss).sum(-1)
            loss = loss * (frame_mask.shape[-1] / kept.clamp_min(1.0))
        return loss

    def _target_pitch(self, target_vocals: torch.Tensor, learn: bool):
        """PE(s) on the true vocals: a learning pass, or one without gradient that leaves every
        running statistic of the PE untouched."""
        if learn:
            return self.pitch_of(target_vocals)
        with torch.no_grad(), running_statistics_frozen(self.pitch_estimator):
            return self.pitch_of(target_vocals)

    def _compute_loss(self, out, input_values, target_vocals, target_f0_hz, pitch_labels,
                      confidence_mss, confidence_pe, has_vocals, has_f0):
        cfg = self.config
        logits = out.pitch_logits
        b, n_frames, _ = logits.shape
        target_vocals = self.separator._check_input(target_vocals)
        if pitch_labels is None:
            if target_f0_hz.shape != (b, n_frames):
                raise ValueError(
                    f"target_f0_hz has shape {tuple(target_f0_hz.shape)}, the pitch grid needs ({b}, {n_frames}) "
                    f"for {input_values.shape[-1]} input samples (MajlModel.num_pitch_frames)"
                )
            pitch_labels = f0_to_targets(target_f0_hz, self.pitch_bins, cfg.label_sigma_cents).to(logits)
        pe_mask = self._frame_masks(confidence_pe, n_frames, logits)
        mss_frame_mask = self._frame_masks(confidence_mss, n_frames, logits)
        mss_mask = None if mss_frame_mask is None else self._sample_mask(mss_frame_mask, target_vocals.shape[-1])

        renormalize = cfg.confidence_normalization == "kept_frames"
        loss_mss = mean_abs_error_per_sample(out.vocals, target_vocals, mss_mask, renormalize=renormalize)
        target_pe = None
        if cfg.joint_method in ("pipeline", "dwhs") or cfg.train_pe_on_target:
            learn = cfg.joint_method == "pipeline" or cfg.train_pe_on_target
            target_pe = self._target_pitch(target_vocals, learn and torch.is_grad_enabled())
            out.target_pitch_probabilities = target_pe.probabilities
        pe_logits = target_pe.logits if cfg.joint_method == "pipeline" else logits
        loss_pe = self.pitch_loss(pe_logits, pitch_labels, pe_mask)

        w_mss = torch.ones_like(loss_mss) if has_vocals is None else has_vocals.to(loss_mss)
        w_pe = torch.ones_like(loss_pe) if has_f0 is None else has_f0.to(loss_pe)
        loss_target = None
        if cfg.train_pe_on_target:
            out.loss_pe_target = self.pitch_loss(target_pe.logits, pitch_labels, pe_mask)
            loss_target = cfg.target_pe_loss_weight * (w_pe * out.loss_pe_target).mean()
        loss_dwhs = None
        if cfg.joint_method == "dwhs":
            valid = self._dwhs_valid(b, logits.device, has_vocals, has_f0, pe_mask, mss_frame_mask)
            f0 = target_f0_hz if target_f0_hz is not None else self._labels_to_f0(pitch_labels)
            acc_pred = frame_accuracy(out.pitch_probabilities.detach(), f0, self.pitch_bins, cfg.voicing_threshold,
                                      cfg.correct_cents, pe_mask, rule=cfg.correct_rule)
            acc_tgt = frame_accuracy(target_pe.probabilities.detach(), f0, self.pitch_bins, cfg.voicing_threshold,
                                     cfg.correct_cents, pe_mask, rule=cfg.correct_rule)
            valid = valid & torch.isfinite(acc_pred) & torch.isfinite(acc_tgt)  # pitch-only rule, no voiced frame
            cases = assign_cases(acc_pred >= cfg.correct_frame_ratio, acc_tgt >= cfg.correct_frame_ratio, valid)
            weights = self.dwm(out.pitch_probabilities.detach(), pitch_labels.detach(),
                               target_pe.probabilities.detach())
            loss_dwhs = dwhs_loss(weights, cases)
            applied = weights.detach() if cfg.detach_dwhs_weights else weights
            applied = torch.where(valid[:, None], applied, torch.ones_like(applied))  # no case: weight 1
            w_mss = w_mss * applied[:, 0]
            w_pe = w_pe * applied[:, 1]
            out.dwhs_weights, out.dwhs_cases, out.loss_dwhs = weights, cases, loss_dwhs
        loss = (w_mss * loss_mss).mean() + (w_pe * loss_pe).mean()
        if loss_target is not None:
            loss = loss + loss_target
        if loss_dwhs is not None:
            loss = loss + loss_dwhs
        out.loss, out.loss_mss, out.loss_pe = loss, loss_mss, loss_pe

    @staticmethod
    def _dwhs_valid(b, device, has_vocals, has_f0, pe_mask, mss_frame_mask) -> torch.Tensor:
        """(batch,) bool: the samples that take a DWHS case — with a pitch label and target vocals,
        and at least one frame kept by each confidence mask (MAJL_SPEC §4)."""
        valid = torch.ones(b, dtype=torch.bool, device=device)
        for flag in (has_vocals, has_f0):
            if flag is not None:
                valid = valid & flag.to(device=device, dtype=torch.bool)
        for mask in (pe_mask, mss_frame_mask):
            if mask is not None:
                valid = valid & (mask.sum(-1) > 0)
        return valid

    def _labels_to_f0(self, pitch_labels: torch.Tensor) -> torch.Tensor:
        from .pitch.decode import decode_f0

        f0, _, _ = decode_f0(pitch_labels, self.pitch_bins, threshold=1e-6)
        return f0


AutoModel.register(MajlConfig, MajlModel, exist_ok=True)

__all__ = ["MajlModel", "MajlOutput", "MajlPreTrainedModel"]
