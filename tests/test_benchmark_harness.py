"""The benchmark harness's README update keeps the hand-written text around the last-run block."""

import pytest

from benchmarks.harness import LAST_RUN_BEGIN, LAST_RUN_END, blas_description, record_last_run


def test_record_last_run_appends_then_replaces_only_the_block(tmp_path):
    readme = tmp_path / "README_x.md"
    readme.write_text("# Title\n\nMeasured by hand: 1.5x.\n", encoding="utf-8")
    record_last_run(readme, "| a | 1 |")
    first = readme.read_text(encoding="utf-8")
    assert first.startswith("# Title\n\nMeasured by hand: 1.5x.\n")
    assert f"{LAST_RUN_BEGIN}\n| a | 1 |\n{LAST_RUN_END}" in first

    readme.write_text(first + "\nNotes after the block.\n", encoding="utf-8")
    record_last_run(readme, "| a | 2 |")
    second = readme.read_text(encoding="utf-8")
    assert "| a | 1 |" not in second and "| a | 2 |" in second
    assert second.count(LAST_RUN_BEGIN) == 1 and second.count(LAST_RUN_END) == 1
    assert "Measured by hand: 1.5x." in second and second.rstrip().endswith("Notes after the block.")


def test_record_last_run_creates_a_missing_file(tmp_path):
    readme = tmp_path / "new.md"
    record_last_run(readme, "table")
    assert readme.read_text(encoding="utf-8") == f"{LAST_RUN_BEGIN}\ntable\n{LAST_RUN_END}\n"


def test_blas_description_names_the_library_or_says_unknown():
    text = blas_description()
    assert "kernels" in text or "unknown" in text
    if "kernels" in text:  # and which product the recurrent steps use
        assert "recurrent steps on packed weights" in text or "recurrent steps on BLAS" in text


def test_step_gemm_description_follows_the_setting(monkeypatch):
    from benchmarks.harness import step_gemm_description

    monkeypatch.setenv("ZERONLP_PACKED_GEMM", "0")
    assert step_gemm_description().startswith("BLAS")


def test_lstm_benchmark_knows_the_generic_model_and_its_fused_variant():
    from benchmarks import lstm

    assert lstm.parse_extra([]).models.split(",") == ["rnnlm", "better", "generic", "generic-fused"]
    assert lstm.GROUPS["generic"] == ("generic", "generic-fused")


def test_generic_and_generic_fused_compute_the_same_loss():
    """The two variants timed as `generic` and `generic-fused` are the same model and the same loss."""
    import numpy as np

    from benchmarks import lstm

    rng = np.random.default_rng(0)
    windows = [(rng.integers(0, 30, (2, 3)), rng.integers(0, 30, (2, 3)))]
    losses = {}
    for name in ("generic", "generic-fused"):
        train, evaluate = lstm.generic_fns(name, windows, 30)
        losses[name] = (evaluate(), train(), evaluate())
    np.testing.assert_allclose(losses["generic"], losses["generic-fused"], rtol=1e-5)


def test_gru_benchmark_runs_and_reports_a_ratio_per_case():
    import argparse

    from benchmarks import gru

    rows = gru.run(1, argparse.Namespace(quick=True))
    assert [r["case"] for r in rows] == ["B=128 I=64 H=128 T=20", "B=20 I=650 H=650 T=35"]
    assert all(r["zeronlp_ms"] > 0 for r in rows)


def test_step_gemm_benchmark_reports_both_kernels_per_case():
    import argparse

    pytest.importorskip("numba")
    from benchmarks import step_gemm

    rows = step_gemm.run(1, argparse.Namespace(threads=2))
    assert [r["case"] for r in rows] == [f"{b} x {k} x {n}" for b, k, n in step_gemm.CASES]
    assert all(r["blas_gflops"] > 0 and r["packed_gflops"] > 0 and r["ratio"] > 0 for r in rows)
