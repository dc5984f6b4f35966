import numpy as np
import pytest

import zeronlp as zn


def make_opt(lr=1.0):
    return zn.optim.SGD([zn.nn.Parameter(np.zeros(2, dtype=np.float32))], lr=lr)


def test_step_lr():
    opt = make_opt()
    sched = zn.optim.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        sched.step()
        lrs.append(opt.lr)
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]


def test_cosine_annealing_endpoints():
    opt = make_opt()
    sched = zn.optim.CosineAnnealing(opt, T_max=4, eta_min=0.1)
    values = []
    for _ in range(4):
        sched.step()
        values.append(opt.lr)
    assert values[1] == pytest.approx(0.55)
    assert values[-1] == pytest.approx(0.1)


def test_reduce_on_plateau_divides_by_four_like_the_book():
    opt = make_opt(20.0)
    sched = zn.optim.ReduceOnPlateau(opt, factor=0.25, patience=0)
    for ppl in [300, 200, 180, 190, 170, 175]:
        sched.step(ppl)
    assert opt.lr == pytest.approx(20 / 16)


def test_optimizer_rejects_empty_params():
    with pytest.raises(ValueError, match="empty parameter list"):
        zn.optim.Adam([])


def test_warmup_cosine_is_linear_then_cosine_per_step():
    opt = make_opt(1.0)
    sched = zn.optim.WarmupCosine(opt, warmup_steps=4, total_steps=12, eta_min=0.1)
    assert sched.per_step and opt.lr == pytest.approx(0.25)  # step 0 already warms up
    values = [opt.lr]
    for _ in range(14):
        sched.step()
        values.append(opt.lr)
    assert values[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert values[8] == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the cosine
    assert values[12:] == pytest.approx([0.1, 0.1, 0.1])
    clone = zn.optim.WarmupCosine(make_opt(1.0), warmup_steps=4, total_steps=12, eta_min=0.1)
    clone.load_state_dict(sched.state_dict())
    assert clone.optimizer.lr == pytest.approx(0.1) and clone.epoch == sched.epoch


def test_lambda_lr_scales_the_base_rate_per_step():
    opt = make_opt(2.0)
    sched = zn.optim.LambdaLR(opt, lambda step: 0.5 ** step)
    assert opt.lr == 2.0
    sched.step()
    sched.step()
    assert opt.lr == pytest.approx(0.5)
    assert "lr_lambda" not in sched.state_dict()


def _torch_pair(torch, lr=0.5):
    ours = zn.optim.SGD([zn.nn.Parameter(np.ones(1, np.float32))], lr=lr)
    theirs = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=lr)
    return ours, theirs


def test_cosine_annealing_lr_is_pytorchs_and_cosine_annealing_stays_at_the_floor():
    torch = pytest.importorskip("torch")
    ours, theirs = _torch_pair(torch)
    sched = zn.optim.CosineAnnealingLR(ours, T_max=4, eta_min=0.05)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=4, eta_min=0.05)
    clamped = zn.optim.CosineAnnealing(make_opt(0.5), T_max=4, eta_min=0.05)
    for epoch in range(10):
        theirs.step()
        sched.step()
        reference.step()
        clamped.step()
        assert ours.lr == pytest.approx(theirs.param_groups[0]["lr"]), epoch
    assert clamped.optimizer.lr == pytest.approx(0.05)  # past T_max: the floor, not the climb back


@pytest.mark.parametrize("kwargs", [
    {},  # PyTorch's defaults: factor 0.1, patience 10, relative threshold 1e-4
    dict(mode="max", patience=1, cooldown=2),
    dict(patience=0, threshold=0.5, threshold_mode="abs", min_lr=0.01),
    dict(patience=2, threshold=0.05, factor=0.5, eps=0.2),
], ids=["defaults", "max-cooldown", "abs-min_lr", "rel-eps"])
def test_reduce_lr_on_plateau_follows_pytorch(kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = _torch_pair(torch)
    sched = zn.optim.ReduceLROnPlateau(ours, **kwargs)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs)
    metrics = np.random.default_rng(1).uniform(1.0, 1.1, size=40)
    metrics[:5] = [5.0, 4.0, 4.0, 3.99, 3.999]
    for epoch, metric in enumerate(metrics):
        if epoch == 20:  # resume half-way from the saved state
            sched2 = zn.optim.ReduceLROnPlateau(ours, **kwargs)
            sched2.load_state_dict(sched.state_dict())
            sched = sched2
        sched.step(float(metric))
        reference.step(float(metric))
        assert ours.lr == pytest.approx(theirs.param_groups[0]["lr"]), epoch


def test_scheduler_state_with_unknown_keys_is_refused():
    sched = zn.optim.StepLR(make_opt(), step_size=2)
    with pytest.raises(ValueError, match="unknown keys.*optimizer"):
        sched.load_state_dict({"epoch": 3, "optimizer": None})
