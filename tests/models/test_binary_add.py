"""Seed 002's binary addition: the base variant learns to add; outputs of the experiment runner."""

import json

import numpy as np

from zeronlp.models.binary_add import to_bits
from zeronlp.tasks.binary_add import run_experiments, train_variant


def test_bits_are_least_significant_first():
    np.testing.assert_array_equal(to_bits([6]), [[0, 1, 1, 0, 0, 0, 0, 0]])


def test_base_variant_reaches_full_accuracy():
    result = train_variant("base", iterations=6000, seed=0)
    assert result["accuracy"] == 1.0
    assert result["final_loss"] < 0.1 and not result["diverged"]


def test_runner_writes_plot_table_and_metrics(tmp_path):
    results = run_experiments(["lr0.01", "relu"], iterations=200, out_dir=tmp_path, quiet=True)
    assert [r["variant"] for r in results] == ["lr0.01", "relu"]
    assert (tmp_path / "loss.png").stat().st_size > 0
    assert "| relu | relu | 0.1 |" in (tmp_path / "results.md").read_text()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "relu_accuracy" in metrics["final"]
