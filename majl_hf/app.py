"""The web demo (Gradio, the Hugging Face Spaces convention): a song in → vocals, accompaniment, the
f0 plot, the sung notes and downloads. ``app.py`` at the repository root (what a Space runs) and
the ``majl-hf-app`` command both call :func:`build_demo`::

    majl-hf-app                       # http://127.0.0.1:7860, the cached pretrained models
    majl-hf-app --model path/to/model --port 8000

Everything is computed by the library: the ``majl-vocal`` pipeline (with its ``progress``
callback driving the page's progress bar), :func:`majl_hf.audio.save_result` (the CLI's files and
plot) and :mod:`majl_hf.notes` (notes CSV and MIDI). :func:`process` is that work without the
page (the page calls it; tests call it too).

Needs the ``app`` extra (``pip install 'majl_hf[app]'``: gradio and pretty_midi).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .utils import require

TITLE = "majl-hf: vocals, their pitch and the sung notes"
KEEP_OUTPUTS_S = 3600.0  # s: a run's files are kept this long for the page's players and downloads
MAX_DURATION_S = 600.0  # longer uploads are refused with a message (a shared Space's CPU time)
DOWNLOAD_PARTS = ("vocals", "accompaniment", "f0.csv", "f0.json", "notes.csv", "mid")
NOTE_COLUMNS = ["onset (s)", "offset (s)", "MIDI pitch", "note"]
# system fonts: the page loads nothing from outside the app (works offline, nothing leaks)
_SANS = ["ui-sans-serif", "system-ui", "sans-serif"]
_MONO = ["ui-monospace", "Consolas", "monospace"]


class AppInputError(ValueError):
    """An upload the demo cannot use; the message is shown on the page."""


def available_models(extra: Sequence[str] = ()) -> list[str]:
    """The models offered: ``extra`` (folders or Hub ids given by the user) first, then the
    pretrained defaults that are in the local Hugging Face cache. With none of these, the tiny
    default (downloaded on first use, as on a fresh Space)."""
    from .defaults import DEFAULT_MODEL_TINY, DEFAULT_VARIANTS
    from .hub import is_cached

    models = [str(m) for m in extra]
    models += [m for m in DEFAULT_VARIANTS.values() if m not in models and is_cached(m)]
    return models or [DEFAULT_MODEL_TINY]


_PIPELINES: dict = {}
_LOCK = threading.Lock()


def get_pipeline(model: str, device: str | None = None):
    """The ``majl-vocal`` pipeline of ``model``, loaded once per process."""
    key = (str(model), device)
    with _LOCK:
        if key not in _PIPELINES:
            import torch
            from transformers import pipeline

            from . import pipelines as _registered  # noqa: F401  (the majl-vocal task)

            if device is None:
                device = "cuda" if torch.cuda.is_available() else "cpu"
            _PIPELINES[key] = pipeline("majl-vocal", model=str(model), device=device)
        return _PIPELINES[key]


@dataclass
class AppResult:
    """What :func:`process` made: ``paths`` (part → file: vocals, accompaniment, f0.csv, f0.json,
    f0.png, notes.csv, mid), the notes, the pipeline's result and messages for the page."""

    paths: dict
    notes: list
    result: dict
    messages: list = field(default_factory=list)

    @property
    def downloads(self) -> list[str]:
        return [str(self.paths[k]) for k in DOWNLOAD_PARTS if k in self.paths]

    @property
    def note_rows(self) -> list[list]:
        return [[round(n.onset_s, 3), round(n.offset_s, 3), int(round(n.pitch)), n.name] for n in self.notes]


def _new_output_dir() -> Path:
    """A fresh folder for one run under ``<tmp>/majl-app``; runs older than ``KEEP_OUTPUTS_S`` are
    removed (a long-running Space does not fill its disk; Gradio serves its own copies)."""
    import shutil
    import time

    root = Path(tempfile.gettempdir()) / "majl-app"
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        try:
            if old.is_dir() and now - old.stat().st_mtime > KEEP_OUTPUTS_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix="run-", dir=root))


