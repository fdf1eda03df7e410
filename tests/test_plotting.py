"""The f0 plot: Hz ticks and note names, gaps (not strokes) across unvoiced frames and octave jumps,
the time axis ending with the audio, the legend outside the spectrogram, a colour bar."""

import numpy as np
import pytest

from majl_hf.plotting import f0_figure, f0_line, note_name, plot_f0_over_spectrogram


@pytest.fixture
def melody():
    """3 s at 22.05 kHz: A3 for 1.5 s then A4; an octave-error blip at frames 40-42, unvoiced 100-109."""
    sr = 22050
    t = np.arange(3 * sr) / sr
    f = np.where(t < 1.5, 220.0, 440.0)
    audio = (0.3 * np.sin(2 * np.pi * np.cumsum(f) / sr)).astype(np.float32)[None]
    times = np.arange(150) * 0.02
    f0 = np.where(times < 1.5, 220.0, 440.0)
    f0[40:43] = 440.0
    voiced = np.ones(150, bool)
    voiced[100:110] = False
    return audio, sr, times, f0, voiced


def test_note_names():
    assert [note_name(h) for h in (440.0, 261.63, 65.41, 1046.5, 466.16)] == ["A4", "C4", "C2", "C6", "A#4"]


def test_line_breaks_at_jumps_and_unvoiced(melody):
    _, _, times, f0, voiced = melody
    x, y = f0_line(times, f0, voiced)
    # no drawn segment joins two points more than 6 semitones apart (the old plot drew vertical strokes)
    with np.errstate(invalid="ignore"):
        steps = np.abs(12 * np.log2(y[1:] / y[:-1]))
    assert np.nanmax(steps) < 1e-9
    assert np.isnan(y).sum() == 10 + 3  # 10 unvoiced frames, NaNs inserted at 220→440, 440→220, 220→440 (1.5 s)
    assert np.all(np.diff(x) > 0) and x[0] == times[0] and x[-1] == times[-1]
    # a glide (one semitone per frame) stays one line
    glide = 220 * 2 ** (np.arange(20) / 12)
    _, y = f0_line(np.arange(20) * 0.02, glide, np.ones(20, bool))
    assert not np.isnan(y).any()


def test_figure_axes_ticks_legend_colorbar(melody, tmp_path):
    audio, sr, times, f0, voiced = melody
    fig = f0_figure(audio, sr, times, f0, voiced, title="melody")
    ax, notes, cbar = fig.axes[0], fig.axes[1], fig.axes[2]
    assert ax.get_xlim() == pytest.approx((0.0, 3.0))  # ends with the audio (was ~0.5 s past it)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["50", "100", "200", "300", "500", "1000", "2000"]  # Hz values, not 10^2 / 10^3
    assert [t.get_text() for t in notes.get_yticklabels()] == ["C2", "C3", "C4", "C5", "C6"]
    assert notes.get_ylim() == pytest.approx(ax.get_ylim())
    semitones = int(np.floor(12 * np.log2(2000 / 440))) - int(np.ceil(12 * np.log2(50 / 440))) + 1
    ticks = len(notes.yaxis.get_minorticklocs()) + len(notes.get_yticks())
    assert ticks == semitones == 64  # a tick per semitone between 50 Hz and 2 kHz
    assert "dBFS" in cbar.get_ylabel()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    assert not legend.overlaps(ax.get_window_extent(renderer))  # outside the spectrogram
    # the spectrogram's level: a 0.3-amplitude sine peaks at about 20·log10(0.3) = -10.5 dBFS
    mesh = ax.collections[0]
    print(f"spectrogram max {mesh.get_array().max():.1f} dBFS")
    assert mesh.get_array().max() == pytest.approx(20 * np.log10(0.3), abs=1.5)
    path = tmp_path / "f0.png"
    plot_f0_over_spectrogram(audio, sr, times, f0, voiced, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_figure_from_precomputed_columns_equals_the_one_from_audio(melody):
    """spectrogram=(times, freqs, db) (the streamed command line's path) draws the same mesh, scale and axis
    end as analysing the audio; missing inputs are refused with a message."""
    from majl_hf.plotting import _spectrogram_db

    audio, sr, times, f0, voiced = melody
    ref = f0_figure(audio, sr, times, f0, voiced)
    cols = _spectrogram_db(audio.mean(0), sr, 2000.0)
    fig = f0_figure(None, sr, times, f0, voiced, spectrogram=cols, duration_s=3.0)
    a, b = ref.axes[0].collections[0], fig.axes[0].collections[0]
    np.testing.assert_array_equal(a.get_array(), b.get_array())
    assert (a.norm.vmin, a.norm.vmax) == (b.norm.vmin, b.norm.vmax)
    assert fig.axes[0].get_xlim() == pytest.approx((0.0, 3.0))
    with pytest.raises(ValueError, match="duration_s"):
        f0_figure(None, sr, times, f0, voiced, spectrogram=cols)
    with pytest.raises(ValueError, match="vocals or a precomputed"):
        f0_figure(None, sr, times, f0, voiced)
