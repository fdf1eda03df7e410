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


class AudioBlockReader:
    """Decode a file block by block, with :func:`read_audio`'s honesty about damaged files.

    ``blocks()`` yields float32 ``(frames, channels)`` arrays (soundfile's layout) in file order;
    each call decodes the file again from its start (a first pass can measure, a second process).
    When a pass ends, ``info.frames`` holds the frames decoded and ``info.problem`` says what is
    missing (a :class:`PartialAudioWarning` is sent unless ``warn=False``); a file with no
    decodable audio raises :class:`AudioInputError`. Decoder notes on file descriptor 2 are kept
    out of the terminal around each read only, so the caller's own output between blocks is left
    alone. Memory: one block (``block_frames``)."""

    def __init__(self, path, block_frames: int = _BLOCK_FRAMES):
        self.path = Path(path)
        self.info = probe_audio_file(self.path)
        self.block_frames = int(block_frames)

    @property
    def sampling_rate(self) -> int:
        return int(self.info.sampling_rate)

    @property
    def channels(self) -> int:
        return int(self.info.channels)

    def blocks(self, warn: bool = True):
        path, info = self.path, self.info
        with _open(path) as f:
            expected = max(int(f.frames), 0)
            pos, error, block = 0, None, self.block_frames
            while True:
                try:
                    with _quiet_decoder():
                        data = f.read(block, dtype="float32", always_2d=True)
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
                n = len(data)
                if n == 0:
                    break
                pos += n
                if block == _SMALL_BLOCK_FRAMES and pos >= expected:  # recovered to the announced end
                    error = None
                yield data
        if pos == 0:
            if error is not None:
                raise _undecodable(path, error)
            raise AudioInputError(f"{path}: the audio is empty (0 samples)")
        info.frames = pos
        announced = max(info.expected_frames, expected)
        tolerance = 0
        if info.format in ("MP3", "MPEG") and error is None:  # the count is an estimate unless there is a Xing header
            tolerance = max(int(_MPEG_TOLERANCE * announced), info.sampling_rate // 20)
        info.problem = None
        if announced - pos > tolerance or error is not None:
            info.problem = _partial_message(path, pos, max(announced, pos), info.sampling_rate)
            if error is not None:
                info.problem += f" (the decoder stopped: {str(error).strip()})"
        if info.problem and warn:
            warnings.warn(info.problem, PartialAudioWarning, stacklevel=2)


def read_audio(path) -> tuple[np.ndarray, int, AudioFileInfo]:
    """Decode a whole file → float32 ``(channels, samples)``, the rate, and its :class:`AudioFileInfo`.

    A partial file gives what could be decoded and a :class:`PartialAudioWarning` (also in
    ``info.problem``); a file with no decodable audio raises :class:`AudioInputError`. To process a
    long file in bounded memory, read it with :class:`AudioBlockReader` instead.
    """
    reader = AudioBlockReader(path)
    out, pos = None, 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PartialAudioWarning)
        for data in reader.blocks():
            if out is None:
                out = np.empty((max(reader.info.expected_frames, len(data), 1), data.shape[1]), dtype=np.float32)
            if pos + len(data) > out.shape[0]:  # more than announced (an MP3 estimate): grow
                grow = max(out.shape[0] // 4, _BLOCK_FRAMES, pos + len(data) - out.shape[0])
                out = np.concatenate([out, np.empty((grow, out.shape[1]), np.float32)])
            out[pos : pos + len(data)] = data
            pos += len(data)
    for w in caught:  # re-sent from here, so that it points at the caller
        warnings.warn(w.message, w.category, stacklevel=2)
    return out[:pos].T, reader.sampling_rate, reader.info


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


class BlockAudioWriter:
    """Write float ``(channels, frames)`` audio block by block with :func:`write_audio`'s rules
    (format, subtype, ``clip``, ``gain``, atomic rename, the 'software' tag), in memory bounded by one
    block.

    Integer PCM beyond ±1 needs the peak of the whole file before the first sample is written for
    ``clip="scale"`` (one gain for the file) and ``clip="float"`` (the subtype): when ``peak`` (of
    the unscaled audio) is not given, such a file is spooled as raw float32 beside its target while
    the blocks come, then converted in blocks by :meth:`close` (which may also set ``gain`` then, so
    that several files can share one gain chosen from all their peaks). Float subtypes, ``clip="warn"``
    (clipping and counting are per sample) and a known peak write straight to the file.
    :meth:`close` returns the :class:`WriteReport` (and sends the :class:`ClippingWarning` for
    clipped samples, as :func:`write_audio` does); :meth:`abort` removes what was written.
    """

    def __init__(self, path, sampling_rate: int, channels: int, *, format: str | None = None,
                 subtype: str | None = None, clip: str = "warn", overwrite: bool = False, gain: float = 1.0,
                 peak: float | None = None, comment: str | None = None):
        self.path = Path(path)
        fmt, st = check_output_format(format or self.path.suffix or "wav", subtype, clip)
        self.format, self.subtype = fmt, st or sf.default_subtype(fmt)
        _check_overwrite([self.path], overwrite)
        self.sampling_rate, self.channels = int(sampling_rate), int(channels)
        self.clip, self.gain, self.comment = clip, float(gain), comment
        self.frames, self.over = 0, 0
        self._peak = 0.0  # of the unscaled blocks
        self._known_peak = peak
        self._tmp = _atomic_target(self.path)
        self._spool_path = self.path.with_name(f".{self.path.name}.spool{os.getpid()}")
        self._file = self._spool = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        needs_peak = not _is_float_subtype(self.subtype) and clip in ("scale", "float")
        if needs_peak and peak is None:
            self._spool = open(self._spool_path, "wb")
        else:
            self._open_target(self._decide(peak))

    @property
    def peak(self) -> float:
        """Peak |sample| of the (unscaled) blocks written so far."""
        return self._peak

    def _decide(self, peak: float | None) -> tuple[str, float, str | None]:
        """(subtype, extra gain, message) for a file whose unscaled peak is ``peak`` (None: unknown,
        only possible with float subtypes or clip='warn', which decide sample by sample)."""
        if peak is None or _is_float_subtype(self.subtype):
            return self.subtype, 1.0, None
        scaled = float(np.float32(peak) * np.float32(self.gain)) if self.gain != 1.0 else float(np.float32(peak))
        if scaled > 1.0 and self.clip == "float":
            return "FLOAT", 1.0, f"peaks at {scaled:.2f} (beyond ±1): written as float to avoid clipping"
        if scaled > 1.0 and self.clip == "scale":
            extra = 1.0 / scaled
            return self.subtype, extra, f"peaks at {scaled:.2f}: scaled by {extra:.3f} to fit {self.subtype}"
        return self.subtype, 1.0, None

    def _open_target(self, decision) -> None:
        self._subtype_written, self._extra, self._message = decision
        self._file = sf.SoundFile(str(self._tmp), "w", self.sampling_rate, self.channels, self._subtype_written,
                                  format=self.format)
        from .version import __version__

        self._file.software = f"{OUTPUT_SOFTWARE_TAG} {__version__}"
        if self.comment:
            self._file.comment = self.comment

    def _scaled(self, a: np.ndarray) -> np.ndarray:
        """``a`` as :func:`write_audio` writes it: gain, then the extra scaling or the clipping."""
        if self.gain != 1.0:
            a = a * np.float32(self.gain)
        if self._extra != 1.0:
            a = a * np.float32(self._extra)
        elif self.clip == "warn" and not _is_float_subtype(self._subtype_written):
            over = np.abs(a) > 1.0
            n_over = int(np.count_nonzero(over))
            if n_over:
                self.over += n_over
                a = np.clip(a, -1.0, 1.0)
        return a

    def write(self, block: np.ndarray) -> None:
        """Append a float ``(channels, frames)`` block."""
        a = np.asarray(block, dtype=np.float32)
        if a.ndim == 1:
            a = a[None]
        if a.ndim != 2 or a.shape[0] != self.channels:
            raise ValueError(f"block must be ({self.channels}, frames), got shape {a.shape}")
        if a.shape[1] == 0:
            return
        self._peak = max(self._peak, float(np.abs(a).max()))
        self.frames += a.shape[1]
        if self._spool is not None:
            self._spool.write(np.ascontiguousarray(a.T).tobytes())
        else:
            self._file.write(self._scaled(a).T)

    def close(self, gain: float | None = None) -> WriteReport:
        """Finish the file (converting the spool, with ``gain`` when given) and rename it into place."""
        try:
            if self._spool is not None:
                self._spool.close()
                self._spool = None
                if gain is not None:
                    self.gain = float(gain)
                self._open_target(self._decide(self._peak))
                frame_bytes = 4 * self.channels
                with open(self._spool_path, "rb") as f:
                    while True:
                        raw = f.read(_BLOCK_FRAMES * frame_bytes)
                        if not raw:
                            break
                        a = np.frombuffer(raw, dtype=np.float32).reshape(-1, self.channels).T
                        self._file.write(self._scaled(a).T)
            elif gain is not None and float(gain) != self.gain:
                raise ValueError("the gain of a file written straight to disk is fixed when it is opened")
            self._file.close()
            self._file = None
            os.replace(self._tmp, self.path)
        finally:
            self.abort()
        peak = float(np.float32(self._peak) * np.float32(self.gain)) if self.gain != 1.0 else float(
            np.float32(self._peak))
        report = WriteReport(self.path, self._subtype_written, peak, gain=self.gain * self._extra,
                             message=self._message)
        if self.over:
            report.clipped_fraction = self.over / (self.frames * self.channels)
            report.message = (f"{self.over} samples ({100 * report.clipped_fraction:.2g} %) beyond ±1 clipped "
                              f"(peak {peak:.2f}); use clip 'scale' or 'float' to keep them")
            warnings.warn(f"{self.path.name}: {report.message}", ClippingWarning, stacklevel=2)
        return report

    def abort(self) -> None:
        """Close and remove the temporary files (the target is left as it was)."""
        for handle in (self._file, self._spool):
            if handle is not None:
                with contextlib.suppress(Exception):
                    handle.close()
        self._file = self._spool = None
        for p in (self._tmp, self._spool_path):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def write_audio(path, audio: np.ndarray, sampling_rate: int, *, format: str | None = None, subtype: str | None = None,
                clip: str = "warn", overwrite: bool = False, gain: float = 1.0, comment: str | None = None
                ) -> WriteReport:
    """Write float ``(channels, samples)`` (or 1-D mono) audio. ``format`` defaults to the suffix,
    ``subtype`` to soundfile's default for the format (``"16"``, ``"24"``, ``"float"`` or soundfile's
    names). Integer PCM holds ±1: beyond it ``clip="warn"`` clips and warns with the fraction of
    samples clipped, ``"scale"`` scales the file to peak at ±1 (``gain`` is applied first; pass the
    same ``gain`` to several files to keep them summing to the same mixture), ``"float"`` writes
    float samples instead. The file is written beside its target and renamed, so an interrupted
    write never leaves a half file; an existing file is replaced only with ``overwrite=True``.
    (:class:`BlockAudioWriter` writes the same file block by block.)"""
    path = Path(path)
    check_output_format(format or path.suffix or "wav", subtype, clip)
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[0] > a.shape[1]:
        raise ValueError(f"audio must be (channels, samples), got shape {a.shape}"
                         + ("; pass audio.T" if a.ndim == 2 else ""))
    peak = float(np.abs(a).max()) if a.size else 0.0
    writer = BlockAudioWriter(path, sampling_rate, a.shape[0], format=format, subtype=subtype, clip=clip,
                              overwrite=overwrite, gain=gain, peak=peak, comment=comment)
    try:
        for s in range(0, a.shape[1], _BLOCK_FRAMES):
            writer.write(a[:, s : s + _BLOCK_FRAMES])
    except BaseException:
        writer.abort()
        raise
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ClippingWarning)
        report = writer.close()
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=2)
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


