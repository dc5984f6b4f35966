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


def test_lstm_gemm_flops_counts_every_product_of_the_model():
    """Per token: each layer's four gates from its input and its hidden state, then the output layer;
    training is three products of that size for each (forward, input gradient, weight gradient)."""
    from benchmarks import lstm

    tokens, vocab = 7, 50
    # RNNLM: one layer, word vectors 100, hidden 100
    per_token = 2 * (100 + 100) * 4 * 100 + 2 * 100 * vocab
    assert lstm.gemm_flops("rnnlm", tokens, vocab, "eval") == tokens * per_token
    assert lstm.gemm_flops("rnnlm", tokens, vocab, "train") == 3 * tokens * per_token
    # the 650-unit models: layer 1 from the 650-wide word vectors, layer 2 from layer 1's 650 outputs
    per_token = 2 * 2 * (650 + 650) * 4 * 650 + 2 * 650 * vocab
    for name in ("better", "generic", "generic-fused"):
        assert lstm.gemm_flops(name, tokens, vocab, "eval") == tokens * per_token
    # BetterRNNLM at PTB's shapes: the 18.6 GFLOP a 700-token evaluation window does
    assert abs(lstm.gemm_flops("better", 700, 10_000, "eval") / 1e9 - 18.56) < 0.01
    with pytest.raises(ValueError, match="mode"):
        lstm.gemm_flops("rnnlm", tokens, vocab, "predict")


def test_gemm_peak_fns_run_the_products_they_count():
    import time

    import numpy as np

    from benchmarks.harness import gemm_peak_fns

    fns, flops = gemm_peak_fns(None, size=64, products=2)
    assert list(fns) == ["peak numpy"] and flops == 2 * 2 * 64**3
    start = time.perf_counter()
    fns["peak numpy"]()
    assert time.perf_counter() - start > 0
    torch = pytest.importorskip("torch")
    fns, _ = gemm_peak_fns(torch, size=32, products=1)
    assert set(fns) == {"peak numpy", "peak torch"}
    for fn in fns.values():
        fn()
    assert np.isfinite(flops)


def test_lstm_benchmark_bounds_tokens_per_second_by_the_gemm_peak(monkeypatch):
    """With the peak GEMMs timed at 1 GFLOP/s, a model's GEMM-bound tokens/s is tokens / (its FLOPs / 1e9),
    and the peak is timed in the same alternation as the models."""
    import argparse

    from benchmarks import lstm

    timed = {}

    def fake_interleaved(fns, repeat):
        timed["names"] = sorted(fns)
        return {name: [2.0] for name in fns}  # every call 2 s: the peak's 2e9 FLOPs at 1 GFLOP/s

    monkeypatch.setattr(lstm, "interleaved", fake_interleaved)
    monkeypatch.setattr(lstm, "_windows", lambda count: [])
    monkeypatch.setattr(lstm, "torch_or_none", lambda: None)
    monkeypatch.setattr(lstm, "gemm_peak_fns", lambda torch, device: ({"peak numpy": lambda: None}, 2e9))
    rows = lstm.run(1, argparse.Namespace(extra=["--models", "rnnlm", "--windows", "2", "--no-readme"]))
    assert timed["names"] == ["peak numpy", "rnnlm eval", "rnnlm train"]
    tokens = 2 * lstm.BATCH * lstm.BPTT
    for row in rows:
        flops = lstm.gemm_flops("rnnlm", tokens, 10_000, row["mode"])
        assert row["bound"] == pytest.approx(tokens / (flops / 1e9))
        assert row["zeronlp"] == pytest.approx(tokens / 2.0)
        assert row["peak_gflops"] == pytest.approx(1.0)
