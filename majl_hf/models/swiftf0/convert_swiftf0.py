"""Convert SwiftF0's ``model.onnx`` (swift-f0 0.3.0, MIT) into ``SwiftF0Model`` (safetensors via save_pretrained).

The ONNX file ships inside the swift-f0 wheel on PyPI (``swift_f0/model.onnx``); this reads it with the
``onnx`` package (protobuf only — never onnxruntime), checks its sha256, takes the 18 convolutions'
weights in graph order, and checks the graph against the re-implementation: every convolution's kernel,
dilations and pads, the hop, the three Hann windows, the three filterbanks and the 95 pitch-bin
frequencies, which our model computes itself (they are not saved).

    python -m majl_hf.models.swiftf0.convert_swiftf0 --onnx ../shared/weights/swiftf0/model.onnx \
        --output-dir converted/swiftf0

Never imported by the library (``onnx`` is the ``convert`` extra).
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import torch

from .configuration_swiftf0 import SwiftF0Config
from .modeling_swiftf0 import SwiftF0Model

SWIFTF0_VERSION = "0.3.0"
WHEEL_NAME = f"swift_f0-{SWIFTF0_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "d7240c7c94b1d3e8f0e0cd2701b79be89a0f23a19cd5f944895a6518ecad72f3"
ONNX_SHA256 = "6385e8c2ebc3872e82c9ff5946228de44cd3be77a750ea53698b7dbfe94b0a22"

#: our module of each Conv node, in graph order
CONV_MODULES = (
    ["stem"]
    + [f"blocks.{i}.conv{j}" for i in range(6) for j in (1, 2)]
    + ["proj", "voicing_proj", "pitch_head", "voicing_conv", "voicing_out"]
)
#: pads of ``proj`` in the graph (bands top 1 / bottom 0, time 1 / 1), applied by hand in ``network``
PROJ_PADS = [1, 1, 0, 1]
#: graph initializers checked against what the model computes: hop, windows, filterbanks, bin frequencies
HOP_INIT = "v3"
WINDOW_INITS = {1024: "v41", 2048: "v161", 512: "v262"}
FILTERBANK_INITS = {1024: ("v123", "v124"), 2048: ("v241", "v242"), 512: ("v342", "v343")}
PITCH_HZ_INIT = "v438"
#: the angle steps 2π/M (float32) of the graph's two-stage DFTs: first stage, twiddles, second stage
DFT_STEP_INITS = {1024: ("v53", "v73", "v53"), 2048: ("v173", "v192", "v53"), 512: ("v53", "v290", "v314")}


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_onnx_bytes(path: Path) -> bytes:
    """``model.onnx`` itself, or the swift-f0 wheel holding it; sha256-checked."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".whl":
        if sha256_of(data) != WHEEL_SHA256:
            raise ValueError(
                f"{path}: sha256 {sha256_of(data)} is not swift-f0 {SWIFTF0_VERSION}'s wheel ({WHEEL_SHA256})"
            )
        with zipfile.ZipFile(path) as zf:
            data = zf.read("swift_f0/model.onnx")
    digest = sha256_of(data)
    if digest != ONNX_SHA256:
        raise ValueError(f"{path}: model.onnx sha256 {digest} is not swift-f0 {SWIFTF0_VERSION}'s ({ONNX_SHA256})")
    return data


