"""Gradients of gradients (create_graph / zn.grad): the book's tanh derivatives, Newton's method,
Hessian-vector products and a gradient penalty against torch.autograd, and gradgradcheck of the
Functions' differentiable backward."""

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F

rng = np.random.default_rng(0)


def r(*shape):
    return rng.standard_normal(shape)


def test_tanh_derivatives_up_to_4th_match_closed_forms():
    # d/dx P(tanh x) = P'(y) (1 - y^2): the nth derivative is a polynomial in y = tanh x
    xs = np.linspace(-3, 3, 13)
    x = zn.tensor(xs, requires_grad=True)
    y = F.tanh(x)
    poly = np.polynomial.Polynomial([0, 1])  # P_0(y) = y
    g = y
    for _ in range(4):
        (g,) = zn.grad(g.sum(), x, create_graph=True)
        poly = poly.deriv() * np.polynomial.Polynomial([1, 0, -1])
        np.testing.assert_allclose(g.data, poly(np.tanh(xs)), rtol=1e-10, atol=1e-12)


def test_backward_create_graph_and_grad_tensor_book_style():
    x = zn.tensor(np.array(2.0), requires_grad=True)
    y = x**4 - 2 * x**2
    y.backward(create_graph=True)
    assert float(x.grad) == pytest.approx(4 * 8 - 4 * 2)
    gx = x.grad_tensor
    x.cleargrad()
    gx.backward()
    assert float(x.grad) == pytest.approx(12 * 4 - 4)  # f''(x) = 12x^2 - 4


def test_newtons_method_converges_to_the_minimum():
    # f(x) = x^4 - 2x^2 has minima at x = +-1; Newton from x = 2 (DeZero step 33)
    x = zn.tensor(np.array(2.0), requires_grad=True)
    for _ in range(10):
        y = x**4 - 2 * x**2
        (g,) = zn.grad(y, x, create_graph=True)
        (h,) = zn.grad(g, x)
        x = zn.tensor(x.data - g.data / h.data, requires_grad=True)
    assert float(x.data) == pytest.approx(1.0, abs=1e-10)


def _mlp(params, x, mod):
    w1, b1, w2, b2 = params
    return mod.tanh(x @ w1.T + b1) @ w2.T + b2


def test_hessian_vector_product_of_mlp_loss_matches_torch():
    torch = pytest.importorskip("torch")
    arrays = [r(5, 3), r(5), r(2, 5), r(2)]
    x, t = r(4, 3), rng.integers(0, 2, size=4)
    vs = [r(*a.shape) for a in arrays]
    zp = [zn.tensor(a, requires_grad=True) for a in arrays]
    loss = F.softmax_cross_entropy(_mlp(zp, zn.tensor(x), F), t)
    grads = zn.grad(loss, zp, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, vs))
    hvp = zn.grad(dot, zp)

    tp = [torch.tensor(a, requires_grad=True) for a in arrays]
    tloss = torch.nn.functional.cross_entropy(_mlp(tp, torch.tensor(x), torch), torch.tensor(t))
    tgrads = torch.autograd.grad(tloss, tp, create_graph=True)
    tdot = sum((g * torch.tensor(v)).sum() for g, v in zip(tgrads, vs))
    thvp = torch.autograd.grad(tdot, tp)
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    for a, b in zip(grads, tgrads):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(hvp, thvp):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-10, atol=1e-12)


