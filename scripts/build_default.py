"""Build the pretrained defaults from the original weights and seed the local HF cache."""

import sys

from majl_hf.hub.convert_default import main

if __name__ == "__main__":
    sys.exit(main())
