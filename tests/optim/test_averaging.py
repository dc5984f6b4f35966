"""AveragedModel: uniform and EMA averages against their closed forms and PyTorch, swap, resume."""

import numpy as np
import pytest

import zeronlp as zn
from zeronlp import nn, optim


def _walk(model, steps, seed=0):
    """Move the parameters along a random path; yield a snapshot (float64 copies) after each step."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for p in model.parameters():
            p.data += rng.standard_normal(p.shape).astype(p.data.dtype)
        yield [p.data.astype(np.float64) for p in model.parameters()]


def test_uniform_average_is_the_mean_of_the_iterates():
    zn.manual_seed(0)
    model = nn.Linear(3, 2)
    averaged = optim.AveragedModel(model)
    snaps = []
    for snap in _walk(model, 7):
        averaged.update_parameters()
        snaps.append(snap)
    for i, avg in enumerate(averaged.averages):
        np.testing.assert_allclose(avg, np.mean([s[i] for s in snaps], axis=0), rtol=1e-5, atol=1e-5)
    assert averaged.n_averaged == 7


def test_ema_matches_its_closed_form():
    zn.manual_seed(0)
    model = nn.Linear(3, 2)
    d = 0.8
    averaged = optim.AveragedModel(model, decay=d)
    snaps = []
    for snap in _walk(model, 6):
        averaged.update_parameters()
        snaps.append(snap)
    n = len(snaps)
    for i, avg in enumerate(averaged.averages):
        # avg_n = d^(n-1) theta_1 + sum_{k=2..n} (1 - d) d^(n-k) theta_k
        expected = d ** (n - 1) * snaps[0][i] + sum((1 - d) * d ** (n - k) * snaps[k - 1][i] for k in range(2, n + 1))
        np.testing.assert_allclose(avg, expected, rtol=1e-5, atol=1e-5)


def test_applied_swaps_in_the_average_and_restores_the_training_weights():
    zn.manual_seed(0)
    model = nn.Linear(3, 2)
    averaged = optim.AveragedModel(model)
    for _ in _walk(model, 3):
        averaged.update_parameters()
    training = [p.data for p in model.parameters()]
    x = np.ones((1, 3), dtype=np.float32)
    with averaged.applied() as m:
        assert m is model
        for p, avg in zip(model.parameters(), averaged.averages):
            np.testing.assert_array_equal(p.data, avg)
        inside = model(x).data.copy()
    assert all(p.data is t for p, t in zip(model.parameters(), training))
    w, b = averaged.averages
    np.testing.assert_allclose(inside, x @ w.T + b, rtol=1e-6)
    with pytest.raises(RuntimeError), averaged.applied():
        raise RuntimeError("evaluation failed")
    assert all(p.data is t for p, t in zip(model.parameters(), training))


def test_shared_parameter_is_averaged_once():
    zn.manual_seed(0)
    model = zn.models.BetterRNNLM(20, 6, 6, dropout=0.0)  # embedding and output weights tied
    averaged = optim.AveragedModel(model, decay=0.5)
    snaps = []
    for snap in _walk(model, 2):
        averaged.update_parameters()
        snaps.append(snap)
    for i, avg in enumerate(averaged.averages):  # two updates: 0.5 * theta_1 + 0.5 * theta_2
        np.testing.assert_allclose(avg, 0.5 * snaps[0][i] + 0.5 * snaps[1][i], rtol=1e-5, atol=1e-6)


def test_state_dict_round_trip_continues_the_same_average(tmp_path):
    zn.manual_seed(0)
    model = nn.Linear(4, 3)
    averaged = optim.AveragedModel(model, decay=0.9)
    path = iter(_walk(model, 10, seed=1))
    for _ in range(5):
        next(path)
        averaged.update_parameters()
    zn.save({"average": averaged.state_dict()}, tmp_path / "avg.safetensors")
    resumed = optim.AveragedModel(model, decay=0.9)
    resumed.load_state_dict(zn.load(tmp_path / "avg.safetensors")["average"])
    assert resumed.n_averaged == 5
    for _ in range(5):
        next(path)
        averaged.update_parameters()
        resumed.update_parameters()
    for a, b in zip(averaged.averages, resumed.averages):
        np.testing.assert_array_equal(a, b)


def test_bad_input_is_rejected():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="decay"):
        optim.AveragedModel(model, decay=1.0)
    averaged = optim.AveragedModel(model)
    state = averaged.state_dict()
    state["weights"]["weight"] = np.zeros((3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"weight has shape \(3, 3\)"):
        averaged.load_state_dict(state)
    del state["weights"]["bias"]
    with pytest.raises(KeyError, match="bias"):
        averaged.load_state_dict(state)


@pytest.mark.parametrize("decay", [None, 0.7])
def test_parity_with_torch_swa_utils(decay):
    torch = pytest.importorskip("torch")
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    zn.manual_seed(0)
    model = nn.Linear(3, 2)
    reference = torch.nn.Linear(3, 2)
    ours = optim.AveragedModel(model, decay=decay)
    theirs = AveragedModel(reference, multi_avg_fn=None if decay is None else get_ema_multi_avg_fn(decay))
    for _ in _walk(model, 5, seed=2):
        with torch.no_grad():
            reference.weight.copy_(torch.from_numpy(model.weight.data))
            reference.bias.copy_(torch.from_numpy(model.bias.data))
        ours.update_parameters()
        theirs.update_parameters(reference)
    np.testing.assert_allclose(ours.averages[0], theirs.module.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.averages[1], theirs.module.bias.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_warmup_decay_grows_to_the_set_decay():
    zn.manual_seed(0)
    model = nn.Linear(2, 2)
    averaged = optim.AveragedModel(model, decay=0.9, warmup=True)
    snaps, decays = [], []
    for snap in _walk(model, 40):
        averaged.update_parameters()
        snaps.append(snap)
        decays.append(averaged.current_decay())
    # d_n = min(0.9, (1 + n) / (10 + n)): 2/11, 3/12, ... until 0.9 from n = 80 on; here n <= 40
    np.testing.assert_allclose(decays, [(1 + n) / (10 + n) for n in range(1, 41)])
    expected = [s.copy() for s in snaps[0]]
    for n in range(2, 41):
        d = (1 + n) / (10 + n)
        expected = [d * e + (1 - d) * s for e, s in zip(expected, snaps[n - 1])]
    for avg, e in zip(averaged.averages, expected):
        np.testing.assert_allclose(avg, e, rtol=1e-5, atol=1e-5)
    late = optim.AveragedModel(model, decay=0.5, warmup=True)
    late.n_averaged = 20
    assert late.current_decay() == 0.5  # 21 / 30 > 0.5: the set decay caps it
