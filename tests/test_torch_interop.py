"""PyTorch interop, both directions: a zeronlp ``state_dict`` loads into the equivalent ``torch.nn``
module (strictly, by name) and gives the same outputs, a PyTorch ``state_dict`` loads into zeronlp,
and ``zn.save`` files open with ``safetensors.torch.load_file``.

How to move weights (the README's recipe)::

    torch_module.load_state_dict({k: torch.from_numpy(v) for k, v in zn_module.state_dict().items()})
    zn_module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})
    zn.save(zn_module.state_dict(), "m.safetensors")             # keys "/weight_ih_l0", ...
    tensors = safetensors.torch.load_file("m.safetensors")        # strip the leading "/" for torch
"""

import numpy as np
import pytest

import zeronlp as zn

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

ATOL = 2e-5


def to_torch(state):
    return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in state.items()}


def from_torch(state):
    return {key: value.detach().cpu().numpy() for key, value in state.items()}


def out(value):
    """The first output as a NumPy array, from a zeronlp Tensor or a torch tensor (or a tuple of them)."""
    if isinstance(value, tuple):
        value = value[0]
    return value.detach().numpy() if isinstance(value, torch.Tensor) else np.asarray(value.data)


def pairs():
    """(name, zeronlp module, torch module, inputs) with the same hyper-parameters."""
    rng = np.random.default_rng(0)
    x_seq = rng.normal(size=(3, 5, 6)).astype(np.float32)  # (N, T, features), batch first
    ids = rng.integers(0, 11, size=(3, 5))
    return [
        ("Linear", zn.nn.Linear(6, 4), torch.nn.Linear(6, 4), (x_seq,)),
        ("Embedding", zn.nn.Embedding(11, 4), torch.nn.Embedding(11, 4), (ids,)),
        ("LayerNorm", zn.nn.LayerNorm(6), torch.nn.LayerNorm(6), (x_seq,)),
        ("RNN", zn.nn.RNN(6, 7, num_layers=2, batch_first=True),
         torch.nn.RNN(6, 7, num_layers=2, batch_first=True), (x_seq,)),
        ("LSTM", zn.nn.LSTM(6, 7, num_layers=2, batch_first=True, bidirectional=True),
         torch.nn.LSTM(6, 7, num_layers=2, batch_first=True, bidirectional=True), (x_seq,)),
        ("GRU", zn.nn.GRU(6, 7, num_layers=2, batch_first=True, bidirectional=True),
         torch.nn.GRU(6, 7, num_layers=2, batch_first=True, bidirectional=True), (x_seq,)),
        ("Conv1d", zn.nn.Conv1d(5, 4, 3, padding=1), torch.nn.Conv1d(5, 4, 3, padding=1), (x_seq,)),
        ("MultiheadAttention", zn.nn.MultiheadAttention(6, 2), torch.nn.MultiheadAttention(6, 2, batch_first=True),
         (x_seq, x_seq, x_seq)),
    ]


def _torch_input(name, x):
    return torch.from_numpy(x) if x.dtype != np.int64 else torch.from_numpy(x).long()


@pytest.mark.parametrize("case", pairs(), ids=lambda case: case[0])
def test_zeronlp_state_dict_loads_into_torch(case):
    name, ours, theirs, inputs = case
    ours.eval()
    theirs.eval()
    theirs.load_state_dict(to_torch(ours.state_dict()), strict=True)  # every name and shape matches
    with torch.no_grad():
        expected = out(theirs(*(_torch_input(name, x) for x in inputs)))
    with zn.no_grad():
        np.testing.assert_allclose(out(ours(*inputs)), expected, atol=ATOL, rtol=1e-4)


@pytest.mark.parametrize("case", pairs(), ids=lambda case: case[0])
def test_torch_state_dict_loads_into_zeronlp(case):
    name, ours, theirs, inputs = case
    torch.manual_seed(1)
    for parameter in theirs.parameters():  # fresh weights, unlike zeronlp's
        torch.nn.init.normal_(parameter, std=0.3)
    missing, unexpected = ours.load_state_dict(from_torch(theirs.state_dict()))
    assert not missing and not unexpected
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        expected = out(theirs(*(_torch_input(name, x) for x in inputs)))
    with zn.no_grad():
        np.testing.assert_allclose(out(ours(*inputs)), expected, atol=ATOL, rtol=1e-4)


def test_lstm_final_states_match():
    ours = zn.nn.LSTM(4, 5, num_layers=2, batch_first=True)
    theirs = torch.nn.LSTM(4, 5, num_layers=2, batch_first=True)
    theirs.load_state_dict(to_torch(ours.state_dict()))
    x = np.random.default_rng(2).normal(size=(2, 7, 4)).astype(np.float32)
    with zn.no_grad():
        _, (h, c) = ours(x)
    with torch.no_grad():
        _, (th, tc) = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(h.data, th.numpy(), atol=ATOL)
    np.testing.assert_allclose(c.data, tc.numpy(), atol=ATOL)


def test_transformer_layers_when_they_exist():
    layer_class = getattr(zn.nn, "TransformerEncoderLayer", None)
    if layer_class is None:
        pytest.skip("zeronlp.nn has no TransformerEncoderLayer yet")
    ours = layer_class(8, 2, dim_feedforward=16, dropout=0.0)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    theirs.load_state_dict(to_torch(ours.state_dict()), strict=True)
    x = np.random.default_rng(3).normal(size=(2, 5, 8)).astype(np.float32)
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with zn.no_grad():
        np.testing.assert_allclose(out(ours(x)), expected, atol=1e-4)


def test_zn_save_opens_with_safetensors_torch(tmp_path):
    model = zn.nn.LSTM(3, 4, batch_first=True)
    head = zn.nn.Linear(4, 2)
    path = tmp_path / "model.safetensors"
    zn.save({"lstm": model.state_dict(), "head": head.state_dict(), "epoch": 3}, path)
    tensors = safetensors_torch.load_file(str(path))
    assert set(tensors) == {f"/lstm/{k}" for k in model.state_dict()} | {f"/head/{k}" for k in head.state_dict()}
    lstm = torch.nn.LSTM(3, 4, batch_first=True)
    lstm.load_state_dict({k.removeprefix("/lstm/"): v for k, v in tensors.items() if k.startswith("/lstm/")})
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(lstm.state_dict()[key].numpy(), value)
    # and the other way: a file written by safetensors.torch loads as zeronlp arrays
    torch_path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file({k: v.contiguous() for k, v in lstm.state_dict().items()}, str(torch_path))
    from safetensors.numpy import load_file

    fresh = zn.nn.LSTM(3, 4, batch_first=True)
    fresh.load_state_dict(load_file(str(torch_path)))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value)
