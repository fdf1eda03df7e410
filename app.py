"""The Hugging Face Space entry point (Gradio): ``python app.py``, as a Space runs it.

The page is :func:`majl_hf.app.build_demo` (also the ``majl-hf-app`` command); it offers the
pretrained models found in the local Hugging Face cache, else downloads the tiny default.
"""

import os

from majl_hf.app import build_demo, launch

demo = build_demo()

if __name__ == "__main__":
    # a Space sets GRADIO_SERVER_NAME=0.0.0.0; locally the demo listens on 127.0.0.1 only
    launch(demo, host=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
           port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