def process(audio_path, model: str, output_dir=None, *, progress: Callable | None = None,
            pitch_bends: bool = True, max_duration_s: float = MAX_DURATION_S) -> AppResult:
    """Run the pipeline on one file and write what the page offers into ``output_dir`` (a new
    temporary folder by default): ``{name}_vocals.wav``, ``_accompaniment.wav``, ``_f0.csv``,
    ``_f0.json``, ``_f0.png`` (:func:`majl_hf.audio.save_result`), ``_notes.csv`` and ``.mid``
    (with pitch bends from the f0 when ``pitch_bends``). ``progress(stage, done, total)`` is the
    pipeline's callback. Raises :class:`AppInputError` for a missing, undecodable or too long file."""
    import warnings

    from .audio import AudioInputError, PartialAudioWarning, probe_audio_file, save_result
    from .notes import notes_from_result, write_midi, write_notes_csv

    if audio_path is None or str(audio_path) == "":
        raise AppInputError("no audio: upload a song (WAV, FLAC, OGG or MP3) or record one")
    path = Path(audio_path)
    try:
        info = probe_audio_file(path)
    except AudioInputError as err:
        raise AppInputError(str(err).replace(str(path), path.name)) from None
    if info.duration_s > max_duration_s:
        raise AppInputError(f"{path.name} lasts {info.duration_s / 60:.1f} min; this demo takes songs up to "
                            f"{max_duration_s / 60:.0f} min (use the majl-vocal command for longer ones)")
    pipe = get_pipeline(model)
    out = Path(output_dir) if output_dir is not None else _new_output_dir()
    name = path.stem or "song"
    messages = []
    kwargs = {"progress": progress} if progress is not None else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PartialAudioWarning)
        try:
            result = pipe(str(path), **kwargs)
        except AudioInputError as err:
            raise AppInputError(str(err).replace(str(path), path.name)) from None
        saved = save_result(result, out, name, overwrite=True, plot=True, clip="scale", source=path.name,
                            metadata={"model": str(model)})
    messages += [str(w.message).replace(str(path), path.name) for w in caught
                 if issubclass(w.category, UserWarning)]
    messages += [m for m in saved.messages if m not in messages]
    notes = result.get("notes")
    if notes is None:  # until the pipeline's return_notes option: the same segmentation here
        notes = notes_from_result(result)
    paths = dict(saved.paths)
    paths["notes.csv"] = write_notes_csv(notes, out / f"{name}_notes.csv")
    f0 = (result["times_s"], result["f0_hz"]) if pitch_bends else None
    paths["mid"] = write_midi(notes, out / f"{name}.mid", f0=f0)
    return AppResult(paths=paths, notes=list(notes), result=result, messages=messages)


def _progress_adapter(gr_progress) -> Callable:
    """The pipeline's ``progress(stage, done, total)`` → one Gradio progress bar: separation fills
    the first half (after a short reading pass over the file), pitch the second."""
    spans = {"reading": (0.0, 0.05), "separation": (0.05, 0.5), "pitch": (0.5, 0.95)}

    def callback(stage: str, done: int, total: int) -> None:
        lo, hi = spans.get(stage, (0.0, 0.95))
        frac = lo + (hi - lo) * (done / total if total else 0.0)
        unit = "samples" if stage == "reading" else "frames"
        gr_progress(frac, desc=f"{stage}: {done}/{total} {unit}")

    return callback


def run_for_page(audio, model, bends, progress):
    """The page's button: :func:`process`, its outputs in the page's order (vocals, accompaniment,
    plot, note rows, downloads, status text); a bad upload raises ``gradio.Error`` with the message."""
    gr = require("gradio", "app")
    progress(0.0, desc="loading the model")
    try:
        res = process(audio, model, progress=_progress_adapter(progress), pitch_bends=bool(bends))
    except AppInputError as err:
        raise gr.Error(str(err), duration=None) from None
    progress(1.0, desc="done")
    voiced = int(res.result["voiced"].sum())
    status = (f"**Done** with `{model}`: {len(res.notes)} notes, {voiced} voiced frames of "
              f"{len(res.result['voiced'])} (20 ms).")
    if res.messages:
        status += "\n\n" + "\n".join(f"- {m}" for m in res.messages)
    return (str(res.paths["vocals"]), str(res.paths["accompaniment"]), str(res.paths["f0.png"]),
            res.note_rows, res.downloads, status)


