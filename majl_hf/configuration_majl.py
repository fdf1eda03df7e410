"""MajlConfig: a separator config + a pitch-estimator config (any registered backbones) + the
joint-training readings of MAJL_SPEC §2–4, each a validated field."""

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .models import auto_configs as _backbone_configs  # noqa: F401  (registers the backbone configs)
from .utils import check_choice, check_range

JOINT_METHODS = ("pipeline", "naive", "dwhs")
CONFIDENCE_NORMALIZATIONS = ("all_frames", "kept_frames")
CORRECT_RULES = ("overall_accuracy", "raw_pitch_accuracy")  # = majl_hf.dwhs.CORRECT_RULES


@strict
class MajlConfig(PreTrainedConfig):
    r"""Configuration of the MAJL cascade mixture → separator → vocals → pitch estimator.

    Swapping a backbone is a change of ``model_type`` in a sub-config, e.g.
    ``MajlConfig(separator_config={"model_type": "resunet_decouple"}, pitch_config={"model_type": "harmof0"})``.

    Args:
        separator_config: config of the separator (default: ``unet`` = Spleeter 2stems layout).
        pitch_config: config of the pitch estimator (default: ``crepe`` full).
        joint_method: ``"pipeline"`` (each module on its own labels: the PE learns from the true
            vocals, no gradient between modules), ``"naive"`` (paper Eq. 3: L = L_mss + L_pe through
            the cascade) or ``"dwhs"`` (Eq. 14: per-sample weights from the Dynamic Weight Module).
        label_sigma_cents: σ of the Gaussian pitch targets in cents (0 = the paper's one-hot).
        voicing_threshold: a frame is voiced iff max activation ≥ this (paper: 0.5).
        correct_frame_ratio: τ — a pitch track is *correct* on a sample when its frame accuracy is
            ≥ τ (our reading; the paper leaves "correct" undefined).
        correct_rule: the frame accuracy behind "correct": ``"overall_accuracy"`` (OA-style: every
            frame counts, voicing must agree, voiced frames within ``correct_cents``) or
            ``"raw_pitch_accuracy"`` (RPA-style, pitch only: the label's voiced frames within
            ``correct_cents``; a sample without voiced frames then takes no DWHS case).
        correct_cents: a voiced frame is right when within this many cents of the label (50).
        w_max: DWM outputs sigmoid(·)·w_max, so that 1 is the midpoint (Fig. 5 shows ω > 1).
        dwm_channels, dwm_pool_size, dwm_hidden_size: the DWM's conv channels, adaptive pooling
            size (time, bins) and hidden FC width (the paper gives none).
        detach_dwhs_weights: ω enters the task losses with stop-gradient (the DWM learns only from
            L_dwhs; otherwise the optimum is ω → 0).
        train_pe_on_target: (``naive`` / ``dwhs``) add ``target_pe_loss_weight · mean_b L_pe(PE(s), y)``,
            the pitch loss of the PE on the clean target vocals s, to the loss; that pass then
            learns (gradient into the PE, batch-norm statistics updated). Off (the paper): PE(s)
            is computed without gradient and leaves every running statistic untouched. Not for
            ``pipeline``, whose PE already learns from PE(s) alone.
        target_pe_loss_weight: λ of that term.
        pseudo_label_threshold: th of stage II — a frame confidence ≥ th counts as 1, else 0.
        confidence_normalization: how the thresholded confidences weigh the losses (Eq. 8/15).
            ``"all_frames"`` (the paper): Σ confi·L over frames divided by *all* frames, so a crop
            with 1 confident frame of 10 weighs a tenth of a fully confident one. ``"kept_frames"``:
            divided by each sample's kept frames (a per-sample mean over confident frames).
        resampler_zeros, resampler_rolloff: julius' sinc resampler between the separator's and the
            PE's sample rates (differentiable, in the graph).
    """

    model_type = "majl"
    sub_configs_defaults = {
        "separator_config": SubConfigSpec(config_class=AutoConfig, model_type="unet"),
        "pitch_config": SubConfigSpec(config_class=AutoConfig, model_type="crepe"),
    }

    separator_config: PreTrainedConfig | dict | None = None
    pitch_config: PreTrainedConfig | dict | None = None
    joint_method: str = "naive"
    label_sigma_cents: float | int = 25.0
    voicing_threshold: float | int = 0.5
    correct_frame_ratio: float | int = 0.9
    correct_rule: str = "overall_accuracy"
    correct_cents: float | int = 50.0
    w_max: float | int = 2.0
    dwm_channels: int = 8
    dwm_pool_size: list[int] | tuple[int, ...] = (16, 32)
    dwm_hidden_size: int = 64
    detach_dwhs_weights: bool = True
    train_pe_on_target: bool = False
    target_pe_loss_weight: float | int = 1.0
    pseudo_label_threshold: float | int = 0.7
    confidence_normalization: str = "all_frames"
    resampler_zeros: int = 24
    resampler_rolloff: float | int = 0.945

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        # Re-resolve sub-configs by model_type: robust to the same config module being imported
        # twice (remote code from a local folder) and to dicts assigned before saving.
        for name in ("separator_config", "pitch_config"):
            sub = getattr(self, name)
            if isinstance(sub, PreTrainedConfig):
                sub_dict = sub.to_dict()
            elif isinstance(sub, dict):
                sub_dict = dict(sub)
            else:
                raise ValueError(f"{name} must be a config or a dict with a model_type, got {type(sub).__name__}")
            model_type = sub_dict.pop("model_type", None)
            if model_type is None:
                raise ValueError(f"{name} needs a model_type (one of the registered backbones)")
            if not isinstance(sub, PreTrainedConfig) or type(sub) is not type(AutoConfig.for_model(model_type)):
                setattr(self, name, AutoConfig.for_model(model_type, **sub_dict))
        if not hasattr(self.separator_config, "audio_channels"):
            raise ValueError(f"separator_config ({self.separator_config.model_type}) is not a separator config")
        if not hasattr(self.pitch_config, "pitch_bins"):
            raise ValueError(f"pitch_config ({self.pitch_config.model_type}) is not a pitch-estimator config")
        self.dwm_pool_size = list(self.dwm_pool_size)
        check_choice("joint_method", self.joint_method, JOINT_METHODS)
        check_range("label_sigma_cents", self.label_sigma_cents, 0.0, 600.0)
        check_range("voicing_threshold", self.voicing_threshold, 0.0, 1.0)
        check_range("correct_frame_ratio", self.correct_frame_ratio, 0.0, 1.0)
        check_choice("correct_rule", self.correct_rule, CORRECT_RULES)
        check_range("correct_cents", self.correct_cents, 0.0, 1200.0, low_open=True)
        check_range("w_max", self.w_max, 1.0, 100.0, low_open=True)
        check_range("dwm_channels", self.dwm_channels, 1, 256)
        if len(self.dwm_pool_size) != 2:
            raise ValueError(f"dwm_pool_size must be [time, bins], got {self.dwm_pool_size}")
        for p in self.dwm_pool_size:
            check_range("dwm_pool_size[i]", p, 1, 1024)
        check_range("dwm_hidden_size", self.dwm_hidden_size, 1, 4096)
        check_range("pseudo_label_threshold", self.pseudo_label_threshold, 0.0, 1.0)
        check_choice("confidence_normalization", self.confidence_normalization, CONFIDENCE_NORMALIZATIONS)
        check_range("target_pe_loss_weight", self.target_pe_loss_weight, 0.0, 100.0)
        if self.train_pe_on_target and self.joint_method == "pipeline":
            raise ValueError(
                "train_pe_on_target adds L_pe on PE(true vocals) to naive / dwhs training; joint_method "
                "'pipeline' already trains the PE on the true vocals alone: leave train_pe_on_target off"
            )
        check_range("resampler_zeros", self.resampler_zeros, 4, 128)
        check_range("resampler_rolloff", self.resampler_rolloff, 0.5, 1.0)


AutoConfig.register("majl", MajlConfig, exist_ok=True)

__all__ = ["CONFIDENCE_NORMALIZATIONS", "CORRECT_RULES", "JOINT_METHODS", "MajlConfig"]
