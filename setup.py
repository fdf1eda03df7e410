"""majl_hf: joint singing-voice separation and vocal pitch estimation (MAJL) as a Hugging Face-style package."""

from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).parent

# Inference needs little. Training, evaluation, conversion and development tools are extras,
# imported lazily with an error that names the extra to install.
INSTALL_REQUIRES = [
    "torch>=2.4,<3",  # a range: CI installs torch==2.13.0 (CPU build) first, then this package
    "numpy>=1.24",
    "transformers>=5.0,<6",
    "huggingface_hub>=1.0",
    "safetensors>=0.4",
    "soundfile>=0.12",
    "soxr>=0.3",
    "julius>=0.2.7",
    "tqdm>=4.60",
    "matplotlib>=3.6",
]
EXTRAS = {
    "train": ["accelerate>=1.0", "datasets>=4.0", "pyyaml>=6.0", "tensorboard>=2.12"],
    "eval": ["mir_eval>=0.7,<0.9", "museval>=0.4", "evaluate>=0.4", "datasets>=4.0"],
    "convert": ["protobuf>=4.0", "onnx>=1.14"],
    "dev": ["pytest>=8.0", "ruff>=0.5", "playwright>=1.40"],  # playwright drives the system Chromium (test_app)
    "app": ["gradio>=5.0,<7", "pretty_midi>=0.2.10"],  # the web demo and MIDI files
}
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name="majl_hf",
    version="0.1.0",
    description="MAJL: joint singing-voice separation and vocal pitch estimation, Hugging Face style",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_namespace_packages(include=["majl_hf", "majl_hf.*"]),
    # model card templates and the committed measurements they quote: a wheel install renders the same cards
    package_data={
        "majl_hf": [
            "data/cards/*.md",
            "evaluation/metric_majl/*.py",
            "hub/model_cards/*.md",
            "hub/model_cards/measured/*.json",
            "hub/model_cards/measured/*.md",
        ]
    },
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["majl-vocal=majl_hf.cli:main", "majl-hf=majl_hf.build_cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Multimedia :: Sound/Audio :: Analysis",
    ],
)
