"""nn.RNN/LSTM/GRU and the cells: PyTorch parity, parameter names, errors, serialization."""

import numpy as np
import pytest

import zeronlp as zn
from zeronlp import nn


def _torch_state(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


CONFIGS = [
    dict(num_layers=1, bidirectional=False),
    dict(num_layers=2, bidirectional=False),
    dict(num_layers=1, bidirectional=True),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=2, bidirectional=False, bias=False),
]


@pytest.mark.parametrize("kind", ["RNN", "RNN_relu", "LSTM", "GRU"])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("batch_first", [True, False])
def test_parity_with_torch(kind, config, batch_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    extra = {"nonlinearity": "relu"} if kind == "RNN_relu" else {}
    name = kind.split("_")[0]
    tm = getattr(torch.nn, name)(5, 7, batch_first=batch_first, **config, **extra)
    zm = getattr(nn, name)(5, 7, batch_first=batch_first, **config, **extra)
    state = _torch_state(tm)
    assert list(state) == [n for n, _ in zm.named_parameters()]  # same names, same order
    zm.load_state_dict(state)

    rng = np.random.default_rng(0)
    layers = config["num_layers"] * (2 if config["bidirectional"] else 1)
    x = rng.standard_normal((3, 4, 5) if batch_first else (4, 3, 5)).astype(np.float32)
    h0 = rng.standard_normal((layers, 3, 7)).astype(np.float32)
    c0 = rng.standard_normal((layers, 3, 7)).astype(np.float32)

    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    zx, zh, zc = (zn.Tensor(a, requires_grad=True) for a in (x, h0, c0))
    if name == "LSTM":
        ty, (thn, tcn) = tm(tx, (th, tc))
        zy, (zhn, zcn) = zm(zx, (zh, zc))
        pairs = [(ty, zy), (thn, zhn), (tcn, zcn)]
    else:
        ty, thn = tm(tx, th)
        zy, zhn = zm(zx, zh)
        pairs = [(ty, zy), (thn, zhn)]
    weights = [rng.standard_normal(t.shape).astype(np.float32) for t, _ in pairs]
    sum(((t * torch.tensor(w)).sum() for (t, _), w in zip(pairs, weights))).backward()
    loss = None
    for (_, z), w in zip(pairs, weights):
        term = (z * w).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    for t, z in pairs:
        np.testing.assert_allclose(z.data, t.detach().numpy(), atol=1e-5)
    for tt, zt in [(tx, zx), (th, zh)] + ([(tc, zc)] if name == "LSTM" else []):
        np.testing.assert_allclose(zt.grad, tt.grad.numpy(), atol=1e-4)
    for (pname, tp), (zname, zp) in zip(tm.named_parameters(), zm.named_parameters()):
        assert pname == zname
        np.testing.assert_allclose(zp.grad, tp.grad.numpy(), atol=1e-4, err_msg=pname)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_parity_with_torch(kind):
    torch = pytest.importorskip("torch")
    tm = getattr(torch.nn, kind)(5, 6)
    zm = getattr(nn, kind)(5, 6)
    zm.load_state_dict(_torch_state(tm))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    h = rng.standard_normal((3, 6)).astype(np.float32)
    tx, th = torch.tensor(x, requires_grad=True), torch.tensor(h, requires_grad=True)
    zx, zh = zn.Tensor(x, requires_grad=True), zn.Tensor(h, requires_grad=True)
    if kind == "LSTMCell":
        tout = tm(tx, (th, th * 0.5))[0]
        zout = zm(zx, (zh, zh * 0.5))[0]
    else:
        tout, zout = tm(tx, th), zm(zx, zh)
    tout.pow(2).sum().backward()
    (zout * zout).sum().backward()
    np.testing.assert_allclose(zout.data, tout.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(zx.grad, tx.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(zm.weight_hh.grad, tm.weight_hh.grad.numpy(), atol=1e-5)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_layer_matches_cell_loop(kind):
    zn.manual_seed(0)
    layer = getattr(nn, kind)(4, 5)
    cell = getattr(nn, kind + "Cell")(4, 5)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in layer.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 6, 4)).astype(np.float32)
    y, _ = layer(x)
    state = None
    for t in range(6):
        state = cell(x[:, t], state)
        h = state[0] if kind == "LSTM" else state
        np.testing.assert_allclose(y.data[:, t], h.data, atol=1e-6)


def test_peephole_lstm_trains_and_matches_cell():
    zn.manual_seed(0)
    layer = nn.LSTM(3, 4, peephole=True)
    assert layer.weight_peephole_l0.shape == (3, 4)
    cell = nn.LSTMCell(3, 4, peephole=True)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in layer.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    y, (h, c) = layer(x)
    state = None
    for t in range(5):
        state = cell(x[:, t], state)
    np.testing.assert_allclose(h.data[0], state[0].data, atol=1e-6)
    np.testing.assert_allclose(c.data[0], state[1].data, atol=1e-6)
    y.sum().backward()
    assert layer.weight_peephole_l0.grad is not None


def test_init_range_and_dtype():
    zn.manual_seed(0)
    layer = nn.GRU(10, 16, num_layers=2, bidirectional=True)
    bound = 1 / 4
    for name, p in layer.named_parameters():
        assert p.dtype == np.float32, name
        assert np.abs(p.data).max() <= bound
    assert layer.weight_ih_l1_reverse.shape == (48, 32)
    y, h = layer(np.zeros((2, 3, 10), dtype=np.float32))
    assert y.shape == (2, 3, 32) and h.shape == (4, 2, 16) and y.dtype == np.float32


def test_unbatched_input():
    layer = nn.LSTM(3, 4, num_layers=2)
    y, (h, c) = layer(np.ones((5, 3), dtype=np.float32))
    assert y.shape == (5, 4) and h.shape == (2, 4) and c.shape == (2, 4)


def test_bad_shapes_raise_value_error_with_shapes():
    layer = nn.LSTM(8, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"\(2, 3, 7\).*expected 8"):
        layer(np.zeros((2, 3, 7), dtype=np.float32))
    h = np.zeros((1, 2, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"h0 of shape \(1, 2, 4\).*\(2, 2, 4\)"):
        layer(np.zeros((2, 3, 8), dtype=np.float32), (h, h))
    with pytest.raises(ValueError, match=r"input of shape \(3, 5\)"):
        nn.GRUCell(4, 2)(np.zeros((3, 5), dtype=np.float32))


def test_save_load_roundtrip(tmp_path):
    layer = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    zn.save(layer.state_dict(), tmp_path / "lstm.safetensors")
    other = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    other.load_state_dict(zn.load(tmp_path / "lstm.safetensors"))
    x = np.ones((1, 2, 3), dtype=np.float32)
    np.testing.assert_array_equal(layer(x)[0].data, other(x)[0].data)


def test_dropout_between_layers_only_in_training():
    zn.manual_seed(0)
    layer = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = np.ones((2, 3, 3), dtype=np.float32)
    layer.eval()
    a, b = layer(x)[0].data, layer(x)[0].data
    np.testing.assert_array_equal(a, b)
    layer.train()
    assert not np.allclose(layer(x)[0].data, a)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_float64_and_integer_inputs_promote_like_linear(name):
    """A float64 input meets the float32 weights as float64 (as ``nn.Linear`` does), an integer one as
    float32; both equal the layer run on the weights cast by hand (no packed-product ValueError)."""
    zn.manual_seed(0)
    layer = getattr(nn, name)(4, 3, num_layers=2)
    x64 = np.random.default_rng(0).standard_normal((2, 5, 4))
    state = {k: v.astype(np.float64) for k, v in layer.state_dict().items()}
    reference = getattr(nn, name)(4, 3, num_layers=2)
    reference.load_state_dict(state)
    for p in reference.parameters():
        p.data = p.data.astype(np.float64)
    x = zn.Tensor(x64, requires_grad=True)
    y = layer(x)[0]
    expected = reference(zn.Tensor(x64))[0]
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.data, expected.data, rtol=1e-5, atol=1e-6)
    y.sum().backward()
    assert x.grad.shape == x64.shape and np.isfinite(x.grad).all()
    assert all(np.isfinite(p.grad).all() for p in layer.parameters())

    ids = np.arange(40).reshape(2, 5, 4) % 3
    out = layer(ids)[0]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, layer(ids.astype(np.float32))[0].data, rtol=1e-6, atol=1e-7)
    with pytest.raises(TypeError, match=name.lower()):
        layer(np.full((2, 5, 4), "a"))
