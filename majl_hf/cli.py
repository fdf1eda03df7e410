"""majl-vocal: separate the vocals of songs and track their pitch.

examples:
  majl-vocal song.mp3 -o out/
  majl-vocal "music/**/*.flac" albums/ -o out/ --template "{parent}/{name}_{part}.{ext}" --subtype 24
  majl-vocal musdb/train -o out/ --skip-existing        # resume an interrupted batch

For each input it writes the vocals and accompaniment (wav or flac; 16-bit, 24-bit or float), the
f0 track as CSV and JSON, and a PNG of the f0 over the vocals' spectrogram. Inputs whose names
would give the same outputs (musdb/A/mixture.wav and musdb/B/mixture.wav, or Song.wav and
Song.flac) keep their sub-folder (A/mixture_vocals.wav), then their extension (Song_flac_vocals.wav).
Existing files are never replaced unless --overwrite; files written by majl-vocal are never taken as
inputs. The output folder, format and template are checked before any work. A file that fails is
reported and the batch goes on; partial input files and clipped outputs are reported in the summary.

exit codes: 0 all done; 1 some inputs failed or a named input does not exist; 2 bad usage (bad
option, template, output folder or model; outputs that exist or collide) or no input found.
"""

from __future__ import annotations

import argparse
import glob
import inspect
import logging
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

PROG = "majl-vocal"
SUBTYPE_CHOICES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}


class UsageError(Exception):
    """A problem found before any work: one message, exit code 2."""


