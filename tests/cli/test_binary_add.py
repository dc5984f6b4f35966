"""`zeronlp binary-add` end to end: one resumable run directory per variant, the plot, the table."""

import json

from zeronlp.cli import main


def test_binary_add_cli_writes_runs_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["binary-add", "--variants", "base,tanh", "--iterations", "300", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    for variant in ("base", "tanh"):
        assert (out / variant / "checkpoint.safetensors").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["final"]) == {"base_accuracy", "tanh_accuracy", "base_final_loss", "tanh_final_loss"}
    assert (out / "loss.png").stat().st_size > 1000
    # resuming with more iterations continues each variant's run from its checkpoint
    assert main([*argv[:4], "600", *argv[5:], "--resume"]) == 0
    history = json.loads((out / "base" / "metrics.json").read_text())["history"]
    assert [row["epoch"] for row in history] == list(range(1, 7))
    assert main(["binary-add", "--variants", "base,sideways", "--out", str(out)]) == 2
    assert "unknown variants ['sideways']" in capsys.readouterr().err
