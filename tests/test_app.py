"""The web demo (majl_hf.app): the library function behind it, and the page in a real headless
browser (Debian's chromium driven by Playwright) from upload to downloads."""

import io
import json
import os
import re
import shutil
import socket
import time
import urllib.request

import numpy as np
import pytest

from tests.conftest import EXAMPLE

gr = pytest.importorskip("gradio", reason="needs the app extra (pip install 'majl_hf[app]')")
pretty_midi = pytest.importorskip("pretty_midi", reason="needs the app extra (pip install 'majl_hf[app]')")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def app_model(tiny_model_dir):
    """The tiny pretrained default when cached (real notes), else the random tiny cascade."""
    import majl_hf
    from majl_hf.hub import is_cached

    return majl_hf.DEFAULT_MODEL_TINY if is_cached(majl_hf.DEFAULT_MODEL_TINY) else str(tiny_model_dir)


def _check_wav(data: bytes, duration_s: float):
    import soundfile as sf

    audio, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert sr == 44100 and audio.shape[1] == 2
    assert abs(audio.shape[0] / sr - duration_s) < 0.05
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    return audio


def test_process_writes_the_files(app_model, tmp_path):
    from majl_hf.app import DOWNLOAD_PARTS, process
    from majl_hf.audio import read_audio_file
    from majl_hf.notes import read_midi, read_notes_csv

    calls = []
    res = process(EXAMPLE, app_model, tmp_path, progress=lambda *a: calls.append(a))
    assert {c[0] for c in calls} == {"reading", "separation", "pitch"} and calls[-1][1] == calls[-1][2]
    assert [c[0] for c in calls].index("separation") > max(i for i, c in enumerate(calls) if c[0] == "reading")
    assert set(res.paths) >= set(DOWNLOAD_PARTS) | {"f0.png"}
    assert [p.split("/")[-1] for p in res.downloads] == [
        "audio_example_vocals.wav", "audio_example_accompaniment.wav", "audio_example_f0.csv",
        "audio_example_f0.json", "audio_example_notes.csv", "audio_example.mid"]
    duration = read_audio_file(EXAMPLE)[0].shape[1] / 44100
    _check_wav(res.paths["vocals"].read_bytes(), duration)
    assert read_notes_csv(res.paths["notes.csv"]) == [tuple(round(x, 4) for x in n) for n in res.notes]
    assert len(read_midi(res.paths["mid"])) == len(res.notes) == len(res.note_rows)
    assert res.paths["f0.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"{app_model}: {len(res.notes)} notes; messages {res.messages}")


def test_bad_file_gives_a_clear_message(app_model, tmp_path):
    from majl_hf.app import AppInputError, process, run_for_page

    bad = tmp_path / "song.mp3"
    bad.write_text("this is not audio\n")
    with pytest.raises(AppInputError, match="not an audio file we can decode: song.mp3"):
        process(bad, app_model, tmp_path)
    with pytest.raises(gr.Error, match="not an audio file"):  # what the page shows
        run_for_page(str(bad), app_model, True, lambda *a, **k: None)
    with pytest.raises(gr.Error, match="no audio: upload a song"):
        run_for_page(None, app_model, True, lambda *a, **k: None)
    with pytest.raises(AppInputError, match="up to 0 min"):
        process(EXAMPLE, app_model, tmp_path, max_duration_s=1.0)


def test_available_models(tmp_path, monkeypatch):
    import majl_hf
    from majl_hf.app import available_models

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # an empty cache: the tiny default is offered
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path))
    assert available_models() == [majl_hf.DEFAULT_MODEL_TINY]
    assert available_models(["my/model"]) == ["my/model"]