def test_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch")
    arrays = [r(6, 3), r(6), r(1, 6), r(1)]
    x = r(5, 3)
    zp = [zn.tensor(a, requires_grad=True) for a in arrays]
    zx = zn.tensor(x, requires_grad=True)
    out = F.sigmoid(_mlp(zp, zx, F)).sum()
    (gx,) = zn.grad(out, zx, create_graph=True)
    penalty = ((gx * gx).sum(axis=1) ** 0.5 - 1) ** 2
    penalty.mean().backward()

    tp = [torch.tensor(a, requires_grad=True) for a in arrays]
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.sigmoid(_mlp(tp, tx, torch)).sum()
    (tgx,) = torch.autograd.grad(tout, tx, create_graph=True)
    ((tgx.norm(dim=1) - 1) ** 2).mean().backward()
    for p, q in zip(zp, tp):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(zx.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_grad_leaves_dot_grad_alone_and_checks_arguments():
    x = zn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = zn.tensor(np.array([3.0, 4.0]), requires_grad=True)
    y = (x * w).sum()
    (gx,) = zn.grad(y, [x], retain_graph=True)
    np.testing.assert_allclose(gx.data, [3, 4])
    assert x.grad is None and w.grad is None
    unused = zn.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        zn.grad(y, [unused], retain_graph=True)
    assert zn.grad(y, [unused], allow_unused=True) == (None,)


def test_grad_of_intermediate_tensor():
    x = zn.tensor(np.array([1.0, -2.0]), requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    (gh,) = zn.grad(y, h)
    np.testing.assert_allclose(gh.data, 2 * h.data)


def test_lstm_double_backward_through_its_decomposition_matches_reference():
    T, B, I, H = 3, 2, 3, 4
    args = [r(T, B, I), r(B, H), r(B, H), r(4 * H, I) * 0.5, r(4 * H, H) * 0.5, r(4 * H), r(4 * H)]
    fused = [zn.tensor(a, requires_grad=True) for a in args]
    ref = [zn.tensor(a, requires_grad=True) for a in args]
    y1 = F.lstm(*fused)[0].sum()
    y2 = F.recurrent.lstm_reference(*ref)[0].sum()
    g1 = zn.grad(y1, fused[0], create_graph=True)[0]
    g2 = zn.grad(y2, ref[0], create_graph=True)[0]
    np.testing.assert_allclose(g1.data, g2.data, rtol=1e-10)
    h1 = zn.grad((g1 * g1).sum(), fused[3])[0]
    h2 = zn.grad((g2 * g2).sum(), ref[3])[0]
    np.testing.assert_allclose(h1.data, h2.data, rtol=1e-9)


def test_function_without_differentiable_backward_names_itself():
    class Square(zn.Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return 2 * self.inputs[0].data * gy

    x = zn.tensor(np.array(3.0), requires_grad=True)
    with pytest.raises(NotImplementedError, match="Square"):
        zn.grad(Square()(x), x, create_graph=True)
    assert float(zn.grad(Square()(x), x)[0].data) == 6.0  # first order still works


def test_plain_backward_still_frees_graph_and_create_graph_keeps_it():
    x = zn.tensor(np.array(1.5), requires_grad=True)
    y = F.exp(x)
    y.backward(create_graph=True)
    y.backward()  # the graph was retained
    assert float(x.grad) == pytest.approx(2 * np.exp(1.5))


GRU_WEIGHTS = [r(6, 2) * 0.5, r(6, 2) * 0.5, r(6), r(6)]
BCE_TARGETS = (r(3, 4) > 0).astype(float)
EXP = lambda: r(3, 4)  # noqa: E731
POS = lambda: np.abs(r(3, 4)) + 0.5  # noqa: E731
CASES = [
    (lambda a, b: a * b + a / b - b, [r(3, 4), r(4) + 3]),
    (lambda a, b: F.matmul(a, b), [r(2, 3, 4), r(4, 2)]),
    (lambda a, b: F.matmul(a, b), [r(4), r(4)]),
    (lambda a: F.exp(a) * F.log(a * a + 1), [EXP()]),
    (lambda a: F.sigmoid(a) * F.tanh(a), [EXP()]),
    (lambda a: F.softmax(a, axis=0) * a, [EXP()]),
    (lambda a: F.log_softmax(a) * a, [EXP()]),
    (lambda a: F.sum(a * a, axis=1, keepdims=True) * F.mean(a * a, axis=0), [EXP()]),
    (lambda a: F.max(a * a, axis=1), [np.arange(12.0).reshape(3, 4) / 7 + 0.1]),
    (lambda a: F.broadcast_to(a, (2, 3, 4)) * F.sum_to(a * a, (1, 4)), [EXP()]),
    (lambda a: F.transpose(a * a, (1, 0)) @ a, [EXP()]),
    (lambda a: a[np.array([0, 2, 2])] * a[1:3, ::2].sum(), [EXP()]),
    (lambda a, b: F.concat([a * a, b], axis=1) * F.stack([a, a], 0).sum(), [r(3, 2), r(3, 4)]),
    (lambda a: F.split(a * a, [1, 3], axis=1)[1] * a[:, 1:3], [EXP()]),
    (lambda a, b: F.where(a.data > 0, a * a, b * a), [EXP(), EXP()]),
    (lambda a: F.clip(a, -0.5, 0.5) * a, [EXP() + 0.013]),
    (lambda a: F.pow(a, 3) + F.sqrt(a) + F.abs(a) * a, [POS()]),
    (lambda a: F.sin(a) * F.cos(a), [EXP()]),
    (lambda a, b: F.maximum(a * a, b) + F.minimum(a, b * b), [EXP(), EXP() + 0.1]),
    (lambda a: F.logsumexp(a * a, axis=1) + F.cumsum(a * a, axis=0).sum(), [EXP()]),
    (lambda a: F.softplus(a * 2) + F.gelu(a) + F.gelu(a, approximate="tanh") + F.erf(a), [EXP()]),
    (lambda a: F.leaky_relu(a, 0.1) * a + F.relu(a) * a, [EXP() + 0.013]),
    (lambda a: F.var(a, axis=1) * F.std(a, axis=0).sum(), [EXP()]),
    (lambda a: F.pad(a * a, (1, 2)) * 2, [EXP()]),
    (lambda a: F.linear(a, a[:2], a[0, :2]) ** 2, [EXP()]),
    (lambda a, w, b: F.layer_norm(a, w, b) ** 2, [r(3, 5), r(5), r(5)]),
    (lambda a: F.softmax_cross_entropy(a * a, np.array([0, 3, -100])), [EXP()]),
    (lambda a: F.sigmoid_cross_entropy(a * a, BCE_TARGETS), [EXP()]),
    (lambda a, b: F.mse(a * a, b), [EXP(), EXP()]),
    (lambda w: F.embedding(np.array([[0, 2], [2, 1]]), w) ** 2, [r(4, 3)]),
    (lambda q, k, v: F.attention(q, k, v, mask=np.array([[True, False, True], [False, False, False]]))[0] ** 2,
     [r(2, 3), r(3, 3), r(3, 2)]),
    (lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1) ** 2, [r(2, 3, 6), r(4, 3, 3), r(4)]),
    (lambda x: F.max_over_time(x * x, mask=np.array([[True, True, False], [False, False, False]])),
     [r(2, 3, 3)]),
    (lambda h, w: F.negative_sampling_loss(h, w, np.array([0, 2]), np.array([[1, 3], [3, 3]])), [r(2, 3), r(4, 3)]),
    (lambda x, h: F.gru(x, h, *GRU_WEIGHTS)[0] ** 2, [r(2, 1, 2), r(1, 2)]),
    (lambda x: F.take_along_axis(x * x, np.array([[0, 0], [2, 1], [3, 3]]), axis=1), [EXP()]),
    (lambda x: F.masked_fill(x * x, np.array([True, False, True, False]), 2.0) * x, [EXP()]),
    (lambda x: F.tile(x, (2, 1)) ** 2 + F.expand(x[:1], 6, 4) + F.flip(x, 0).repeat(2, 1), [EXP()]),
    (lambda x: F.dropout(x, 0.5) ** 2, [EXP()]),
]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_gradgradcheck(index):
    fn, inputs = CASES[index]
    if "dropout" in fn.__code__.co_names:
        mask_fn = fn

        def fn(*xs):  # the same mask for every call
            zn.manual_seed(0)
            return mask_fn(*xs)
    assert zn.gradgradcheck(fn, inputs)
