"""Audio files in and out, in one place: reading (soundfile; any rate and channel count), the one
channel-conversion rule, writing, and :func:`save_result`, which writes a ``majl-vocal`` result the
way the command line does.

Arrays are float32 ``(channels, samples)`` throughout (the transformers / demucs layout; soundfile's
own layout is ``(samples, channels)``, which is why ``sf.write("v.wav", result["vocals"], sr)``
fails: use :func:`write_audio` or :func:`save_result`)::

    import majl_hf
    from transformers import pipeline
    result = pipeline("majl-vocal")("song.mp3")
    paths = majl_hf.save_result(result, "out/", "song")  # out/song_vocals.wav, ..._f0.csv/.json/.png

Reading is honest about damaged files: a WAV whose header promises more data than the file holds,
or a compressed file (MP3, FLAC, OGG) that decodes fewer samples than its header announces, gives
what could be decoded and a :class:`PartialAudioWarning` that says how much is missing. A file that
is not audio at all raises :class:`AudioInputError` naming the file and what libsndfile said.

Writing never clips silently: samples beyond ±1 written as integer PCM are clipped with a
:class:`ClippingWarning` giving the fraction clipped (``clip="warn"``), or the outputs are scaled to
fit (``clip="scale"``), or written as float (``clip="float"``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
import re
import struct
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".opus")
MAX_CHANNELS_KEPT = 2  # more channels are downmixed to mono with a warning
OUTPUT_SOFTWARE_TAG = "majl-hf"  # written into the 'software' field of every audio file we write
SUBTYPE_ALIASES = {"16": "PCM_16", "24": "PCM_24", "32": "PCM_32", "float": "FLOAT", "double": "DOUBLE"}
CLIP_MODES = ("warn", "scale", "float")
TEMPLATE_FIELDS = ("name", "part", "ext", "parent")
DEFAULT_TEMPLATE = "{name}_{part}.{ext}"
_BLOCK_FRAMES = 1 << 18  # frames decoded per read call
_SMALL_BLOCK_FRAMES = 4096  # after a decoding error: read up to the damage
_MPEG_TOLERANCE = 0.01  # an MP3's frame count is an estimate when it has no Xing/Info header


class AudioInputError(ValueError):
    """Input audio that cannot be used, with a message that says what to do."""


class PartialAudioWarning(UserWarning):
    """The file holds less audio than its header announces (truncated download or copy)."""


class ClippingWarning(UserWarning):
    """Samples beyond ±1 were clipped when writing integer PCM."""


# ---------------------------------------------------------------------------------------------- reading


@dataclass
class AudioFileInfo:
    """What a file's header says, and, after decoding, how much of it was there."""

    path: str
    sampling_rate: int
    channels: int
    expected_frames: int  # what the header announces
    frames: int | None = None  # decoded (None until decoded)
    format: str = ""
    subtype: str = ""
    problem: str | None = None  # a one-line description when the file is partial

    @property
    def duration_s(self) -> float:
        return (self.frames if self.frames is not None else self.expected_frames) / self.sampling_rate

    @property
    def partial(self) -> bool:
        return self.problem is not None


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