def _browser_or_skip():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")
    exe = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if exe is None:
        pytest.skip("no chromium on this machine (apt-get install chromium chromium-driver; .ci/run does it "
                    "where apt is available)")
    return sync_api, exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    assert url.startswith("http://127.0.0.1:"), url  # loopback only
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def test_the_page_in_a_headless_browser(app_model, tmp_path, monkeypatch):
    sync_api, exe = _browser_or_skip()
    from majl_hf.app import build_demo, launch

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    port = _free_port()
    demo = build_demo([app_model])
    launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1800})
                errors = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
                page.wait_for_selector("#run", timeout=60_000)
                page.locator("#song input[type=file]").set_input_files(str(EXAMPLE))  # upload through the page
                page.wait_for_function(  # the upload reached the server (the player links to its copy)
                    "Array.from(document.querySelectorAll('#song a'))"
                    ".some(a => a.href.endsWith('/audio_example.mp3'))",
                    timeout=60_000)
                t0 = time.monotonic()
                page.click("#run")
                page.wait_for_selector("#downloads a[data-testid=download-link]", timeout=240_000)
                page.wait_for_function("document.querySelector('#f0plot img') && "
                                       "document.querySelector('#f0plot img').naturalWidth > 0", timeout=60_000)
                print(f"outputs after {time.monotonic() - t0:.1f} s")
                srcs = {}
                for k in ("vocals", "accompaniment"):  # each player: an audio element, its file, its decoded length
                    assert page.locator(f"#{k} audio").count() >= 1
                    srcs[k] = page.eval_on_selector(f"#{k} a[data-testid=download-link]", "a => a.href")
                    assert srcs[k].endswith(f"_{k}.wav"), srcs[k]
                    page.wait_for_function(f"document.querySelector('#{k}').innerText.includes('0:1')",
                                           timeout=30_000)  # the player shows the 10.9 s length: it decoded the file
                size = page.evaluate("[document.querySelector('#f0plot img').naturalWidth, "
                                     "document.querySelector('#f0plot img').naturalHeight]")
                assert size == [1200, 500], size  # the CLI's figure: 12 x 5 in at 100 dpi
                status = page.locator("#status").inner_text()
                assert "Done" in status, status
                rows = int(re.search(r"(\d+) notes", status).group(1))
                table = page.locator("#notes").inner_text()
                links = page.eval_on_selector_all("#downloads a[data-testid=download-link]",
                                                  "els => els.map(e => e.href)")
                shot = tmp_path / "majl_app.png"
                page.screenshot(path=str(shot), full_page=True)
                print(f"screenshot: {shot}")
                assert not errors, errors
            finally:
                browser.close()
        by_name = {url.rsplit("/", 1)[-1]: url for url in links}
        assert set(by_name) == {"audio_example_vocals.wav", "audio_example_accompaniment.wav", "audio_example_f0.csv",
                                "audio_example_f0.json", "audio_example_notes.csv", "audio_example.mid"}
        duration = json.loads(_get(by_name["audio_example_f0.json"]))["times_s"][-1]
        vocals = _check_wav(_get(by_name["audio_example_vocals.wav"]), duration)
        accompaniment = _check_wav(_get(srcs["accompaniment"]), duration)  # what the player plays
        assert vocals.shape == accompaniment.shape
        csv_lines = _get(by_name["audio_example_f0.csv"]).decode().splitlines()
        assert csv_lines[0] == "time_s,f0_hz,confidence,voiced" and len(csv_lines) > 500
        midi = pretty_midi.PrettyMIDI(io.BytesIO(_get(by_name["audio_example.mid"])))
        notes = [n for inst in midi.instruments for n in inst.notes]
        note_lines = _get(by_name["audio_example_notes.csv"]).decode().splitlines()[1:]
        assert len(notes) == len(note_lines) == rows
        for n, line in zip(sorted(notes, key=lambda n: n.start), note_lines):
            onset, offset, pitch, name = line.split(",")
            assert abs(n.start - float(onset)) < 1e-3 and abs(n.end - float(offset)) < 1e-3 and n.pitch == int(pitch)
            assert str(round(float(onset), 3)) in table and name in table  # the page's notes table shows it
        print(f"{app_model}: {rows} notes in the table and the MIDI file")
    finally:
        demo.close()
