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