def build_demo(models: Sequence[str] | None = None, *, default_model: str | None = None, examples=None):
    """The Gradio Blocks page. ``models``: the choices (default :func:`available_models`);
    ``examples``: audio files offered as examples (default the bundled one when present)."""
    gr = require("gradio", "app")
    models = list(models) if models else available_models()
    default_model = default_model if default_model in models else models[0]
    if examples is None:
        bundled = Path(__file__).resolve().parents[1] / "examples" / "audio_example.mp3"
        examples = [str(bundled)] if bundled.is_file() else []

    def run(audio, model, bends, progress=gr.Progress()):
        return run_for_page(audio, model, bends, progress)

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, int(KEEP_OUTPUTS_S))) as demo:
        gr.Markdown(f"# {TITLE}\nUpload or record a song: the vocals are separated from the accompaniment, "
                    "their pitch (f0) is tracked every 20 ms and segmented into sung notes (MIDI). "
                    "Everything runs in the `majl-vocal` pipeline of majl_hf "
                    "(MAJL, Wei et al., ACM MM 2024).")
        with gr.Row():
            with gr.Column():
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="song",
                                 elem_id="song")
                model = gr.Dropdown(models, value=default_model, label="model", elem_id="model")
                bends = gr.Checkbox(value=True, label="pitch bends in the MIDI file (the sung pitch inside notes)")
                button = gr.Button("Separate and transcribe", variant="primary", elem_id="run")
                if examples:
                    gr.Examples(examples=[[e] for e in examples], inputs=[audio], label="example")
            with gr.Column():
                status = gr.Markdown(elem_id="status")
                vocals = gr.Audio(label="vocals", type="filepath", interactive=False, elem_id="vocals")
                accompaniment = gr.Audio(label="accompaniment", type="filepath", interactive=False,
                                         elem_id="accompaniment")
        plot = gr.Image(label="f0 over the vocals' spectrogram", type="filepath", interactive=False,
                        elem_id="f0plot")
        with gr.Row():
            notes = gr.Dataframe(headers=NOTE_COLUMNS, datatype=["number", "number", "number", "str"],
                                 label="sung notes", interactive=False, elem_id="notes")
            files = gr.File(label="downloads", file_count="multiple", interactive=False, elem_id="downloads")
        button.click(run, inputs=[audio, model, bends], outputs=[vocals, accompaniment, plot, notes, files, status])
    return demo


def theme():
    """The page's theme: Gradio's default with system fonts (nothing fetched from outside)."""
    gr = require("gradio", "app")
    return gr.themes.Default(font=_SANS, font_mono=_MONO)


def launch(demo, *, host: str = "127.0.0.1", port: int | None = None, share: bool = False, **kwargs):
    """``demo.launch`` with the settings the demo needs (no analytics, no server-side rendering,
    the theme); returns what Gradio returns."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    return demo.launch(server_name=host, server_port=port, share=share, ssr_mode=False, theme=theme(),
                       show_error=True, **kwargs)


def main(argv=None) -> int:
    """The ``majl-hf-app`` command."""
    p = argparse.ArgumentParser(prog="majl-hf-app", description="Start the majl-hf web demo (Gradio).")
    p.add_argument("--model", action="append", default=[],
                   help="a model folder or Hub id to offer (repeatable); the cached defaults are always offered")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=7860, help="port (default: %(default)s)")
    p.add_argument("--share", action="store_true", help="a public gradio.live link (needs the internet)")
    args = p.parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    demo = build_demo(available_models(args.model))
    launch(demo, host=args.host, port=args.port, share=args.share)
    return 0


__all__ = ["AppInputError", "AppResult", "available_models", "build_demo", "get_pipeline", "launch", "main",
           "process", "run_for_page", "theme"]
