"""The corpus registry: the four corpora as classes with their facts, options that round-trip,
clear errors for a missing corpus, a fifth corpus as one subclass, the function forms of before,
and an import of ``majl_hf.data`` that stays light."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import majl_hf.data as data
from majl_hf.data import CORPORA, ITERATORS, MIR1K, MIRST500, Corpus, CorpusError, check_example, make_example
from majl_hf.data.corpus import check_registry
from tests.conftest import REPO_ROOT

FACTS = {  # name: (class, display name, labels, module)
    "mir1k": (data.MIR1K, "MIR-1K", {"vocals", "f0"}, data.mir1k),
    "medleydb": (data.MedleyDB, "MedleyDB", {"vocals", "f0"}, data.medleydb),
    "musdb18": (data.MUSDB18, "MUSDB18", {"vocals"}, data.musdb18),
    "mirst500": (data.MIRST500, "MIR-ST500", {"f0", "notes"}, data.mirst500),
}
REQUIRED = {"mirst500": {"notes_path": "notes.json"}}  # options a corpus cannot do without


def make(name, root, **options):
    return CORPORA[name](root, **{**REQUIRED.get(name, {}), **options})


def test_registry_lists_the_four_corpora_with_their_facts():
    assert list(CORPORA) == list(FACTS)
    for name, (cls, display, labels, module) in FACTS.items():
        assert CORPORA[name] is cls and issubclass(cls, Corpus)
        assert (cls.name, cls.display_name, set(cls.labels)) == (name, display, labels)
        assert cls.licence == module.LICENCE and cls.licence  # the licence the examples carry
        card = data.dataset_card(name)
        assert card == cls.card() and f'`corpus="{name}"`' in card and cls.__name__ in card
    assert [n for n, c in CORPORA.items() if c.museval_by_default] == ["musdb18"]
    assert {n: c.ids_option for n, c in CORPORA.items()} == {
        "mir1k": None, "medleydb": "tracks", "musdb18": "tracks", "mirst500": "song_ids"
    }
    with pytest.raises(ValueError, match="corpus must be one of"):
        data.dataset_card("mir2k")


@pytest.mark.parametrize("name", ["mir1k", "medleydb"])
def test_cards_and_docstrings_state_both_splits_and_the_default(name):
    cls = CORPORA[name]
    for text in (cls.card(), sys.modules[cls.__module__].__doc__, cls.__doc__):
        assert 'split_by="singer"' in text or '``"singer"``' in text, text[:200]
        assert '"clip"' in text and "default" in text
    assert 'split_by="clip"' in cls.card() and "80/20 at random" in cls.card()
    assert "(default)" in cls.card()


@pytest.mark.parametrize("name", list(FACTS))
def test_options_round_trip_and_are_checked(name, tmp_path):
    corpus = make(name, tmp_path, split="train", on_error="skip")
    assert corpus.split == "train" and corpus.on_error == "skip"
    assert set(corpus.options) == set(type(corpus).option_names())
    again = type(corpus)(corpus.root, split=corpus.split, **corpus.options)
    assert again.options == corpus.options
    json.dumps(corpus.options)  # JSON-friendly (logs, cache keys)
    assert repr(corpus).startswith(f"{type(corpus).__name__}(")
    with pytest.raises(ValueError, match="split"):
        make(name, tmp_path, split="dev")
    with pytest.raises(ValueError, match="on_error"):
        make(name, tmp_path, on_error="ignore")
    with pytest.raises(TypeError, match="unexpected keyword"):
        make(name, tmp_path, no_such_option=1)


MISSING = {  # what an empty root says, and the path it names (relative to the root)
    "mir1k": ("MIR-1K Wavfile/ folder not found", "Wavfile"),
    "medleydb": ("MedleyDB Metadata/ folder not found", "Metadata"),
    "musdb18": ("no MUSDB18 tracks found under train/ or test/", "."),
    "mirst500": ("no MIR-ST500 audio found", "."),
}


@pytest.mark.parametrize("name", list(FACTS))
def test_missing_corpus_is_a_clear_error(name, tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    corpus = make(name, root)
    message, where = MISSING[name]
    with pytest.raises(CorpusError, match=message) as err:
        list(corpus)
    assert err.value.path == root / where and str(root) in str(err.value)
    with pytest.raises(ValueError, match="needs root"):
        make(name, None)
    pytest.importorskip("datasets", reason="to_dataset needs the datasets package (extra 'train')")
    with pytest.raises(CorpusError, match=message):
        corpus.to_dataset(cache_dir=tmp_path / "cache")


def test_mirst500_options_and_the_old_data_source_keys(tmp_path, shared_data):
    with pytest.raises(ValueError, match="notes_path"):
        MIRST500(tmp_path)
    with pytest.raises(ValueError, match="differ"):
        MIRST500(tmp_path, audio_root=tmp_path / "other", notes_path="n.json")
    audio = tmp_path / "audio" / "test" / "401"
    audio.mkdir(parents=True)
    (audio / "Mixture.wav").symlink_to(shared_data("MIR-1K", "Wavfile", "amy_3_01.wav"))
    notes = tmp_path / "notes.DERIVED.json"
    notes.write_text(json.dumps({"401": [[0.5, 1.0, 69]]}))
    # a data source of training: {corpus: mirst500, audio_root: ..., notes_path: ..., split: ...}
    spec = {"audio_root": str(tmp_path / "audio"), "notes_path": str(notes), "split": "test"}
    (ex,) = list(MIRST500(**spec))
    check_example(ex)
    assert [e["id"] for e in ITERATORS["mirst500"](**spec)] == ["401"]
    assert [e["id"] for e in data.iter_mirst500(tmp_path / "audio", notes, "test")] == ["401"]
    assert list(MIRST500(tmp_path / "audio", notes_path=notes, song_ids=[1])) == []


def test_function_forms_of_before_still_work(shared_data):
    root = shared_data("MIR-1K")
    new = list(MIR1K(root, split="train"))
    for old in (data.iter_mir1k(root, "train"), ITERATORS["mir1k"](root=root, split="train")):
        (ex,) = list(old)
        np.testing.assert_array_equal(ex["f0_hz"], new[0]["f0_hz"])
        assert ex["id"] == new[0]["id"] == "amy_3_01"
    assert data.load_mir1k.__func__ is Corpus.load.__func__  # one to_dataset for every corpus
    # the .pv reader moved to majl_hf.data.mir1k; majl_hf.pitch still offers it
    from majl_hf.pitch import read_mir1k_pv

    pv = root / "PitchLabel" / "amy_3_01.pv"
    for a, b in zip(read_mir1k_pv(pv), data.mir1k.read_mir1k_pv(pv)):
        np.testing.assert_array_equal(a, b)
    import majl_hf.pitch.labels

    assert "expected a MIDI semitone" not in Path(majl_hf.pitch.labels.__file__).read_text()  # a forwarder, no copy


# --------------------------------------------------------------------------------------------------
# a fifth corpus: one subclass


class ToyTones(Corpus):
    """``root/tones.json``: ``{"<id>": f0_hz}``; each example is 0.5 s of that sine at 16 kHz, as
    its own vocals; ids starting with ``t`` are the test split."""

    name = "toytones"
    display_name = "Toy tones"
    licence = "public domain (synthetic)"
    labels = frozenset({"vocals", "f0"})

    def __init__(self, root, *, split=None, gain: float = 0.5, on_error="raise"):
        self.gain = float(gain)
        super().__init__(root, split=split, on_error=on_error)

    def _table(self):
        path = self.root / "tones.json"
        if not path.is_file():
            raise CorpusError(path, "tones.json not found")
        return json.loads(path.read_text())

    def _items(self):
        table = self._table()
        for tid in sorted(table):
            tsplit = "test" if tid.startswith("t") else "train"
            if self.split is None or tsplit == self.split:
                yield tid, float(table[tid]), tsplit

    def _build(self, item):
        tid, f0, tsplit = item
        if f0 <= 0:
            raise CorpusError(self.root / "tones.json", f"tone {tid}: f0 must be > 0")
        n, sr = 8000, 16000
        tone = (self.gain * np.sin(2 * np.pi * f0 * np.arange(n) / sr))[None].astype(np.float32)
        return make_example(id=tid, corpus=self.name, split=tsplit, mixture=tone, vocals=tone, sampling_rate=sr,
                            f0_hz=np.full(1 + n // 320, f0), licence=self.licence)

    def files(self):
        return [self.root / "tones.json"]


def test_a_fifth_corpus_is_one_subclass(tmp_path):
    (tmp_path / "tones.json").write_text(json.dumps({"a": 220.0, "b": 330.0, "t1": 440.0, "bad": -1}))
    registry = check_registry([*CORPORA.values(), ToyTones])
    assert list(registry)[-1] == "toytones"
    with pytest.raises(CorpusError, match="tone bad"):
        list(ToyTones(tmp_path))
    exs = list(ToyTones(tmp_path, on_error="skip", gain=0.25))
    assert [(e["id"], e["split"]) for e in exs] == [("a", "train"), ("b", "train"), ("t1", "test")]
    for e in exs:
        check_example(e)
    assert np.abs(exs[0]["mixture"]).max() == pytest.approx(0.25, rel=1e-3)
    pytest.importorskip("datasets", reason="to_dataset needs the datasets package (extra 'train')")
    dd = ToyTones(tmp_path, on_error="skip").to_dataset(cache_dir=tmp_path / "cache")
    assert {k: v.num_rows for k, v in dd.items()} == {"train": 2, "test": 1}
    assert dd["test"].with_format("numpy")[0]["f0_hz"][0] == pytest.approx(440.0)
    # what the registry refuses
    with pytest.raises(ValueError, match="two corpora named"):
        check_registry([ToyTones, ToyTones])
    with pytest.raises(TypeError, match="labels"):
        check_registry([type("NoLabels", (Corpus,), {"name": "x", "display_name": "X", "licence": "l"})])
    with pytest.raises(TypeError, match="unknown labels"):
        type("Odd", (Corpus,), {"labels": frozenset({"lyrics"})})


# --------------------------------------------------------------------------------------------------
# a light import

HEAVY = ("transformers", "datasets", "soundfile", "soxr", "yaml", "majl_hf.models", "majl_hf.data.training")


def _modules_after(code: str) -> set:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_majl_hf_data_itself_imports_nothing_heavy():
    """With the package root left out (a bare namespace for ``majl_hf``), ``import majl_hf.data``
    loads numpy, torch (through majl_hf.pitch) and its own modules only."""
    code = textwrap.dedent(f"""
        import json, sys, types
        root = types.ModuleType("majl_hf"); root.__path__ = [{str(Path(data.__file__).parents[1])!r}]
        sys.modules["majl_hf"] = root
        import majl_hf.data
        assert len(majl_hf.data.CORPORA) == 4
        print(json.dumps(sorted(sys.modules)))
    """)
    loaded = _modules_after(code)
    assert "majl_hf.data.mir1k" in loaded and "majl_hf.pitch" in loaded
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], heavy


def test_import_majl_hf_data_loads_no_pipeline_and_no_backbone():
    loaded = _modules_after("import json, sys, majl_hf.data; print(json.dumps(sorted(sys.modules)))")
    assert "transformers.pipelines" not in loaded
    backbones = sorted(m for m in loaded if m.startswith("majl_hf.models.") or m == "majl_hf.modeling_majl")
    assert backbones == [], backbones