def _say(msg: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(f"{PROG}: {msg}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------- inputs


@dataclass
class Inputs:
    files: list = field(default_factory=list)
    missing: list = field(default_factory=list)  # (pattern, message): named inputs that do not exist
    own_outputs: list = field(default_factory=list)  # our own outputs found among the inputs: skipped


def _has_magic(pattern: str) -> bool:
    return glob.has_magic(pattern)


def find_inputs(patterns: list[str], output_dir: Path | None = None, template: str | None = None) -> Inputs:
    """Files, globs (``**`` recursive) and folders (searched recursively for audio files). Audio
    written by majl-vocal (tagged, or matching the template under the output folder) is left out."""
    from .audio import AUDIO_EXTENSIONS, DEFAULT_TEMPLATE, is_own_output, template_regex

    out = Inputs()
    pattern_re = template_regex(template or DEFAULT_TEMPLATE)
    out_root = output_dir.resolve() if output_dir is not None else None

    def ours(q: Path) -> bool:
        if out_root is not None:
            try:
                rel = q.resolve().relative_to(out_root).as_posix()
            except ValueError:
                rel = None
            if rel is not None and pattern_re.fullmatch(rel):
                return True
        return is_own_output(q)

    seen = set()
    for pattern in patterns:
        p = Path(pattern)
        if p.is_dir():
            hits = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in AUDIO_EXTENSIONS)
        elif p.is_file():
            hits = [p]
        elif _has_magic(pattern):
            hits = sorted(Path(q) for q in glob.glob(pattern, recursive=True) if Path(q).is_file())
            if not hits:
                out.missing.append((pattern, "no file matches this pattern"))
        else:
            out.missing.append((pattern, "no such file or folder"))
            continue
        for q in hits:
            key = q.resolve()
            if key in seen:
                continue
            seen.add(key)
            (out.own_outputs if ours(q) else out.files).append(q)
    return out


# ---------------------------------------------------------------------------------------------- outputs


@dataclass
class Job:
    source: Path
    name: str  # the {name} field: the stem, or more when stems collide
    paths: dict  # part → output path
    duration_s: float = 0.0
    overwrite: bool = False


def _parts(args) -> tuple[str, ...]:
    keys = ["vocals"] + ([] if args.no_accompaniment else ["accompaniment"]) + ["f0.csv", "f0.json"]
    keys += [] if args.no_plot else ["f0.png"]
    return tuple(keys + (["notes.csv", "notes.mid"] if getattr(args, "notes", False) else []))


def plan_outputs(files: list[Path], output_dir: Path, template: str, fmt: str, parts) -> list[Job]:
    """One job per input with its output paths. Inputs whose outputs would collide get a longer
    ``{name}``: first their path relative to the colliding files' common folder, then also their
    extension. UsageError when collisions remain (a template without ``{name}``)."""
    from .audio import output_paths

    names = {f: f.stem for f in files}

    def render(f):
        return output_paths(output_dir, template, names[f], format=fmt, parent=f.parent.name, parts=parts)

    for level in (1, 2, 3):
        owners: dict[Path, list[Path]] = {}
        for f in files:
            for p in render(f).values():
                owners.setdefault(p.resolve(), []).append(f)
        groups = [g for g in owners.values() if len(g) > 1]
        if not groups:
            return [Job(f, names[f], render(f)) for f in files]
        if level == 3:
            break
        for group in groups:
            common = Path(os.path.commonpath([str(g.resolve().parent) for g in group]))
            for g in group:
                rel = g.resolve().relative_to(common).with_suffix("").as_posix()
                names[g] = rel if level == 1 else f"{rel}_{g.suffix.lstrip('.').lower()}"
    lines = []
    for p, group in owners.items():
        if len(group) > 1:
            lines.append(f"  {p}: from {', '.join(str(g) for g in group)}")
    raise UsageError("these inputs would write the same output files (use {name} in --template):\n"
                     + "\n".join(lines[:10]) + ("\n  ..." if len(lines) > 10 else ""))


def check_output_dir(path: Path) -> None:
    """Create the output folder and prove it writable, before any work (UsageError naming the problem)."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"output folder {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the output folder {path}: {err.strerror or err}") from None
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".majl-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UsageError(f"cannot write in the output folder {path}: {(err.strerror or str(err)).lower()}") from None


# ---------------------------------------------------------------------------------------------- parser


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=100)


def _subtype(value: str) -> str:
    """16, 24, float, or soundfile's names PCM_16, PCM_24, FLOAT (any case)."""
    v = value.lower().removeprefix("pcm_")
    if v not in SUBTYPE_CHOICES:
        raise argparse.ArgumentTypeError(f"invalid choice {value!r} (choose from 16, 24, float)")
    return v


def build_parser() -> argparse.ArgumentParser:
    from .defaults import DEFAULT_DECODER, DEFAULT_MODEL

    head, tail = __doc__.split("\n\n", 1)
    p = argparse.ArgumentParser(prog=PROG, description=head.split(": ", 1)[1].capitalize(), epilog=tail,
                                formatter_class=_Formatter)
    p.add_argument("inputs", nargs="+", help="audio files, globs (quote them; ** is recursive) or folders")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("majl_output"), metavar="DIR",
                   help="folder for the outputs, created if needed (default: %(default)s)")
    p.add_argument("--template", default="{name}_{part}.{ext}",
                   help="output file names under DIR; fields {name} (input's name), {part} (vocals, "
                        "accompaniment, f0), {ext}, {parent} (input's folder name) (default: %(default)s)")
    p.add_argument("--format", choices=["wav", "flac"], default="wav", help="audio file format (default: %(default)s)")
    p.add_argument("--subtype", type=_subtype, default="16", metavar="{16,24,float}",
                   help="sample format: 16-bit, 24-bit or float (default: %(default)s)")
    p.add_argument("--clip", choices=["warn", "scale", "float"], default="warn",
                   help="outputs beyond ±1 in 16/24-bit files: warn = clip them and report the fraction "
                        "clipped; scale = scale vocals and accompaniment by one gain so that they fit "
                        "(recorded in the JSON); float = write those files as float (wav only) "
                        "(default: %(default)s)")
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing output files")
    existing.add_argument("--skip-existing", action="store_true",
                          help="skip inputs whose outputs all exist (resume an interrupted batch); an input "
                               "with only some of its outputs is processed again")
    p.add_argument("--model", default=DEFAULT_MODEL, help="Hub id or local folder (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps ... (default: %(default)s)")
    # option names follow the pipeline's (voicing_threshold, chunk_length_s, ...); the short old names still work
    p.add_argument("--voicing-threshold", "--threshold", dest="threshold", type=float, default=None,
                   help="voice a frame when its peak activation is >= this value in [0, 1] (the paper's rule); "
                        "default: the pipeline's rule, which also uses the separated vocals' energy and a "
                        "minimum duration (majl_hf.pitch.voicing.DEFAULT_VOICING)")
    p.add_argument("--decoder", choices=["viterbi", "weighted_average", "argmax"], default=DEFAULT_DECODER,
                   help="activations to f0 (default: %(default)s)")
    p.add_argument("--chunk-length-s", "--chunk-s", dest="chunk_s", type=float, default=12.0,
                   help="seconds per separation chunk, 0 = whole song (default: %(default)s)")
    p.add_argument("--frames-per-batch", type=int, default=64,
                   help="pitch frames per network call: memory, not results (default: %(default)s)")
    p.add_argument("--vocal-gate-db", "--gate-db", dest="gate_db", type=float, default=None,
                   help="skip pitch frames whose vocals are below this dBFS (default: off)")
    p.add_argument("--no-accompaniment", action="store_true", help="do not write the accompaniment")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument("--notes", action="store_true",
                   help="also write the sung notes: {name}_notes.csv and {name}_notes.mid (needs the app extra)")
    p.add_argument("--no-pitch-bends", action="store_true", help="with --notes: MIDI notes without pitch bends")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bars and no summary; only problems are printed")
    return p