class _SpectrogramColumns:
    """The columns of :mod:`majl_hf.plotting`'s spectrogram (``_spectrogram_db``: centred
    ``n_fft`` frames, at most ``max_columns`` of them, the same values) computed while the vocals
    stream by, so that the PNG of a long song needs no copy of its vocals. ``push`` mono blocks,
    then ``finish()`` → (column times s, frequencies Hz, dB (freqs, columns))."""

    def __init__(self, sampling_rate: int, num_frames: int, fmax_hz: float = 2000.0, max_columns: int = 4000):
        self.sr = int(sampling_rate)
        self.n_fft = 4096 if self.sr > 32000 else 2048
        self.hop = self.n_fft // 4
        half = self.n_fft // 2
        n_frames = max(1, 1 + (int(num_frames) + 2 * half - self.n_fft) // self.hop)
        step = max(1, n_frames // max_columns)
        self.idx = np.arange(0, n_frames, step)
        self.window = np.hanning(self.n_fft).astype(np.float32)
        freqs = np.fft.rfftfreq(self.n_fft, 1.0 / self.sr)
        self.keep = (freqs > 0) & (freqs <= fmax_hz)
        self.freqs = freqs[self.keep]
        self.buf = np.zeros(half, np.float32)  # padded coordinates: the signal starts at n_fft // 2
        self.buf_start = 0
        self.next = 0  # index into idx of the next column
        self.db = np.empty((len(self.freqs), len(self.idx)))  # allocated once (no small blocks kept per push)

    def push(self, mono: np.ndarray) -> None:
        self.buf = np.concatenate([self.buf, np.asarray(mono, np.float32)])
        self._columns()

    def _columns(self) -> None:
        end = self.buf_start + len(self.buf)
        ready = self.next
        while ready < len(self.idx) and self.idx[ready] * self.hop + self.n_fft <= end:
            ready += 1
        if ready > self.next:
            frames = np.stack([self.buf[i * self.hop - self.buf_start : i * self.hop - self.buf_start + self.n_fft]
                               * self.window for i in self.idx[self.next : ready]])
            mag = np.abs(np.fft.rfft(frames, axis=-1)).T * (2.0 / self.window.sum())
            self.db[:, self.next : ready] = 20 * np.log10(mag[self.keep] + 1e-7)
            self.next = ready
        if self.next < len(self.idx):
            cut = self.idx[self.next] * self.hop - self.buf_start
            if cut > 0:
                self.buf = self.buf[cut:]
                self.buf_start += cut

    def finish(self):
        end = self.idx[-1] * self.hop + self.n_fft
        have = self.buf_start + len(self.buf)
        if end > have:
            self.buf = np.concatenate([self.buf, np.zeros(end - have, np.float32)])
        self._columns()
        return self.idx * self.hop / self.sr, self.freqs, self.db


def _draw_f0_png(path: Path, columns, duration_s: float, sampling_rate: int, times, f0, voiced, title: str) -> None:
    """:func:`majl_hf.plotting.plot_f0_over_spectrogram`'s PNG from precomputed spectrogram columns."""
    from . import plotting

    fig = plotting.f0_figure(None, sampling_rate, times, f0, voiced, title=title, spectrogram=columns,
                             duration_s=duration_s)
    fig.savefig(path, format="png")


class ResultWriter:
    """:func:`save_result` for a result that arrives in blocks (the command line's streamed path):
    the same files, byte for byte, in memory bounded by a block.

    Give the output rate, channels and length up front; feed ``write(part, block)`` with float
    ``(channels, frames)`` blocks of ``"vocals"`` / ``"accompaniment"`` in order, then
    ``close(times_s, f0_hz, confidence, voiced)`` writes the rest and returns the
    :class:`SavedResult`. ``clip="scale"`` (one gain from the peaks of both parts) and ``clip="float"``
    need the peaks before writing integer PCM: with ``peaks`` (part → peak) given the files are
    written straight away, otherwise each part is spooled as float32 beside its target and converted
    at ``close`` (a second pass over those files on disk, none in memory). The PNG's spectrogram is
    computed from the vocals as they pass. On an error call ``abort()``: temporary files are removed,
    existing targets are left as they were.
    """

    def __init__(self, folder_or_template, name: str, *, sampling_rate: int, channels: int, num_frames: int,
                 audio_parts=("vocals", "accompaniment"), format: str = "wav", subtype: str | None = "16",
                 overwrite: bool = False, plot: bool = True, clip: str = "warn", template: str | None = None,
                 parts=None, source=None, metadata: dict | None = None, peaks: dict | None = None):
        if template is None:
            folder, template = _split_target(folder_or_template)
        else:
            folder = Path(folder_or_template)
        check_template(template)
        fmt, st = check_output_format(format, subtype, clip)
        parent = Path(source).parent.name if source is not None else ""
        keys = [k for k in PARTS if (k in audio_parts if "." not in k else k != "f0.png" or plot)]
        if parts is not None:
            keys = [k for k in keys if k in parts]
        self.paths = output_paths(folder, template, name, format=fmt, parent=parent, parts=keys)
        _check_overwrite(self.paths.values(), overwrite)
        self.name, self.source, self.metadata, self.clip = name, source, dict(metadata or {}), clip
        self.sr, self.num_frames = int(sampling_rate), int(num_frames)
        self.audio_keys = [k for k in keys if "." not in k]
        self.saved = SavedResult()
        self._scale = clip == "scale" and not _is_float_subtype(st or sf.default_subtype(fmt))
        self._st = st
        if self._scale and peaks is not None:
            self._set_scale(max((float(peaks[k]) for k in self.audio_keys), default=0.0))
        self.writers = {}
        try:
            for key in self.audio_keys:
                self.writers[key] = BlockAudioWriter(
                    self.paths[key], self.sr, channels, format=fmt, subtype=st, clip=clip, overwrite=True,
                    gain=self.saved.gain, peak=None if peaks is None else float(peaks[key]),
                    comment=f"{key} of {Path(source).name if source else name}")
        except BaseException:
            self.abort()
            raise
        self._spectrogram = _SpectrogramColumns(self.sr, self.num_frames) if "f0.png" in self.paths else None
        self._vocals_seen = False

    def _set_scale(self, peak: float) -> None:
        if peak > 1.0:
            self.saved.gain = 1.0 / peak
            msg = (f"{self.name}: outputs peak at {peak:.2f} (beyond ±1): {' and '.join(self.audio_keys)} scaled "
                   f"by {self.saved.gain:.3f} ({20 * math.log10(self.saved.gain):.1f} dB) to fit {self._st or 'PCM'}")
            self.saved.messages.append(msg)
            warnings.warn(msg, ClippingWarning, stacklevel=3)

    def write(self, part: str, block: np.ndarray) -> None:
        """Append a float ``(channels, frames)`` block of ``part`` (``"vocals"`` / ``"accompaniment"``)."""
        if part == "vocals" and self._spectrogram is not None:
            b = np.asarray(block)
            self._spectrogram.push(b.mean(0) if b.ndim == 2 else b)
            self._vocals_seen = True
        if part in self.writers:
            self.writers[part].write(block)

    def close(self, times_s, f0_hz, confidence, voiced) -> SavedResult:
        """Finish the audio files, write the f0 track (CSV, JSON) and the PNG; returns the :class:`SavedResult`."""
        saved = self.saved
        try:
            if self._scale and not saved.messages and any(w._spool is not None for w in self.writers.values()):
                self._set_scale(max((w.peak for w in self.writers.values()), default=0.0))
            for key in self.audio_keys:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ClippingWarning)  # re-sent below with the part's name
                    report = self.writers[key].close(gain=saved.gain)
                saved.paths[key] = self.paths[key]
                if report.message:  # clipped, or written as float
                    saved.messages.append(f"{key}: {report.message}")
                    warnings.warn(saved.messages[-1], ClippingWarning, stacklevel=2)
            self._write_track(np.asarray(times_s), np.asarray(f0_hz), np.asarray(confidence), np.asarray(voiced))
        finally:
            self.abort()
        return saved

    def _write_track(self, times, f0, confidence, voiced) -> None:
        paths, saved, sr = self.paths, self.saved, self.sr
        if "f0.csv" in paths:
            with _atomic_text(paths["f0.csv"]) as f:
                w = csv.writer(f, lineterminator="\n")  # csv's default is "\r\n", which Unix tools miscount
                w.writerow(["time_s", "f0_hz", "confidence", "voiced"])
                for s in range(0, len(times), _TEXT_BLOCK):
                    e = s + _TEXT_BLOCK
                    w.writerows([f"{t:.3f}", f"{x:.3f}", f"{c:.4f}", int(v)]
                                for t, x, c, v in zip(times[s:e], f0[s:e], confidence[s:e], voiced[s:e]))
            saved.paths["f0.csv"] = paths["f0.csv"]
        if "f0.json" in paths:
            doc = {"source": str(self.source) if self.source is not None else None, "sampling_rate": sr,
                   "hop_s": float(times[1] - times[0]) if len(times) > 1 else None}
            doc.update(self.metadata)
            if saved.gain != 1.0:
                doc["output_gain"] = saved.gain
            lists = {"times_s": (times, lambda t: round(float(t), 4)), "f0_hz": (f0, lambda x: round(float(x), 3)),
                     "confidence": (confidence, lambda x: round(float(x), 4)), "voiced": (voiced, bool)}
            for key in lists:
                doc.pop(key, None)
            with _atomic_text(paths["f0.json"]) as f:
                _dump_json(f, doc, lists)
            saved.paths["f0.json"] = paths["f0.json"]
        if "f0.png" in paths:
            if not self._vocals_seen:  # no vocals given: an empty spectrogram as long as the track
                n = int(round((times[-1] if len(times) else 0) * sr)) + 1
                self._spectrogram = _SpectrogramColumns(sr, n)
                for s in range(0, n, _BLOCK_FRAMES):
                    self._spectrogram.push(np.zeros(min(_BLOCK_FRAMES, n - s), np.float32))
                duration = n / sr
            else:
                duration = self.num_frames / sr
            tmp = _atomic_target(paths["f0.png"])
            paths["f0.png"].parent.mkdir(parents=True, exist_ok=True)
            try:
                _draw_f0_png(tmp, self._spectrogram.finish(), duration, sr, times, f0, voiced,
                             title=Path(self.source).name if self.source is not None else self.name)
                os.replace(tmp, paths["f0.png"])
            finally:
                if tmp.exists():
                    tmp.unlink()
            saved.paths["f0.png"] = paths["f0.png"]

    def abort(self) -> None:
        """Remove the temporary files of the parts not yet finished."""
        for w in self.writers.values():
            w.abort()


_TEXT_BLOCK = 65536  # f0 frames formatted at once in the CSV and JSON


def _dump_json(f, head: dict, lists: dict) -> None:
    """Write ``json.dumps({**head, key: [fmt(x) for x in values] ...})`` to ``f`` — the same text —
    formatting ``_TEXT_BLOCK`` values at a time."""
    text = json.dumps(head)
    f.write(text[:-1])
    first = text == "{}"
    for key, (values, fmt) in lists.items():
        f.write(("" if first else ", ") + json.dumps(key) + ": [")
        first = False
        for s in range(0, len(values), _TEXT_BLOCK):
            if s:
                f.write(", ")
            f.write(json.dumps([fmt(x) for x in values[s : s + _TEXT_BLOCK]])[1:-1])
        f.write("]")
    f.write("}")


@contextlib.contextmanager
def _atomic_text(path: Path):
    """A text file opened beside ``path`` (no newline translation), renamed over it when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _atomic_target(path)
    try:
        with open(tmp, "w", newline="") as f:
            yield f
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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
    (:class:`ResultWriter` writes the same files from a result that arrives in blocks.)
    """
    audio_parts = [k for k in ("vocals", "accompaniment") if k in result]
    arrays = {k: np.asarray(result[k], dtype=np.float32) for k in audio_parts}
    arrays = {k: a[None] if a.ndim == 1 else a for k, a in arrays.items()}
    peaks = {k: float(np.abs(a).max()) if a.size else 0.0 for k, a in arrays.items()}
    vocals = arrays.get("vocals")
    channels = next(iter(arrays.values())).shape[0] if arrays else 1
    writer = ResultWriter(folder_or_template, name, sampling_rate=int(result["sampling_rate"]), channels=channels,
                          num_frames=vocals.shape[-1] if vocals is not None else 0, audio_parts=audio_parts,
                          format=format, subtype=subtype, overwrite=overwrite, plot=plot, clip=clip, template=template,
                          parts=parts, source=source, metadata=metadata, peaks=peaks)
    try:
        for key, a in arrays.items():
            if key not in writer.audio_keys and not (key == "vocals" and writer._spectrogram is not None):
                continue
            for s in range(0, max(a.shape[-1], 1), _BLOCK_FRAMES):
                writer.write(key, a[:, s : s + _BLOCK_FRAMES])
    except BaseException:
        writer.abort()
        raise
    return writer.close(result["times_s"], result["f0_hz"], result["confidence"], result["voiced"])


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
    "read_audio_bytes", "read_audio_file", "save_result", "template_regex", "write_audio", "AudioBlockReader",
    "BlockAudioWriter", "ResultWriter",
]
