"""Forward and backward of each Function, Linear and the optimizers against PyTorch (CPU)."""

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F

torch = pytest.importorskip("torch")
rng = np.random.default_rng(42)


def compare(zn_fn, torch_fn, *arrays, rtol=1e-5, atol=1e-6):
    """Run both on float32 copies; compare outputs and input gradients for a random upstream grad."""
    zs = [zn.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    zy, ty = zn_fn(*zs), torch_fn(*ts)
    np.testing.assert_allclose(zy.data, ty.detach().numpy(), rtol=rtol, atol=atol)
    upstream = rng.standard_normal(zy.shape).astype(np.float32)
    zy.backward(upstream)
    ty.backward(torch.tensor(upstream))
    for z, t in zip(zs, ts):
        np.testing.assert_allclose(z.grad, t.grad.numpy(), rtol=rtol, atol=atol)


def r(*shape):
    return rng.standard_normal(shape)


@pytest.mark.parametrize(
    "zn_fn, torch_fn, shapes",
    [
        (F.add, torch.add, [(3, 4), (4,)]),
        (F.sub, torch.sub, [(2, 1, 4), (3, 1)]),
        (F.mul, torch.mul, [(3, 4), (3, 1)]),
        (F.div, torch.div, [(3, 4), (4,)]),
        (F.matmul, torch.matmul, [(2, 3, 4), (4, 5)]),
        (F.matmul, torch.matmul, [(2, 3, 4), (2, 4, 5)]),
        (F.exp, torch.exp, [(3, 4)]),
        (F.neg, torch.neg, [(3, 4)]),
        (F.sigmoid, torch.sigmoid, [(3, 4)]),
        (F.tanh, torch.tanh, [(3, 4)]),
        (F.relu, torch.relu, [(3, 4)]),
        (lambda x: F.leaky_relu(x, 0.2), lambda x: torch.nn.functional.leaky_relu(x, 0.2), [(3, 4)]),
        (F.softmax, lambda x: torch.softmax(x, -1), [(3, 5)]),
        (F.log_softmax, lambda x: torch.log_softmax(x, -1), [(2, 3, 5)]),
        (lambda x: F.sum(x, axis=1), lambda x: x.sum(1), [(3, 4)]),
        (lambda x: F.mean(x, axis=0, keepdims=True), lambda x: x.mean(0, keepdim=True), [(3, 4)]),
        (lambda x: F.max(x, axis=1), lambda x: x.max(1).values, [(3, 4)]),
        (lambda x: F.pow(x, 3), lambda x: x**3, [(3, 4)]),
        (lambda x: F.transpose(x, (2, 0, 1)), lambda x: x.permute(2, 0, 1), [(2, 3, 4)]),
        (lambda x: F.reshape(x, (4, 6)), lambda x: x.reshape(4, 6), [(2, 3, 4)]),
        (lambda x: F.broadcast_to(x, (3, 4)), lambda x: x.expand(3, 4), [(1, 4)]),
        (lambda x: x[np.array([0, 2, 2])], lambda x: x[torch.tensor([0, 2, 2])], [(3, 4)]),
        (lambda a, b: F.concat([a, b], axis=1), lambda a, b: torch.cat([a, b], 1), [(2, 3), (2, 2)]),
        (lambda a, b: F.stack([a, b], axis=0), lambda a, b: torch.stack([a, b], 0), [(2, 3), (2, 3)]),
        (lambda x: F.clip(x, -0.5, 0.5), lambda x: torch.clamp(x, -0.5, 0.5), [(3, 4)]),
        (F.linear, torch.nn.functional.linear, [(2, 3, 4), (5, 4), (5,)]),
        (lambda x, w, b: F.layer_norm(x, w, b), lambda x, w, b: torch.nn.functional.layer_norm(x, (6,), w, b),
         [(3, 6), (6,), (6,)]),
        (lambda x, t: F.mse(x, t), torch.nn.functional.mse_loss, [(3, 4), (3, 4)]),
    ],
)
def test_function_parity(zn_fn, torch_fn, shapes):
    compare(zn_fn, torch_fn, *[r(*s) for s in shapes])


def test_log_parity():
    compare(F.log, torch.log, np.abs(r(3, 4)) + 0.1)


def test_embedding_parity():
    ids = np.array([[0, 3, 3], [1, 0, 4]])
    compare(lambda w: F.embedding(ids, w), lambda w: torch.nn.functional.embedding(torch.tensor(ids), w), r(6, 3))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_cross_entropy_ignore_index_parity(reduction):
    t = np.array([[0, 4, -100], [2, -100, 3]])
    compare(
        lambda x: F.softmax_cross_entropy(x, t, ignore_index=-100, reduction=reduction),
        lambda x: torch.nn.functional.cross_entropy(x.reshape(-1, 5), torch.tensor(t).reshape(-1),
                                                    ignore_index=-100, reduction=reduction).reshape(
            (2, 3) if reduction == "none" else ()),
        r(2, 3, 5),
    )


def test_sigmoid_cross_entropy_parity():
    t = (r(4, 3) > 0).astype(np.float32)
    compare(lambda x: F.sigmoid_cross_entropy(x, t),
            lambda x: torch.nn.functional.binary_cross_entropy_with_logits(x, torch.tensor(t)), r(4, 3) * 3)


def test_linear_module_loads_torch_state_dict():
    torch_layer = torch.nn.Linear(4, 3)
    layer = zn.nn.Linear(4, 3)
    layer.load_state_dict({k: v.detach().numpy() for k, v in torch_layer.state_dict().items()})
    x = r(5, 4).astype(np.float32)
    np.testing.assert_allclose(layer(x).data, torch_layer(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert set(layer.state_dict()) == set(torch_layer.state_dict())


OPTIMIZERS = [
    (lambda p: zn.optim.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (lambda p: zn.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)),
    (lambda p: zn.optim.SGD(p, lr=0.02, momentum=0.9, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, nesterov=True)),
    (lambda p: zn.optim.AdaGrad(p, lr=0.1), lambda p: torch.optim.Adagrad(p, lr=0.1)),
    (lambda p: zn.optim.RMSprop(p, lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    (lambda p: zn.optim.RMSprop(p, lr=0.01, momentum=0.5), lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5)),
    (lambda p: zn.optim.Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    (lambda p: zn.optim.Adam(p, lr=0.01, weight_decay=0.1), lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1)),
    (lambda p: zn.optim.AdamW(p, lr=0.01), lambda p: torch.optim.AdamW(p, lr=0.01)),
]


@pytest.mark.parametrize("make_zn, make_torch", OPTIMIZERS)
def test_optimizer_parity_10_steps(make_zn, make_torch):
    w0 = r(5, 3).astype(np.float32)
    x = r(8, 5).astype(np.float32)
    zw = zn.nn.Parameter(w0.copy())
    tw = torch.tensor(w0.copy(), requires_grad=True)
    zopt, topt = make_zn([zw]), make_torch([tw])
    for _ in range(10):
        zopt.zero_grad()
        (F.tanh(zn.tensor(x) @ zw) ** 2).sum().backward()
        zopt.step()
        topt.zero_grad()
        (torch.tanh(torch.tensor(x) @ tw) ** 2).sum().backward()
        topt.step()
    np.testing.assert_allclose(zw.data, tw.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_clip_grad_norm_parity():
    grads = [r(3, 4).astype(np.float32), r(5).astype(np.float32)]
    zp = [zn.nn.Parameter(np.zeros_like(g)) for g in grads]
    tp = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, g in zip(zp, grads):
        p.grad = g.copy()
    for p, g in zip(tp, grads):
        p.grad = torch.tensor(g)
    total = zn.optim.clip_grad_norm_(zp, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(tp, 1.0)
    assert total == pytest.approx(float(ttotal), rel=1e-5)
    for p, t in zip(zp, tp):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-5)