# ---------------------------------------------------------------------------------------------- model


def _silence_hub_logging() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from huggingface_hub.utils import logging as hub_logging
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    hub_logging.set_verbosity_error()  # "Could not reach the Hub ... Using cached commit hash"


def load_pipeline(args):
    """The majl-vocal pipeline for ``--model`` / ``--device`` (tests replace this)."""
    _silence_hub_logging()
    from transformers import pipeline

    from . import pipelines as _registered  # noqa: F401
    from .hub.cache import require_cached
    from .inference import tune_malloc

    require_cached(args.model)  # a pretrained pair not built yet: one line naming `majl-hf build-default ...`
    tune_malloc()  # the CLI owns its process: freed chunk buffers go back to the OS (flat RSS on long songs)
    return pipeline("majl-vocal", model=args.model, device=args.device)


def _accepts_progress(pipe) -> bool:
    """Whether the pipeline takes ``progress=callback(stage, done, total)`` (a transformers pipeline
    declares its call options in ``_sanitize_parameters``)."""
    fn = getattr(pipe, "_sanitize_parameters", None) or getattr(pipe, "__call__", None)
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "progress" in params


def _pipeline_reads_with_audio_module() -> bool:
    """True once the pipeline decodes files with :mod:`majl_hf.audio` (and so warns about partial
    files itself); until then the CLI decodes the file and hands the array over."""
    from . import audio
    from . import feature_extraction_majl as fe

    return getattr(fe, "read_audio_file", None) is audio.read_audio_file


class SongProgress:
    """One tqdm bar per song, reset at each stage (separation, then pitch; units: frames), with an
    ETA inside the stage; fed by the pipeline's ``progress(stage, done, total)`` callback."""

    def __init__(self, name: str, disable: bool, live: bool):
        from tqdm.auto import tqdm

        self.stage = None
        self.bar = tqdm(total=None if not live else 0, desc=f"{name[:32]}", unit="frame", leave=False,
                        disable=disable, dynamic_ncols=True,
                        bar_format=None if live else "{desc}: working {elapsed}")
        self.calls = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.calls += 1
        if stage != self.stage:
            self.stage = stage
            self.bar.set_postfix_str(stage, refresh=False)
            self.bar.reset(total=int(total))
        elif total != self.bar.total:
            self.bar.total = int(total)
        self.bar.update(int(done) - self.bar.n)

    def close(self):
        self.bar.close()


# ---------------------------------------------------------------------------------------------- main


@dataclass
class Report:
    done: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)  # (source, message)
    warned: list = field(default_factory=list)  # (source, message)


def _first_line(err: BaseException, source) -> str:
    msg = str(err).splitlines()[0] if str(err) else type(err).__name__
    return msg.removeprefix(f"{source}: ")


def _prepare(args) -> tuple[list[Job], Report]:
    """Everything that can be checked before loading the model; UsageError → exit 2."""
    from .audio import AudioInputError, check_output_format, check_template, probe_audio_file

    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise UsageError("--voicing-threshold must be in [0, 1]")
    if args.chunk_s < 0:
        raise UsageError("--chunk-length-s must be >= 0 (0 = whole song)")
    if args.frames_per_batch < 1:
        raise UsageError("--frames-per-batch must be a positive integer")
    if args.gate_db is not None and not -200 < args.gate_db < 0:
        raise UsageError("--vocal-gate-db must be a level in dBFS below 0")
    try:
        check_template(args.template)
    except ValueError as err:
        raise UsageError(f"--template: {err}") from None
    try:
        check_output_format(args.format, SUBTYPE_CHOICES[args.subtype], args.clip)
    except ValueError as err:
        raise UsageError(f"--format {args.format} --subtype {args.subtype} --clip {args.clip}: {err}") from None
    report = Report()
    found = find_inputs(args.inputs, args.output_dir, args.template)
    for pattern, msg in found.missing:
        report.failed.append((pattern, msg))
    if found.own_outputs and not args.quiet:
        _say(f"left out {len(found.own_outputs)} file(s) written by {PROG} (e.g. {found.own_outputs[0]})")
    if not found.files:
        raise UsageError("nothing to do (no input file found)"
                         + "".join(f"\n  {p}: {m}" for p, m in found.missing))
    check_output_dir(args.output_dir)
    jobs = plan_outputs(found.files, args.output_dir, args.template, args.format, _parts(args))
    existing = [(job, [p for p in job.paths.values() if p.exists()]) for job in jobs]
    clash = [(job, present) for job, present in existing if present]
    if clash and not args.overwrite and not args.skip_existing:
        files = [str(p) for _, present in clash for p in present]
        raise UsageError(f"{len(files)} output file(s) exist already, for {len(clash)} input(s): "
                         + ", ".join(files[:4]) + (" ..." if len(files) > 4 else "")
                         + "; pass --overwrite to replace them or --skip-existing to resume")
    todo = []
    for job, present in existing:
        if present and args.skip_existing and len(present) == len(job.paths):
            report.skipped.append(job.source)
            continue
        job.overwrite = args.overwrite or bool(present)  # --skip-existing: an incomplete set is redone
        try:
            info = probe_audio_file(job.source)
        except AudioInputError as err:
            report.failed.append((job.source, _first_line(err, job.source)))
            continue
        job.duration_s = info.duration_s
        todo.append(job)
    return todo, report