def _undecodable(path: Path, err: Exception) -> AudioInputError:
    """libsndfile's message for a file it cannot open is often misleading (a text file named .mp3
    gives 'File does not exist'): say what is really known."""
    said = str(err).replace(f"Error opening {str(path)!r}: ", "").strip().rstrip(".") or type(err).__name__
    size = path.stat().st_size
    if size == 0:
        return AudioInputError(f"{path}: the file is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(512)
    hint = " It looks like a text file." if _looks_like_text(head) else ""
    return AudioInputError(
        f"not an audio file we can decode: {path} ({size} bytes; libsndfile says: {said}).{hint} Supported: WAV, "
        "FLAC, OGG, MP3, AIFF; if it is audio, it may be corrupt or truncated: re-export it or convert it with ffmpeg"
    )


def _wav_expected_frames(path: Path, block_align_hint: int) -> int | None:
    """Frames the RIFF ``data`` chunk announces (libsndfile reports what is present instead), or
    None when unknown (not RIFF, a streaming placeholder size, no data chunk found)."""
    try:
        with open(path, "rb") as f:
            riff = f.read(12)
            if len(riff) < 12 or riff[:4] not in (b"RIFF", b"RIFX") or riff[8:12] != b"WAVE":
                return None
            endian = "<" if riff[:4] == b"RIFF" else ">"
            block_align = block_align_hint
            while True:
                head = f.read(8)
                if len(head) < 8:
                    return None
                chunk, size = head[:4], struct.unpack(endian + "I", head[4:])[0]
                if chunk == b"fmt ":
                    fmt = f.read(size + (size & 1))
                    if len(fmt) >= 14:
                        block_align = struct.unpack(endian + "H", fmt[12:14])[0] or block_align
                    continue
                if chunk == b"data":
                    if size in (0, 0xFFFFFFFF) or block_align <= 0:  # written by a stream: size unknown
                        return None
                    return size // block_align
                f.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None


def _open(path: Path) -> sf.SoundFile:
    if not path.exists():
        raise AudioInputError(f"{path}: no such file")
    if path.is_dir():
        raise AudioInputError(f"{path}: is a folder; give an audio file (the command line accepts folders)")
    try:
        with _quiet_decoder():
            return sf.SoundFile(str(path))
    except Exception as err:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise _undecodable(path, err) from None


@contextlib.contextmanager
def _quiet_decoder():
    """mpg123 prints notes ('Illegal Audio-MPEG-Header', 'Xing stream size off') straight to file
    descriptor 2; keep them out of the user's terminal and log them at debug level instead (what
    matters, a shortfall of samples, is measured and reported as a warning)."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (embedded interpreters): leave it
        yield
        return
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            said = sink.read().decode("utf-8", "replace").strip()
            if said:
                logger.debug("decoder messages: %s", said)


def probe_audio_file(path) -> AudioFileInfo:
    """The header only (cheap, nothing decoded): rate, channels, announced length. Raises
    :class:`AudioInputError` for a missing or undecodable file; ``problem`` is set when a WAV's
    header announces more data than the file holds."""
    path = Path(path)
    with _open(path) as f:
        info = AudioFileInfo(str(path), int(f.samplerate), int(f.channels), int(f.frames), None, f.format, f.subtype)
    if info.format in ("WAV", "WAVEX"):
        announced = _wav_expected_frames(path, info.channels * 2)
        if announced is not None and announced > info.expected_frames:
            info.problem = _partial_message(path, info.expected_frames, announced, info.sampling_rate)
            info.frames, info.expected_frames = info.expected_frames, announced
    return info


def _partial_message(path, got: int, expected: int, sr: int) -> str:
    return (f"{path}: partial file: the header announces {expected / sr:.2f} s but only {got / sr:.2f} s "
            f"({100 * got / max(expected, 1):.0f} %) could be read; the file was probably cut short "
            "(interrupted download or copy); the outputs cover only what was read")


def read_audio(path) -> tuple[np.ndarray, int, AudioFileInfo]:
    """Decode a whole file → float32 ``(channels, samples)``, the rate, and its :class:`AudioFileInfo`.

    A partial file gives what could be decoded and a :class:`PartialAudioWarning` (also in
    ``info.problem``); a file with no decodable audio raises :class:`AudioInputError`.
    """
    path = Path(path)
    info = probe_audio_file(path)
    with _open(path) as f:
        expected = max(int(f.frames), 0)
        out = np.empty((max(expected, 1), f.channels), dtype=np.float32)
        pos, error, block = 0, None, _BLOCK_FRAMES
        with _quiet_decoder():
            while True:
                if pos == out.shape[0]:  # more than announced (an MP3 estimate): grow
                    out = np.concatenate([out, np.empty((max(out.shape[0] // 4, _BLOCK_FRAMES), f.channels),
                                                        np.float32)])
                try:
                    n = len(f.read(min(block, out.shape[0] - pos), dtype="float32", out=out[pos:]))
                except Exception as err:  # noqa: BLE001 - the decoder gave up part-way (truncated FLAC)
                    error = error or err
                    if block == _SMALL_BLOCK_FRAMES:
                        break
                    try:  # keep what decodes before the damage: go back and read in small blocks
                        f.seek(pos)
                    except Exception:  # noqa: BLE001
                        break
                    block = _SMALL_BLOCK_FRAMES
                    continue
                if n == 0:
                    break
                pos += n
                if block == _SMALL_BLOCK_FRAMES and pos >= expected:  # recovered to the announced end
                    error = None
    if pos == 0:
        if error is not None:
            raise _undecodable(path, error)
        raise AudioInputError(f"{path}: the audio is empty (0 samples)")
    audio = out[:pos].T
    info.frames = pos
    announced = max(info.expected_frames, expected)
    tolerance = 0
    if info.format in ("MP3", "MPEG") and error is None:  # the count is an estimate unless the file has a Xing header
        tolerance = max(int(_MPEG_TOLERANCE * announced), info.sampling_rate // 20)
    if announced - pos > tolerance or error is not None:
        info.problem = _partial_message(path, pos, max(announced, pos), info.sampling_rate)
        if error is not None:
            info.problem += f" (the decoder stopped: {str(error).strip()})"
    if info.problem:
        warnings.warn(info.problem, PartialAudioWarning, stacklevel=2)
    return audio, int(info.sampling_rate), info


def read_audio_file(path) -> tuple[np.ndarray, int]:
    """Decode a file → float32 ``(channels, samples)`` and its rate (WAV, FLAC, OGG/Vorbis/Opus, MP3,
    AIFF). Partial files warn (:class:`PartialAudioWarning`); undecodable ones raise."""
    audio, sr, _ = read_audio(path)
    return audio, sr


def read_audio_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Decode file contents held in memory → float32 ``(channels, samples)`` and the rate."""
    if len(data) == 0:
        raise AudioInputError("empty bytes: no audio to decode")
    try:
        with _quiet_decoder():
            audio, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as err:
        raise AudioInputError(f"cannot decode the given bytes as audio ({err}); pass WAV/FLAC/OGG/MP3 file contents"
                              ) from None
    return audio.T, int(sr)


# ---------------------------------------------------------------------------------------------- channels


def convert_channels(audio: np.ndarray, channels: int | None = None, *, source: str = "audio") -> np.ndarray:
    """The one channel rule, for ``(channels, samples)`` arrays.

    More than two channels are first mixed down to mono (their mean), with a warning. Then, when
    ``channels`` is given: mono → n channels duplicates it; n channels → mono takes the mean; other
    counts go through mono. ``channels=None`` keeps mono and stereo as they are.
    """
    if audio.shape[0] > MAX_CHANNELS_KEPT:
        warnings.warn(f"{source}: {audio.shape[0]} channels downmixed to mono (the outputs are mono)", stacklevel=2)
        audio = audio.mean(0, keepdims=True)
    if channels is None or audio.shape[0] == channels:
        return audio
    if audio.shape[0] != 1:
        audio = audio.mean(0, keepdims=True)
    return audio if channels == 1 else np.repeat(audio, channels, axis=0)


# ---------------------------------------------------------------------------------------------- writing


def normalize_subtype(subtype: str | None) -> str | None:
    """``"16"`` / ``"24"`` / ``"float"`` (the CLI's spellings) or soundfile's ``"PCM_16"`` ... → soundfile's name."""
    if subtype is None:
        return None
    s = str(subtype)
    return SUBTYPE_ALIASES.get(s.lower(), s.upper())


def check_output_format(format: str, subtype: str | None, clip: str = "warn") -> tuple[str, str | None]:
    """Validate a format / subtype / clip combination before any work; returns (FORMAT, SUBTYPE).
    Raises ValueError with a message that names the problem."""
    fmt = str(format).upper().lstrip(".")
    if fmt not in sf.available_formats():
        raise ValueError(f"unknown audio format {format!r}; use wav or flac")
    st = normalize_subtype(subtype)
    if clip not in CLIP_MODES:
        raise ValueError(f"clip={clip!r}: use one of {', '.join(CLIP_MODES)}")
    if st is not None and not sf.check_format(fmt, st):
        ok = ", ".join(s for s in ("PCM_16", "PCM_24", "FLOAT") if sf.check_format(fmt, s))
        raise ValueError(f"{fmt} cannot store samples as {st}; {fmt} takes {ok}"
                         + (" (FLAC is integer-only: use 16 or 24, or WAV for float)" if fmt == "FLAC" else ""))
    if clip == "float" and not sf.check_format(fmt, "FLOAT"):
        raise ValueError(f"clip='float' writes float samples when a part exceeds ±1, which {fmt} cannot store; "
                         "use clip='scale' or 'warn', or WAV")
    return fmt, st


def _is_float_subtype(subtype: str | None) -> bool:
    return subtype in ("FLOAT", "DOUBLE")


@dataclass
class WriteReport:
    """What :func:`write_audio` did: the subtype written, the peak, clipped samples, the gain applied."""

    path: Path
    subtype: str
    peak: float
    clipped_fraction: float = 0.0
    gain: float = 1.0
    message: str | None = None


def _atomic_target(path: Path):
    """A temporary name beside ``path``; renamed over it once complete (no half-written outputs)."""
    return path.with_name(f".{path.name}.part{os.getpid()}")


def _check_overwrite(paths, overwrite: bool) -> None:
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"would overwrite {len(existing)} existing file(s): {', '.join(existing[:5])}"
                              + (" ..." if len(existing) > 5 else "") + "; pass overwrite=True")


