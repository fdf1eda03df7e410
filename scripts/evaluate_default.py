"""Measure the pretrained defaults on the real excerpts and write the numbers into their cards."""

import sys

from majl_hf.hub.evaluate_default import main

if __name__ == "__main__":
    sys.exit(main())