def _streams(pipe) -> bool:
    """Whether the pipeline's model can be run on the file in blocks (:mod:`majl_hf.inference.stream`):
    a MAJL cascade behind a pipeline that says which voicing rule its options stand for. Anything
    else (a stand-in in tests, a remote-code pipeline) is called on the file as a whole."""
    model = getattr(pipe, "model", None)
    return (hasattr(model, "separator") and hasattr(model, "pitch_estimator")
            and callable(getattr(pipe, "voicing_rule", None)))


def _metadata(args) -> dict:
    return {"model": args.model, "voicing_threshold": args.threshold, "decoder": args.decoder}


def _run_streamed(pipe, job: Job, args, progress):
    """One file through the streamed cascade into its output files, block by block: memory does not
    grow with the song's length. The same outputs as the pipeline + :func:`~majl_hf.audio.save_result`
    (the overwrite check, the clip modes, the JSON's ``output_gain``); with ``--clip scale`` or
    ``--clip float`` and 16/24-bit files the audio parts are first spooled as float32 beside their
    targets (the peak must be known before the first sample is written) and converted at the end."""
    from .audio import ResultWriter
    from .inference.stream import separate_file

    try:
        from .pipelines.majl_vocal import NORMALIZE_LEVEL
    except ImportError:  # pragma: no cover - the pipeline module always defines it
        NORMALIZE_LEVEL = True
    parts = ["vocals"] + ([] if args.no_accompaniment else ["accompaniment"])
    holder = {}

    def open_outputs(info):  # after the first pass: the exact length and channels are known
        holder["writer"] = ResultWriter(
            args.output_dir, job.name, sampling_rate=info.sampling_rate, channels=info.channels,
            num_frames=info.num_samples, audio_parts=parts, template=args.template, format=args.format,
            subtype=SUBTYPE_CHOICES[args.subtype], overwrite=job.overwrite, plot=not args.no_plot, clip=args.clip,
            source=job.source, parts=_audio_parts(job), metadata=_metadata(args))

    sinks = {key: (lambda block, key=key: holder["writer"].write(key, block)) for key in parts}
    try:
        result = separate_file(pipe.model, job.source, sinks, voicing=pipe.voicing_rule(None, args.threshold),
                               decoder=args.decoder, chunk_length_s=args.chunk_s,
                               frames_per_batch=args.frames_per_batch, gate_db=args.gate_db,
                               normalize_level=NORMALIZE_LEVEL, return_accompaniment=not args.no_accompaniment,
                               progress=progress, on_info=open_outputs)
        saved = holder["writer"].close(result["times_s"], result["f0_hz"], result["confidence"], result["voiced"])
        return saved, result
    except BaseException:
        if "writer" in holder:
            holder["writer"].abort()
        raise


def _audio_parts(job: Job):
    """The parts save_result / ResultWriter write (the notes files are written after them)."""
    return [k for k in job.paths if not k.startswith("notes.")]


def _write_notes(result: dict, job: Job, args, saved) -> None:
    """``--notes``: the sung notes (majl_hf.notes at its measured defaults) as CSV and MIDI."""
    from .notes import segment_notes, write_midi, write_notes_csv

    notes = segment_notes(result["times_s"], result["f0_hz"], result["voiced"])
    saved.paths["notes.csv"] = write_notes_csv(notes, job.paths["notes.csv"])
    bends = None if args.no_pitch_bends else (result["times_s"], result["f0_hz"])
    saved.paths["notes.mid"] = write_midi(notes, job.paths["notes.mid"], f0=bends)


