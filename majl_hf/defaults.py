"""Names of the pretrained defaults (a leaf module: importing it imports nothing else)."""

DEFAULT_MODEL = "majl-hf/majl-unet-crepe-full"  # Spleeter 2stems U-Net + CREPE full (the paper's pipeline baseline)
DEFAULT_MODEL_TINY = "majl-hf/majl-unet-crepe-tiny"  # Spleeter 2stems U-Net + CREPE tiny (fast)
DEFAULT_REVISION = "main"
DEFAULT_VARIANTS = {"full": DEFAULT_MODEL, "tiny": DEFAULT_MODEL_TINY}
DEFAULT_PITCH_HOP = 320  # samples at 16 kHz = 20 ms, the MAJL paper's frame grid
