"""F.linear_cross_entropy: gradient check, equality with softmax_cross_entropy(linear(...)) and PyTorch,
over reductions, ignore_index, leading shapes, no bias, several cache blocks, and under no_grad."""

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F
from zeronlp.functional import fused


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 2 softmax rows and GEMM panels of 3 rows, so a few rows cross every block edge."""
    monkeypatch.setattr(fused, "_BLOCK_BYTES", 2 * 7 * 8)
    monkeypatch.setattr(fused, "_GEMM_ROWS", 3)


def _data(shape=(6,), hidden=4, classes=7, seed=0, ignore=False):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((*shape, hidden))
    w, b = rng.standard_normal((classes, hidden)), rng.standard_normal(classes)
    t = rng.integers(0, classes, shape)
    if ignore:
        t.reshape(-1)[::3] = -100
    return h, w, b, t


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("blocks", [False, True])
def test_gradcheck(reduction, blocks, request):
    if blocks:
        request.getfixturevalue("small_blocks")
    h, w, b, t = _data(ignore=True)
    zn.gradcheck(lambda h, w, b: F.linear_cross_entropy(h, w, b, t, reduction=reduction), [h, w, b])
    zn.gradcheck(lambda h, w: F.linear_cross_entropy(h, w, None, t, reduction=reduction), [h, w])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6,), (2, 5), (3, 1, 4)])
@pytest.mark.parametrize("ignore", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_the_composition(reduction, shape, ignore, dtype, small_blocks):
    h, w, b, t = _data(shape, ignore=ignore, seed=len(shape))
    fused_in = [zn.Tensor(a.astype(dtype), requires_grad=True) for a in (h, w, b)]
    plain_in = [zn.Tensor(a.astype(dtype), requires_grad=True) for a in (h, w, b)]
    loss1 = F.linear_cross_entropy(*fused_in, t, reduction=reduction)
    loss2 = F.softmax_cross_entropy(F.linear(*plain_in), t, reduction=reduction)
    assert loss1.shape == loss2.shape and loss1.dtype == loss2.dtype == dtype
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(loss1.data, loss2.data, **tol)
    upstream = np.random.default_rng(1).standard_normal(loss1.shape).astype(dtype)
    loss1.backward(upstream)
    loss2.backward(upstream)
    for a, c in zip(fused_in, plain_in):
        np.testing.assert_allclose(a.grad, c.grad, **tol)


def test_no_grad_and_frozen_inputs_give_the_same_loss(small_blocks):
    h, w, b, t = _data((4, 5))
    with_grad = F.linear_cross_entropy(zn.Tensor(h, requires_grad=True), w, b, t).item()
    with zn.no_grad():
        without = F.linear_cross_entropy(h, w, b, t).item()
    plain = F.softmax_cross_entropy(F.linear(zn.Tensor(h), w, b), t).item()
    assert with_grad == pytest.approx(plain, rel=1e-12) and without == pytest.approx(plain, rel=1e-12)
    # only the weight wants a gradient: the others are skipped, the weight's is right
    wt = zn.Tensor(w, requires_grad=True)
    F.linear_cross_entropy(h, wt, b, t).backward()
    wp = zn.Tensor(w, requires_grad=True)
    F.softmax_cross_entropy(F.linear(zn.Tensor(h), wp, b), t).backward()
    np.testing.assert_allclose(wt.grad, wp.grad, rtol=1e-12, atol=1e-12)


def test_all_targets_ignored_is_nan_with_zero_gradient():
    h, w, b, t = _data()
    t[:] = -100
    ht = zn.Tensor(h, requires_grad=True)
    loss = F.linear_cross_entropy(ht, w, b, t)
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(ht.grad, 0)


def test_buffers_are_reused_between_steps():
    h, w, b, t = _data((8,))
    ht = zn.Tensor(h, requires_grad=True)
    for _ in range(3):  # the pool returns the same (N, V) buffer each step; results stay right
        ht.grad = None
        loss = F.linear_cross_entropy(ht, w, b, t)
        loss.backward()
    ref = zn.Tensor(h, requires_grad=True)
    F.softmax_cross_entropy(F.linear(ref, w, b), t).backward()
    np.testing.assert_allclose(ht.grad, ref.grad, rtol=1e-12, atol=1e-12)


def test_second_order_through_the_composition():
    h, w, b, t = _data((3,))
    ht = zn.Tensor(h, requires_grad=True)
    (g,) = zn.grad(F.linear_cross_entropy(ht, w, b, t), [ht], create_graph=True)
    hp = zn.Tensor(h, requires_grad=True)
    (gp,) = zn.grad(F.softmax_cross_entropy(F.linear(hp, w, b), t), [hp], create_graph=True)
    np.testing.assert_allclose(g.data, gp.data, rtol=1e-12)
    (gg,) = zn.grad((g * g).sum(), [ht])
    (ggp,) = zn.grad((gp * gp).sum(), [hp])
    np.testing.assert_allclose(gg.data, ggp.data, rtol=1e-10)


def test_errors_name_the_function():
    h, w, b, t = _data()
    with pytest.raises(ValueError, match="linear_cross_entropy: target 7 is out of range"):
        F.linear_cross_entropy(h, w, b, np.full(6, 7))
    with pytest.raises(ValueError, match="needs targets of shape"):
        F.linear_cross_entropy(h, w, b, t[:5])
    with pytest.raises(ValueError, match="does not match weight"):
        F.linear_cross_entropy(h[:, :3], w, b, t)
    with pytest.raises(TypeError, match="integer class ids"):
        F.linear_cross_entropy(h, w, b, t.astype(np.float64))
    with pytest.raises(ValueError, match="reduction"):
        F.linear_cross_entropy(h, w, b, t, reduction="avg")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_matches_pytorch(reduction, small_blocks):
    torch = pytest.importorskip("torch")
    h, w, b, t = _data((3, 4), hidden=5, classes=9, ignore=True)
    zs = [zn.Tensor(a.astype(np.float32), requires_grad=True) for a in (h, w, b)]
    ts = [torch.tensor(a.astype(np.float32), requires_grad=True) for a in (h, w, b)]
    zl = F.linear_cross_entropy(*zs, t, reduction=reduction)
    tl = torch.nn.functional.cross_entropy(torch.nn.functional.linear(*ts).reshape(-1, 9),
                                           torch.from_numpy(t).reshape(-1), reduction=reduction)
    np.testing.assert_allclose(zl.data.reshape(-1), tl.detach().numpy().reshape(-1), rtol=1e-5, atol=1e-6)
    upstream = np.random.default_rng(2).standard_normal(zl.shape).astype(np.float32)
    zl.backward(upstream)
    tl.backward(torch.from_numpy(upstream.reshape(tuple(tl.shape))))
    for z, tt in zip(zs, ts):
        np.testing.assert_allclose(z.grad, tt.grad.numpy(), rtol=1e-5, atol=1e-6)
