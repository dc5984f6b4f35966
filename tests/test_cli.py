import json

from zeronlp.cli import main


def test_spiral_cli_writes_plots_and_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["spiral", "--epochs", "30", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"config", "history", "final"}
    assert len(metrics["history"]) == 30 and "test_accuracy" in metrics["final"]
    for name in ("loss.png", "decision_boundary.png", "checkpoint.safetensors"):
        assert (out / name).stat().st_size > 1000
    # resume continues to 40 epochs from the checkpoint of 30
    assert main(["spiral", "--epochs", "40", "--out", str(out), "--quiet", "--resume"]) == 0
    assert len(json.loads((out / "metrics.json").read_text())["history"]) == 40


def test_cli_reports_bad_resume_clearly(tmp_path, capsys):
    assert main(["spiral", "--out", str(tmp_path / "none"), "--resume", "--quiet"]) == 2
    assert "error: cannot resume: no checkpoint" in capsys.readouterr().err
