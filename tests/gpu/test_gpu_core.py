"""Every core Function on CUDA (CuPy) equals the NumPy result; training steps match CPU losses.

Run on a GPU machine with ``python -m pytest -m gpu tests/gpu``.
"""

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F

from .conftest import SECOND_DEVICE

pytestmark = pytest.mark.gpu
rng = np.random.default_rng(0)


def r(*shape):
    return rng.standard_normal(shape).astype(np.float32)


CASES = [
    ("add", F.add, [(3, 4), (4,)]),
    ("sub", F.sub, [(3, 1), (1, 4)]),
    ("mul", F.mul, [(2, 3, 4), (3, 1)]),
    ("div", lambda a, b: F.div(a, F.exp(b)), [(3, 4), (4,)]),
    ("matmul", F.matmul, [(2, 3, 4), (4, 5)]),
    ("exp", F.exp, [(3, 4)]),
    ("log", lambda x: F.log(F.exp(x)), [(3, 4)]),
    ("pow", lambda x: F.pow(x, 3), [(3, 4)]),
    ("sum", lambda x: F.sum(x, axis=1), [(3, 4)]),
    ("mean", lambda x: F.mean(x, axis=0, keepdims=True), [(3, 4)]),
    ("max", lambda x: F.max(x, axis=1), [(3, 4)]),
    ("broadcast_to", lambda x: F.broadcast_to(x, (3, 4)), [(1, 4)]),
    ("sum_to", lambda x: F.sum_to(x, (1, 4)), [(3, 4)]),
    ("reshape", lambda x: F.reshape(x, (4, 3)), [(3, 4)]),
    ("transpose", lambda x: F.transpose(x, (1, 0, 2)), [(2, 3, 4)]),
    ("getitem", lambda x: x[np.array([0, 2, 2])], [(3, 4)]),
    ("concat", lambda a, b: F.concat([a, b], axis=1), [(2, 3), (2, 2)]),
    ("stack", lambda a, b: F.stack([a, b]), [(2, 3), (2, 3)]),
    ("split", lambda x: F.split(x, 2, axis=1)[1], [(2, 4)]),
    ("where", lambda a, b: F.where(np.arange(4) % 2 == 0, a, b), [(3, 4), (3, 4)]),
    ("clip", lambda x: F.clip(x, -0.5, 0.5), [(3, 4)]),
    ("sigmoid", F.sigmoid, [(3, 4)]),
    ("tanh", F.tanh, [(3, 4)]),
    ("relu", F.relu, [(3, 4)]),
    ("leaky_relu", F.leaky_relu, [(3, 4)]),
    ("softmax", F.softmax, [(3, 5)]),
    ("log_softmax", F.log_softmax, [(3, 5)]),
    ("softmax_cross_entropy", lambda x: F.softmax_cross_entropy(x, np.array([[1, -100, 4], [0, 2, 3]])), [(2, 3, 5)]),
    ("sigmoid_cross_entropy", lambda x: F.sigmoid_cross_entropy(x, np.eye(3, 4)), [(3, 4)]),
    ("mse", F.mse, [(3, 4), (3, 4)]),
    ("linear", F.linear, [(2, 3, 4), (5, 4), (5,)]),
    ("layer_norm", F.layer_norm, [(3, 6), (6,), (6,)]),
    ("embedding", lambda w: F.embedding(np.array([[0, 3, 3], [1, 0, 4]]), w), [(6, 3)]),
]


@pytest.mark.parametrize("name, fn, shapes", CASES, ids=[c[0] for c in CASES])
def test_function_matches_numpy(name, fn, shapes, on_cpu_and_gpu):
    arrays = [r(*s) for s in shapes]
    upstream = {}

    def run():
        xs = [zn.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*xs)
        if "g" not in upstream:
            upstream["g"] = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
        y.backward(upstream["g"])
        return y.numpy(), [zn.backend.to_numpy(x.grad) for x in xs], y.device

    (cpu_y, cpu_grads, cpu_dev), (gpu_y, gpu_grads, gpu_dev) = on_cpu_and_gpu(run)
    assert cpu_dev == "cpu" and gpu_dev == SECOND_DEVICE
    np.testing.assert_allclose(gpu_y, cpu_y, rtol=1e-4, atol=1e-5)
    for a, b in zip(gpu_grads, cpu_grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make_opt", [
    lambda p: zn.optim.SGD(p, lr=0.1, momentum=0.9), lambda p: zn.optim.Adam(p, lr=0.01),
    lambda p: zn.optim.AdamW(p, lr=0.01), lambda p: zn.optim.RMSprop(p, lr=0.01), lambda p: zn.optim.AdaGrad(p),
])
def test_mlp_training_losses_match_cpu(make_opt, on_cpu_and_gpu):
    x, t = zn.data.spiral(3, 50)

    def run():
        model = zn.models.TwoLayerNet(2, 16, 3)
        opt = make_opt(model.parameters())
        losses = []
        for _ in range(10):
            loss = F.softmax_cross_entropy(model(x), t)
            opt.zero_grad()
            loss.backward()
            zn.optim.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        return losses

    cpu, gpu = on_cpu_and_gpu(run)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4)


def test_dropout_runs_on_gpu():
    zn.use_device("cuda")
    try:
        zn.manual_seed(0)
        y = F.dropout(zn.tensor(np.ones((1000,), np.float32), requires_grad=True), 0.5)
        assert y.device == "cuda"
        assert 0.4 < float((y.data != 0).mean()) < 0.6
    finally:
        zn.use_device("cpu")


def test_checkpoint_saved_on_gpu_loads_on_cpu(tmp_path):
    zn.use_device("cuda")
    try:
        zn.manual_seed(0)
        model = zn.models.TwoLayerNet(2, 8, 3)
        opt = zn.optim.Adam(model.parameters())
        F.softmax_cross_entropy(model(np.ones((4, 2), np.float32)), np.array([0, 1, 2, 0])).backward()
        opt.step()
        zn.train.save_checkpoint(tmp_path / "c.safetensors", model, opt, epoch=1)
        expected = model(np.ones((1, 2), np.float32)).numpy()
    finally:
        zn.use_device("cpu")
    cpu_model = zn.models.TwoLayerNet(2, 8, 3)
    cpu_opt = zn.optim.Adam(cpu_model.parameters())
    zn.train.load_checkpoint(tmp_path / "c.safetensors", cpu_model, cpu_opt)
    np.testing.assert_allclose(cpu_model(np.ones((1, 2), np.float32)).data, expected, rtol=1e-5)
    assert isinstance(cpu_opt.state[id(cpu_model.parameters()[0])]["exp_avg"], np.ndarray)


def test_module_to_moves_parameters():
    model = zn.models.TwoLayerNet(2, 8, 3)
    zn.use_device("cuda")
    try:
        model.to("cuda")
        assert all(p.device == "cuda" for p in model.parameters())
        assert model(np.ones((2, 2), np.float32)).device == "cuda"
    finally:
        zn.use_device("cpu")
    model.to("cpu")
    assert all(p.device == "cpu" for p in model.parameters())