def _run_job(pipe, job: Job, args, progress, report: Report) -> None:
    from .audio import read_audio, save_result

    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if _streams(pipe):
            saved, result = _run_streamed(pipe, job, args, progress)
        else:
            kwargs = dict(voicing_threshold=args.threshold, decoder=args.decoder, chunk_length_s=args.chunk_s,
                          frames_per_batch=args.frames_per_batch, vocal_gate_db=args.gate_db,
                          return_accompaniment=not args.no_accompaniment)
            if progress is not None:
                kwargs["progress"] = progress
            if _pipeline_reads_with_audio_module():
                inputs = str(job.source)
            else:
                audio, sr, _ = read_audio(job.source)
                inputs = {"array": audio, "sampling_rate": sr}
                del audio
            result = pipe(inputs, **kwargs)
            del inputs
            saved = save_result(result, args.output_dir, job.name, template=args.template, format=args.format,
                                subtype=SUBTYPE_CHOICES[args.subtype], overwrite=job.overwrite,
                                plot=not args.no_plot, clip=args.clip, source=job.source, parts=_audio_parts(job),
                                metadata=_metadata(args))
        if getattr(args, "notes", False):
            _write_notes(result, job, args, saved)
    for w in caught:  # ours (partial input, clipping, downmix, level) and the library's user warnings
        msg = str(w.message).removeprefix(f"{job.source}: ").removeprefix("dict: ")
        if not issubclass(w.category, UserWarning):  # Deprecation/Future/RuntimeWarning: for developers
            logging.getLogger(__name__).debug("%s: %s", w.category.__name__, msg)
        elif msg not in problems:
            problems.append(msg)
    for msg in problems:
        report.warned.append((job.source, msg))
        if not args.quiet:
            _say(f"warning: {job.source}: {msg}")
    report.done.append((job.source, saved))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        jobs, report = _prepare(args)
    except UsageError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    for source, msg in report.failed:
        if not args.quiet:
            _say(f"{source}: {msg}")
    if jobs:
        try:
            pipe = load_pipeline(args)
        except Exception as err:  # noqa: BLE001 - a bad model id or folder: one line, exit 2
            print(f"{PROG}: cannot load model {args.model!r}: {_first_line(err, '')}", file=sys.stderr)
            return 2
        _run_all(pipe, jobs, args, report)
    _summary(args, report)
    return 1 if report.failed else 0


def _run_all(pipe, jobs: list[Job], args, report: Report) -> None:
    from tqdm.auto import tqdm

    live = _accepts_progress(pipe)
    total_s = sum(j.duration_s for j in jobs)
    overall = tqdm(total=round(total_s, 1), desc=f"{len(jobs)} song(s)", unit="s audio", disable=args.quiet,
                   dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s of audio "
                                                  "[{elapsed}<{remaining}]")
    start = time.monotonic()
    for i, job in enumerate(jobs):
        overall.set_description_str(f"song {i + 1}/{len(jobs)}")
        song = SongProgress(job.source.name, disable=args.quiet, live=live)
        try:
            _run_job(pipe, job, args, song if live else None, report)
        except KeyboardInterrupt:
            song.close()
            overall.close()
            raise
        except Exception as err:  # noqa: BLE001 - one bad file must not stop the batch
            msg = _first_line(err, job.source)
            report.failed.append((job.source, msg))
            if not args.quiet:
                _say(f"{job.source}: {msg}")
        finally:
            song.close()
        overall.update(round(job.duration_s, 1))
    overall.close()
    logging.getLogger(__name__).debug("batch took %.1f s", time.monotonic() - start)


def _summary(args, report: Report) -> None:
    total = len(report.done) + len(report.failed) + len(report.skipped)
    if args.quiet and not report.failed and not report.warned:
        return
    lines = [f"{PROG}: {len(report.done)}/{total} done"
             + (f", {len(report.skipped)} skipped (outputs exist)" if report.skipped else "")
             + f", outputs in {args.output_dir}"]
    if report.warned:
        lines.append(f"{PROG}: {len(report.warned)} warning(s):")
        lines += [f"  {source}: {msg}" for source, msg in report.warned]
    if report.failed:
        lines.append(f"{PROG}: {len(report.failed)} failed:")
        lines += [f"  {source}: {msg}" for source, msg in report.failed]
    print("\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
