"""The plots as a person reads them: axes, tick labels and cropping read back from the figures."""

from pathlib import Path

import numpy as np
import pytest

from zeronlp.viz import plots


@pytest.fixture()
def figures(monkeypatch):
    """Every figure a plot function saves, kept open for inspection (the file is still written)."""
    kept = []

    def save_and_keep(fig, path):
        fig.tight_layout()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=60)
        kept.append(fig)
        return Path(path)

    monkeypatch.setattr(plots, "_save", save_and_keep)
    yield kept
    for fig in kept:
        plots._pyplot().close(fig)


def test_curves_have_integer_epoch_ticks(figures, tmp_path):
    history = [{"epoch": e, "valid_perplexity": 100.0 / e} for e in range(1, 5)]
    plots.plot_curves(history, ["valid_perplexity"], tmp_path / "ppl.png", ylabel="perplexity")
    ax = figures[0].axes[0]
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 4]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "perplexity"


def test_confusion_matrix_names_classes_and_shows_counts_and_shares(figures, tmp_path):
    plots.plot_confusion(np.array([[8, 2], [1, 9]]), ["negative", "positive"], tmp_path / "c.png")
    ax = figures[0].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["negative", "positive"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert "8\n80%" in [t.get_text() for t in ax.texts]


def test_labeled_points_do_not_overlap_and_axes_are_named(figures, tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 2)) * 0.05  # a dense cluster
    labels = [f"word{i}" for i in range(30)]
    plots.plot_labeled_points(points, labels, tmp_path / "p.png", xlabel="PC1 (40%)", ylabel="PC2 (20%)")
    fig = figures[0]
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("PC1 (40%)", "PC2 (20%)")
    boxes = [t.get_window_extent() for t in ax.texts]
    overlapping = sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert overlapping <= 3, f"{overlapping} overlapping label pairs"


def test_series_smoothing_draws_raw_and_average(figures, tmp_path):
    plots.plot_series({"base": list(np.linspace(1, 0, 40) + 0.1 * np.sin(np.arange(40)))}, tmp_path / "s.png",
                      smooth_window=9)
    ax = figures[0].axes[0]
    assert len(ax.lines) == 2 and [t.get_text() for t in ax.get_legend().get_texts()] == ["base"]


def test_attention_is_cropped_to_the_real_tokens(figures, tmp_path):
    from zeronlp.tasks.seq2seq import plot_attention

    weights = np.full((6, 10), 0.1)
    plot_attention(weights, list("abc") + [" "] * 7, list("cba") + [" "] * 3, tmp_path / "a.png")
    ax = figures[0].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "b", "a"]
    assert ax.images[0].get_array().shape == (3, 3)