def write_audio(path, audio: np.ndarray, sampling_rate: int, *, format: str | None = None, subtype: str | None = None,
                clip: str = "warn", overwrite: bool = False, gain: float = 1.0, comment: str | None = None
                ) -> WriteReport:
    """Write float ``(channels, samples)`` (or 1-D mono) audio. ``format`` defaults to the suffix,
    ``subtype`` to soundfile's default for the format (``"16"``, ``"24"``, ``"float"`` or soundfile's
    names). Integer PCM holds ±1: beyond it ``clip="warn"`` clips and warns with the fraction of
    samples clipped, ``"scale"`` scales the file to peak at ±1 (``gain`` is applied first; pass the
    same ``gain`` to several files to keep them summing to the same mixture), ``"float"`` writes
    float samples instead. The file is written beside its target and renamed, so an interrupted
    write never leaves a half file; an existing file is replaced only with ``overwrite=True``."""
    path = Path(path)
    fmt, st = check_output_format(format or path.suffix or "wav", subtype, clip)
    st = st or sf.default_subtype(fmt)
    _check_overwrite([path], overwrite)
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[0] > a.shape[1]:
        raise ValueError(f"audio must be (channels, samples), got shape {a.shape}"
                         + ("; pass audio.T" if a.ndim == 2 else ""))
    if gain != 1.0:
        a = a * np.float32(gain)
    peak = float(np.abs(a).max()) if a.size else 0.0
    report = WriteReport(path, st, peak, gain=gain)
    if peak > 1.0 and not _is_float_subtype(st):
        if clip == "float":
            report.subtype = st = "FLOAT"
            report.message = f"peaks at {peak:.2f} (beyond ±1): written as float to avoid clipping"
        elif clip == "scale":
            extra = 1.0 / peak
            a = a * np.float32(extra)
            report.gain = gain * extra
            report.message = f"peaks at {peak:.2f}: scaled by {extra:.3f} to fit {st}"
        else:
            over = int(np.count_nonzero(np.abs(a) > 1.0))
            report.clipped_fraction = over / a.size
            a = np.clip(a, -1.0, 1.0)
            report.message = (f"{over} samples ({100 * report.clipped_fraction:.2g} %) beyond ±1 clipped "
                              f"(peak {peak:.2f}); use clip 'scale' or 'float' to keep them")
            warnings.warn(f"{path.name}: {report.message}", ClippingWarning, stacklevel=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _atomic_target(path)
    try:
        with sf.SoundFile(str(tmp), "w", int(sampling_rate), a.shape[0], st, format=fmt) as f:
            from .version import __version__

            f.software = f"{OUTPUT_SOFTWARE_TAG} {__version__}"
            if comment:
                f.comment = comment
            f.write(a.T)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return report


def is_own_output(path) -> bool:
    """True for an audio file written by :func:`write_audio` (its 'software' tag), so that a folder
    holding both songs and our outputs is never re-read as input."""
    try:
        with _quiet_decoder(), sf.SoundFile(str(path)) as f:
            return (f.software or "").startswith(OUTPUT_SOFTWARE_TAG)
    except Exception:  # noqa: BLE001 - not readable: not ours
        return False


# ---------------------------------------------------------------------------------------------- results

PARTS = ("vocals", "accompaniment", "f0.csv", "f0.json", "f0.png")


def check_template(template: str) -> None:
    """A file-name template with fields ``{name}`` ``{part}`` ``{ext}`` ``{parent}``: refuse, before
    any work, one that cannot be formatted or maps two outputs of a song to one path. ValueError."""
    try:
        paths = {key: _render(template, "song", key, "wav", "album") for key in PARTS}
    except KeyError as err:
        raise ValueError(f"bad template {template!r}: unknown field {{{err.args[0]}}}; use "
                         + " ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS)) from None
    except (IndexError, ValueError) as err:
        raise ValueError(f"bad template {template!r}: {err}; use the named fields "
                         + " ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS)) from None
    seen: dict[str, str] = {}
    for key, p in paths.items():
        if p in seen:
            need = "{part}" if "{part}" not in template else "{ext}"
            raise ValueError(f"bad template {template!r}: it writes {seen[p]} and {key} to the same file ({p}); "
                             f"include {need}")
        seen[p] = key
    for p in paths.values():
        if Path(p).is_absolute() or ".." in Path(p).parts:
            raise ValueError(f"bad template {template!r}: it must give a relative path inside the output folder")


def _render(template: str, name: str, key: str, audio_ext: str, parent: str = "") -> str:
    part, _, ext = key.partition(".")
    return template.format(name=name, part=part, ext=ext or audio_ext, parent=parent)


def output_paths(folder, template: str, name: str, *, format: str = "wav", parent: str = "",
                 parts=PARTS) -> dict[str, Path]:
    """Where :func:`save_result` writes each part (keys from ``PARTS``)."""
    ext = str(format).lower().lstrip(".")
    return {key: Path(folder) / _render(template, name, key, ext, parent) for key in parts}


def _split_target(folder_or_template) -> tuple[Path, str]:
    s = os.fspath(folder_or_template)
    if "{" not in s:
        return Path(s), DEFAULT_TEMPLATE
    # the folder is the part before the first field: "out/{name}/{part}.{ext}" → out, {name}/{part}.{ext}
    head = s[: s.index("{")]
    cut = max(head.rfind("/"), head.rfind(os.sep))
    return Path(s[: cut + 1] or "."), s[cut + 1:]


@dataclass
class SavedResult:
    """What :func:`save_result` wrote: ``paths`` (part → file), messages about clipping or scaling
    (also sent as warnings), and the gain applied to both audio parts (``clip="scale"``)."""

    paths: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    gain: float = 1.0

    def __iter__(self):
        return iter(self.paths.values())


def save_result(result: dict, folder_or_template, name: str, *, format: str = "wav", subtype: str | None = "16",
                overwrite: bool = False, plot: bool = True, clip: str = "warn", template: str | None = None,
                parts=None, source=None, metadata: dict | None = None) -> SavedResult:
    """Write a ``majl-vocal`` pipeline result as the command line does.

    ``folder_or_template``: a folder (files are named ``{name}_{part}.{ext}``, or ``template`` when
    given) or a path template such as ``"out/{name}/{part}.{ext}"`` (fields ``{name}`` ``{part}``
    ``{ext}`` ``{parent}``). Writes
    ``vocals`` and ``accompaniment`` (those present in ``result``) as ``format`` (``"wav"`` or
    ``"flac"``) with ``subtype`` (``"16"``, ``"24"``, ``"float"`` or soundfile's names), the f0 track
    as CSV (``time_s,f0_hz,confidence,voiced``, ``\\n`` line ends) and JSON, and with ``plot`` a PNG of
    the f0 over the vocals' spectrogram. ``clip``: what to do with samples beyond ±1 in integer PCM
    (``"warn"``: clip them and warn with the fraction; ``"scale"``: one gain for both parts so that
    the louder peaks at ±1 and vocals + accompaniment still sum to the scaled mixture, recorded in the
    JSON as ``output_gain``; ``"float"``: write such files as float). Nothing is written when a target
    exists, unless ``overwrite=True``. ``source`` (the input's path) fills ``{parent}`` and the JSON;
    ``metadata`` is merged into the JSON. Returns a :class:`SavedResult` (iterate it for the paths).
    """
    if template is None:
        folder, template = _split_target(folder_or_template)
    else:
        folder = Path(folder_or_template)
    check_template(template)
    fmt, st = check_output_format(format, subtype, clip)
    parent = Path(source).parent.name if source is not None else ""
    keys = [k for k in PARTS if (k in result if "." not in k else k != "f0.png" or plot)]
    if parts is not None:
        keys = [k for k in keys if k in parts]
    paths = output_paths(folder, template, name, format=fmt, parent=parent, parts=keys)
    _check_overwrite(paths.values(), overwrite)
    sr = int(result["sampling_rate"])
    saved = SavedResult()
    audio_keys = [k for k in keys if "." not in k]
    if clip == "scale" and not _is_float_subtype(st or sf.default_subtype(fmt)):
        peak = max((float(np.abs(result[k]).max()) for k in audio_keys if np.size(result[k])), default=0.0)
        if peak > 1.0:
            saved.gain = 1.0 / peak
            msg = (f"{name}: outputs peak at {peak:.2f} (beyond ±1): {' and '.join(audio_keys)} scaled by "
                   f"{saved.gain:.3f} ({20 * math.log10(saved.gain):.1f} dB) to fit {st or 'PCM'}")
            saved.messages.append(msg)
            warnings.warn(msg, ClippingWarning, stacklevel=2)
    for key in audio_keys:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ClippingWarning)  # re-sent below with the song's name
            report = write_audio(paths[key], result[key], sr, format=fmt, subtype=st, clip=clip, overwrite=True,
                                 gain=saved.gain, comment=f"{key} of {Path(source).name if source else name}")
        saved.paths[key] = paths[key]
        if report.message:  # clipped, or written as float
            saved.messages.append(f"{key}: {report.message}")
            warnings.warn(saved.messages[-1], ClippingWarning, stacklevel=2)
    times, f0 = np.asarray(result["times_s"]), np.asarray(result["f0_hz"])
    confidence, voiced = np.asarray(result["confidence"]), np.asarray(result["voiced"])
    if "f0.csv" in paths:
        _write_text(paths["f0.csv"], _f0_csv(times, f0, confidence, voiced))
        saved.paths["f0.csv"] = paths["f0.csv"]
    if "f0.json" in paths:
        doc = {"source": str(source) if source is not None else None, "sampling_rate": sr,
               "hop_s": float(times[1] - times[0]) if len(times) > 1 else None}
        doc.update(metadata or {})
        if saved.gain != 1.0:
            doc["output_gain"] = saved.gain
        doc.update({
            "times_s": [round(float(t), 4) for t in times],
            "f0_hz": [round(float(x), 3) for x in f0],
            "confidence": [round(float(x), 4) for x in confidence],
            "voiced": [bool(x) for x in voiced],
        })
        _write_text(paths["f0.json"], json.dumps(doc))
        saved.paths["f0.json"] = paths["f0.json"]
    if "f0.png" in paths:
        from .plotting import plot_f0_over_spectrogram

        vocals = result.get("vocals")
        if vocals is None:
            vocals = np.zeros((1, int(round((times[-1] if len(times) else 0) * sr)) + 1), np.float32)
        tmp = _atomic_target(paths["f0.png"])
        paths["f0.png"].parent.mkdir(parents=True, exist_ok=True)
        try:
            plot_f0_over_spectrogram(vocals, sr, times, f0, voiced, tmp,
                                     title=Path(source).name if source is not None else name)
            os.replace(tmp, paths["f0.png"])
        finally:
            if tmp.exists():
                tmp.unlink()
        saved.paths["f0.png"] = paths["f0.png"]
    return saved


def _f0_csv(times, f0, confidence, voiced) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")  # csv's default is "\r\n", which Unix tools miscount
    w.writerow(["time_s", "f0_hz", "confidence", "voiced"])
    for t, f, c, v in zip(times, f0, confidence, voiced):
        w.writerow([f"{t:.3f}", f"{f:.3f}", f"{c:.4f}", int(v)])
    return buf.getvalue()


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _atomic_target(path)
    try:
        with open(tmp, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def template_regex(template: str, formats=("wav", "flac")) -> re.Pattern:
    """A regex matching the audio files a template produces (relative, '/'-separated paths)."""
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[pos:m.start()]))
        out.append({"name": ".+", "parent": "[^/]*", "part": "(?:vocals|accompaniment)",
                    "ext": "(?:" + "|".join(formats) + ")"}.get(m.group(1), ".*"))
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out), re.IGNORECASE)


__all__ = [
    "AUDIO_EXTENSIONS", "AudioFileInfo", "AudioInputError", "CLIP_MODES", "ClippingWarning", "DEFAULT_TEMPLATE",
    "PARTS", "PartialAudioWarning", "SavedResult", "WriteReport", "check_output_format", "check_template",
    "convert_channels", "is_own_output", "normalize_subtype", "output_paths", "probe_audio_file", "read_audio",
    "read_audio_bytes", "read_audio_file", "save_result", "template_regex", "write_audio",
]
