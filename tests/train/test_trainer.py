import numpy as np
import pytest

import zeronlp as zn
from zeronlp.data import spiral
from zeronlp.models import TwoLayerNet
from zeronlp.train import Trainer, TrainingDiverged


def make(tmp_path, lr=1.0, dropout=False):
    zn.manual_seed(0)
    model = TwoLayerNet(2, 10, 3)
    if dropout:
        model.layers = zn.nn.Sequential(*model.layers, zn.nn.Dropout(0.2))
    return model, zn.optim.SGD(model.parameters(), lr=lr, momentum=0.5)


def test_resume_reaches_the_identical_state(tmp_path):
    x, t = spiral(3, 50)
    model, opt = make(tmp_path, dropout=True)
    Trainer(model, opt, batch_size=30, out_dir=tmp_path / "a", quiet=True).fit((x, t), (x, t), epochs=6)

    model2, opt2 = make(tmp_path, dropout=True)
    Trainer(model2, opt2, batch_size=30, out_dir=tmp_path / "b", quiet=True).fit((x, t), (x, t), epochs=3)
    model3, opt3 = make(tmp_path, dropout=True)
    zn.manual_seed(123)  # resume must restore the RNG, not depend on the current seed
    trainer3 = Trainer(model3, opt3, batch_size=30, out_dir=tmp_path / "b", quiet=True)
    history = trainer3.fit((x, t), (x, t), epochs=6, resume=True)
    assert len(history) == 6
    for a, b in zip(model.parameters(), model3.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_ctrl_c_saves_position_and_resume_continues_identically(tmp_path, monkeypatch):
    x, t = spiral(3, 50)
    model, opt = make(tmp_path)
    Trainer(model, opt, batch_size=30, out_dir=tmp_path / "a", quiet=True).fit((x, t), epochs=2)

    model2, opt2 = make(tmp_path)
    trainer = Trainer(model2, opt2, batch_size=30, out_dir=tmp_path / "b", quiet=True)
    original, calls = trainer.train_step, {"n": 0}

    def interrupted_step(batch):
        calls["n"] += 1
        if calls["n"] == 7:  # second epoch, batch 2
            raise KeyboardInterrupt
        return original(batch)

    monkeypatch.setattr(trainer, "train_step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit((x, t), epochs=2)
    model3, opt3 = make(tmp_path)
    Trainer(model3, opt3, batch_size=30, out_dir=tmp_path / "b", quiet=True).fit((x, t), epochs=2, resume=True)
    for a, b in zip(model.parameters(), model3.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    x, t = spiral(3, 50)
    model, opt = make(tmp_path)
    trainer = Trainer(model, opt, batch_size=30, out_dir=tmp_path, quiet=True)
    trainer.fit((x, t), epochs=1)
    saved = zn.load(tmp_path / "checkpoint.safetensors")
    model.layers[2].weight.data[0, 0] = np.inf  # as if an update had overflowed
    with pytest.raises(TrainingDiverged, match="loss became"):
        with np.errstate(all="ignore"):
            trainer.fit((x, t), epochs=5)
    after = zn.load(tmp_path / "checkpoint.safetensors")
    assert after["epoch"] == 1
    for key in saved["model"]:
        np.testing.assert_array_equal(saved["model"][key], after["model"][key])


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    model, opt = make(tmp_path)
    with pytest.raises(zn.CheckpointError, match="no checkpoint"):
        Trainer(model, opt, out_dir=tmp_path, quiet=True).fit(spiral(3, 10), epochs=1, resume=True)


def test_mismatched_data_lengths():
    model, opt = make(None)
    with pytest.raises(ValueError, match="differ in length"):
        Trainer(model, opt, quiet=True).fit((np.zeros((5, 2), np.float32), np.zeros(4, np.int64)))


def test_spiral_book_setting_reaches_97_percent():
    from zeronlp.tasks.spiral import train as train_spiral

    zn.manual_seed(0)
    result = train_spiral(classes=3, hidden=10, epochs=300, lr=1.0, batch_size=30)
    assert result["final"]["train_accuracy"] >= 0.97


def test_spiral_five_classes_reaches_90_percent():
    from zeronlp.tasks.spiral import train as train_spiral

    zn.manual_seed(0)
    result = train_spiral(classes=5, hidden=30, epochs=300, lr=1.0, batch_size=30)
    assert result["final"]["train_accuracy"] >= 0.90


def test_checkpoint_every_n_steps_and_sigint_between_steps(tmp_path):
    """A periodic mid-epoch checkpoint records the position; a real SIGINT stops after the current
    step (never inside it) and the resumed run ends identical to an uninterrupted one."""
    import os
    import signal

    x, t = spiral(3, 50)
    model, opt = make(tmp_path)
    Trainer(model, opt, batch_size=30, out_dir=tmp_path / "a", quiet=True).fit((x, t), epochs=3)

    model2, opt2 = make(tmp_path)
    trainer = Trainer(model2, opt2, batch_size=30, out_dir=tmp_path / "b", quiet=True, checkpoint_steps=4)
    original, calls = trainer.train_step, {"n": 0}

    def step_then_signal(batch):
        value = original(batch)
        calls["n"] += 1
        if calls["n"] == 8:  # epoch 2, batch 3: the handler only sets a flag
            os.kill(os.getpid(), signal.SIGINT)
        return value

    trainer.train_step = step_then_signal
    with pytest.raises(KeyboardInterrupt):
        trainer.fit((x, t), epochs=3)
    saved = zn.load(tmp_path / "b" / "checkpoint.safetensors")
    assert (saved["epoch"], saved["position"]) == (1, 3)  # the step that got the signal was completed
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored

    model3, opt3 = make(tmp_path)
    Trainer(model3, opt3, batch_size=30, out_dir=tmp_path / "b", quiet=True).fit((x, t), epochs=3, resume=True)
    for a, b in zip(model.parameters(), model3.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_periodic_checkpoint_position(tmp_path):
    x, t = spiral(3, 50)
    model, opt = make(tmp_path)
    trainer = Trainer(model, opt, batch_size=30, out_dir=tmp_path, quiet=True, checkpoint_steps=7)
    saves = []
    original = trainer.save
    trainer.save = lambda batches=None: (saves.append((trainer.epoch, trainer.position)), original(batches))
    trainer.fit((x, t), epochs=2)
    assert (0, 0) not in saves and (1, 2) in saves  # step 7 = epoch 2 batch 2; epoch ends save too


def test_best_model_by_monitor_and_resume_refuses_other_config(tmp_path):
    x, t = spiral(3, 50)
    model, opt = make(tmp_path)
    trainer = Trainer(model, opt, batch_size=30, out_dir=tmp_path, quiet=True, monitor="valid_accuracy", mode="max",
                      meta={"config": {"hidden": 10}})
    history = trainer.fit((x, t), valid=(x, t), epochs=5)
    best = max(history, key=lambda row: row["valid_accuracy"])
    record = zn.load(tmp_path / "model.safetensors")
    assert record["epoch"] == best["epoch"] == trainer.best_epoch and record["config"] == {"hidden": 10}
    assert record["metric"]["valid_accuracy"] == best["valid_accuracy"]
    model2, opt2 = make(tmp_path)
    other = Trainer(model2, opt2, out_dir=tmp_path, quiet=True, meta={"config": {"hidden": 20}})
    with pytest.raises(zn.CheckpointError, match="holds a model with config"):
        other.fit((x, t), epochs=6, resume=True)
    with pytest.raises(zn.UsageError, match="reserved"):
        Trainer(model2, opt2, meta={"epoch": 3})
    with pytest.raises(zn.UsageError, match="epochs must be a positive integer"):
        Trainer(model2, opt2).fit((x, t), epochs=0)


def test_per_step_schedule_resumes_exactly_mid_epoch(tmp_path, monkeypatch):
    """A warm-up schedule is stepped after every optimizer step (not per epoch) and its position is
    checkpointed: an interrupted and resumed run ends in the uninterrupted run's state."""
    x, t = spiral(3, 50)  # 150 examples, batch 30: 5 steps an epoch

    def run(out, interrupt_at=None, resume=False):
        model, opt = make(tmp_path, lr=0.5)
        sched = zn.optim.WarmupCosine(opt, warmup_steps=7, total_steps=15)
        trainer = Trainer(model, opt, batch_size=30, scheduler=sched, out_dir=tmp_path / out, quiet=True)
        if interrupt_at is not None:
            original, calls = trainer.train_step, {"n": 0}

            def interrupted_step(batch):
                calls["n"] += 1
                if calls["n"] == interrupt_at:
                    raise KeyboardInterrupt
                return original(batch)

            monkeypatch.setattr(trainer, "train_step", interrupted_step)
            with pytest.raises(KeyboardInterrupt):
                trainer.fit((x, t), (x, t), epochs=3)
            return None
        trainer.fit((x, t), (x, t), epochs=3, resume=resume)
        return model, sched, trainer

    model, sched, trainer = run("a")
    assert sched.epoch == 15 and trainer.global_step == 15  # one scheduler step per optimizer step
    assert trainer.history[0]["lr"] == pytest.approx(0.5 * 6 / 7)  # after 5 steps: the 6th step's warm-up lr
    assert trainer.history[-1]["lr"] == pytest.approx(0.0, abs=1e-12)
    run("b", interrupt_at=8)  # second epoch, third batch
    saved = zn.load(tmp_path / "b" / "checkpoint.safetensors")
    assert saved["position"] == 2 and saved["scheduler"]["epoch"] == 7
    model2, sched2, _ = run("b", resume=True)
    assert sched2.epoch == 15
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


class FakeClock:
    """Stands in for the trainer's ``time`` module: every training step takes ``step_seconds``."""

    def __init__(self, step_seconds: float):
        self.now, self.step_seconds = 1000.0, step_seconds

    def perf_counter(self) -> float:
        return self.now


def _timed_steps(trainer, clock, monkeypatch):
    original = trainer.train_step

    def step(batch):
        clock.now += clock.step_seconds
        return original(batch)

    monkeypatch.setattr(trainer, "train_step", step)


def test_time_budget_stops_mid_epoch_evaluates_and_resume_keeps_the_spent_time(tmp_path, monkeypatch):
    from zeronlp.train import trainer as trainer_module

    x, t = spiral(3, 50)  # 150 rows, batch 30: 5 steps an epoch
    clock = FakeClock(step_seconds=10.0)
    monkeypatch.setattr(trainer_module, "time", clock)
    model, opt = make(tmp_path)
    trainer = Trainer(model, opt, batch_size=30, out_dir=tmp_path / "run", quiet=True, max_minutes=1.2)
    _timed_steps(trainer, clock, monkeypatch)
    history = trainer.fit((x, t), (x, t), epochs=10)
    # 72 s of budget: the 8th step ends at 80 s, in epoch 2 (3 of its 5 steps done)
    assert trainer.budget_spent and trainer.global_step == 8
    assert len(history) == 2 and "partial_epoch" not in history[0]
    assert history[1]["partial_epoch"] == pytest.approx(3 / 5) and "valid_loss" in history[1]
    assert (tmp_path / "run" / "model.safetensors").is_file()

    # resumed with the same budget: it is spent, nothing more is trained
    model2, opt2 = make(tmp_path)
    again = Trainer(model2, opt2, batch_size=30, out_dir=tmp_path / "run", quiet=True, max_minutes=1.2)
    _timed_steps(again, clock, monkeypatch)
    assert len(again.fit((x, t), (x, t), epochs=10, resume=True)) == 2
    assert again.global_step == 8 and again.budget_spent
    # a larger budget continues inside epoch 2 (counting the 80 s already spent): its row, now complete,
    # replaces the partial one, and the run stops again 2 steps into epoch 3
    model3, opt3 = make(tmp_path)
    more = Trainer(model3, opt3, batch_size=30, out_dir=tmp_path / "run", quiet=True, max_minutes=2.0)
    _timed_steps(more, clock, monkeypatch)
    history = more.fit((x, t), (x, t), epochs=10, resume=True)
    assert more.global_step == 12 and [row["epoch"] for row in history] == [1, 2, 3]
    assert "partial_epoch" not in history[1] and history[2]["partial_epoch"] == pytest.approx(2 / 5)

    # the same 12 steps without a budget give the same weights (the stops only evaluated and saved)
    model4, opt4 = make(tmp_path)
    plain = Trainer(model4, opt4, batch_size=30, quiet=True)
    plain.fit((x, t), epochs=2)
    original = plain.train_step
    calls = {"n": 0}

    def two_steps(batch):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return original(batch)

    monkeypatch.setattr(plain, "train_step", two_steps)
    with pytest.raises(KeyboardInterrupt):
        plain.fit((x, t), epochs=3)
    for a, b in zip(model3.parameters(), model4.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_time_budget_must_be_positive():
    model, opt = make(None)
    with pytest.raises(zn.errors.UsageError, match="max_minutes"):
        Trainer(model, opt, max_minutes=0)


def test_a_new_run_does_not_overwrite_an_unfinished_or_foreign_one(tmp_path):
    """A forgotten resume=True (--resume) must not replace the interrupted run's checkpoint."""
    x, t = spiral(3, 50)
    model, opt = make(tmp_path)
    trainer = Trainer(model, opt, batch_size=30, out_dir=tmp_path, quiet=True, meta={"config": {"hidden": 10}})
    trainer.max_minutes = 1e-9  # the budget ends the first epoch early: an unfinished run of 3 epochs
    trainer.fit((x, t), epochs=3)
    saved = (tmp_path / "checkpoint.safetensors").read_bytes()
    model2, opt2 = make(tmp_path)
    fresh = Trainer(model2, opt2, batch_size=30, out_dir=tmp_path, quiet=True, meta={"config": {"hidden": 10}})
    with pytest.raises(zn.errors.UsageError, match=r"unfinished run \(stopped in epoch 1 of 3 at batch \d+\)"):
        fresh.fit((x, t), epochs=3)
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == saved  # nothing lost
    fresh.max_minutes = None
    fresh.fit((x, t), epochs=3, resume=True)  # finishes it
    other = Trainer(*make(tmp_path), batch_size=30, out_dir=tmp_path, quiet=True, meta={"config": {"hidden": 99}})
    with pytest.raises(zn.errors.UsageError, match="another model"):
        other.fit((x, t), epochs=1)
    again = Trainer(*make(tmp_path), batch_size=30, out_dir=tmp_path, quiet=True, meta={"config": {"hidden": 10}})
    assert len(again.fit((x, t), epochs=1)) == 1  # a finished run of the same model is started over


def test_resume_refuses_other_data_or_settings_but_takes_more_epochs(tmp_path):
    x, t = spiral(3, 50)

    def trainer(vocab=("a", "b"), lr=1.0):
        model, opt = make(tmp_path)
        return Trainer(model, opt, batch_size=30, out_dir=tmp_path, quiet=True,
                       meta={"config": {"hidden": 10}, "vocab": list(vocab), "text": {"source": str(lr)}},
                       config={"lr": lr, "batch_size": 30, "epochs": 2, "train": f"data{lr}.txt"})

    trainer().fit((x, t), epochs=2)
    with pytest.raises(zn.errors.CheckpointError, match="another vocab"):
        trainer(vocab=("a", "c")).fit((x, t), epochs=3, resume=True)
    with pytest.raises(zn.errors.CheckpointError, match=r"lr 1\.0 \(now 0\.5\)"):
        trainer(lr=0.5).fit((x, t), epochs=3, resume=True)
    assert len(trainer().fit((x, t), epochs=3, resume=True)) == 3  # more epochs, files elsewhere: fine