def load_onnx_graph(path: Path):
    """(initializers by name as numpy arrays, Conv nodes in graph order as (inputs, attributes))."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(read_onnx_bytes(path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    convs = [
        (list(n.input), {a.name: helper.get_attribute_value(a) for a in n.attribute})
        for n in model.graph.node
        if n.op_type == "Conv"
    ]
    return inits, convs


def _expected_conv_attrs(module: torch.nn.Module, name: str) -> dict:
    kernel = list(module.kernel_size)
    dil = list(module.dilation)
    if name == "proj":
        pads = PROJ_PADS
    else:
        pads = list(module.padding) * 2
    return {"kernel_shape": kernel, "dilations": dil, "pads": pads, "strides": [1] * len(kernel), "group": 1}


def state_dict_from_onnx(path: Path, model: SwiftF0Model) -> dict[str, torch.Tensor]:
    """Our state dict from the graph, after checking its structure and constants against ``model``."""
    inits, convs = load_onnx_graph(path)
    if len(convs) != len(CONV_MODULES):
        raise ValueError(f"the graph has {len(convs)} Conv nodes, SwiftF0 {SWIFTF0_VERSION} has {len(CONV_MODULES)}")
    modules = dict(model.named_modules())
    state = {}
    for name, (inputs, attrs) in zip(CONV_MODULES, convs):
        module = modules[name]
        want = _expected_conv_attrs(module, name)
        got = {k: attrs.get(k) for k in want}
        if got != want:
            raise ValueError(f"Conv for {name}: graph attributes {got}, the re-implementation has {want}")
        weight, bias = inits[inputs[1]], inits[inputs[2]]
        state[f"{name}.weight"] = torch.from_numpy(np.array(weight, dtype=np.float32)).reshape(module.weight.shape)
        state[f"{name}.bias"] = torch.from_numpy(np.array(bias, dtype=np.float32)).reshape(module.bias.shape)
    check_constants(inits, model)
    return state


def check_constants(inits: dict, model: SwiftF0Model) -> None:
    """The constants our model computes on the fly equal the graph's initializers."""
    cfg = model.config
    if int(inits[HOP_INIT]) != cfg.native_hop_length:
        raise ValueError(f"graph hop {int(inits[HOP_INIT])} != native_hop_length {cfg.native_hop_length}")
    consts = model._constants("cpu")
    for n_fft in cfg.window_lengths:
        window, fb = consts[n_fft]["window"].numpy(), consts[n_fft]["filterbank"].numpy()
        a, b = consts[n_fft]["split"]
        for modulus, name in zip((a, n_fft, b), DFT_STEP_INITS[n_fft]):
            if np.float32(2 * np.pi / modulus) != inits[name]:
                raise ValueError(f"the {n_fft}-point DFT's factorisation {a}·{b} is not the graph's ({name})")
        if not np.array_equal(window, inits[WINDOW_INITS[n_fft]]):
            raise ValueError(f"the {n_fft}-sample window differs from the graph's")
        idx, val = FILTERBANK_INITS[n_fft]
        dense = np.zeros(fb.size, np.float32)
        dense[inits[idx]] = inits[val]
        if np.abs(dense.reshape(fb.shape) - fb).max() > 1e-7:
            raise ValueError(f"the {n_fft}-point filterbank differs from the graph's")
    hz = model.pitch_bins.bin_to_hz(np.arange(cfg.n_bins, dtype=np.float64))
    if np.abs(hz / inits[PITCH_HZ_INIT].astype(np.float64) - 1).max() > 1e-6:
        raise ValueError("the pitch-bin frequencies differ from the graph's")


def convert_swiftf0(
    onnx_path: Path, output_dir: Path | None = None, hop_length: int = 320, **config_kwargs
) -> SwiftF0Model:
    """Build a ``SwiftF0Model`` with the weights of ``onnx_path`` (``model.onnx`` or the swift-f0 wheel,
    sha256-checked; strict load) and optionally save it (safetensors)."""
    model = SwiftF0Model(SwiftF0Config(hop_length=hop_length, **config_kwargs))
    state = state_dict_from_onnx(onnx_path, model)
    model.load_state_dict(state, strict=True)
    model.eval()
    if output_dir is not None:
        model.save_pretrained(output_dir)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx", type=Path, required=True, help=f"swift_f0/model.onnx or {WHEEL_NAME}")
    parser.add_argument("--hop-length", type=int, default=320, help="output grid, samples at 16 kHz (256 = native)")
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    convert_swiftf0(args.onnx, args.output_dir, args.hop_length)
    print(f"saved SwiftF0 to {args.output_dir}")


if __name__ == "__main__":
    main()
