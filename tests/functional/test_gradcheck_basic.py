"""Numerical gradient checks of every elementary Function over shapes with broadcasting,
size-1 and empty dimensions."""

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F

rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape)


BINARY_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((1,), (2, 3)),
    ((), (2, 2)),
    ((0, 3), (3,)),
]


@pytest.mark.parametrize("op", [F.add, F.sub, F.mul, F.div])
@pytest.mark.parametrize("shapes", BINARY_SHAPES)
def test_binary_ops_broadcast(op, shapes):
    a, b = randn(*shapes[0]), randn(*shapes[1])
    if op is F.div:
        b = np.sign(b) * (np.abs(b) + 0.5)
    assert zn.gradcheck(op, [a, b])


@pytest.mark.parametrize(
    "fn, make",
    [
        (F.neg, lambda: randn(3, 2)),
        (F.exp, lambda: randn(3, 2)),
        (F.log, lambda: np.abs(randn(3, 2)) + 0.5),
        (lambda x: F.pow(x, 3), lambda: randn(4)),
        (lambda x: F.pow(x, 0.5), lambda: np.abs(randn(4)) + 0.5),
        (lambda x: x**2, lambda: randn(2, 0)),
        (F.sigmoid, lambda: randn(3, 4)),
        (F.tanh, lambda: randn(3, 4)),
        (F.relu, lambda: randn(3, 4) + 0.01),
        (lambda x: F.leaky_relu(x, 0.1), lambda: randn(3, 4) + 0.01),
        (F.softmax, lambda: randn(3, 5)),
        (lambda x: F.softmax(x, axis=0), lambda: randn(3, 5)),
        (F.log_softmax, lambda: randn(2, 3, 5)),
        (lambda x: F.clip(x, -0.5, 0.5), lambda: randn(10) + 0.013),
    ],
)
def test_unary_functions(fn, make):
    assert zn.gradcheck(fn, [make()])


@pytest.mark.parametrize(
    "shape, axis, keepdims",
    [((3, 4), None, False), ((3, 4), 0, False), ((3, 4), 1, True), ((2, 3, 4), (0, 2), False),
     ((2, 3, 4), -1, False), ((1, 5), 0, True), ((0, 4), 0, False)],
)
@pytest.mark.parametrize("reduce", [F.sum, F.mean])
def test_reductions(reduce, shape, axis, keepdims):
    assert zn.gradcheck(lambda x: reduce(x, axis=axis, keepdims=keepdims), [randn(*shape)])


@pytest.mark.parametrize("axis, keepdims", [(None, False), (0, False), (1, True), (-1, False)])
def test_max(axis, keepdims):
    x = rng.permutation(24).reshape(4, 6).astype(np.float64)  # distinct values: max is differentiable
    assert zn.gradcheck(lambda v: F.max(v, axis=axis, keepdims=keepdims), [x])


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((4,), (4, 5)), ((3, 4), (4,)),
     ((1, 3, 4), (2, 4, 2)), ((0, 4), (4, 3))],
)
def test_matmul(a_shape, b_shape):
    assert zn.gradcheck(F.matmul, [randn(*a_shape), randn(*b_shape)])


def test_shape_functions():
    x = randn(2, 3, 4)
    assert zn.gradcheck(lambda v: F.reshape(v, (6, 4)), [x])
    assert zn.gradcheck(lambda v: F.transpose(v), [x])
    assert zn.gradcheck(lambda v: F.transpose(v, (1, 0, 2)), [x])
    assert zn.gradcheck(lambda v: F.broadcast_to(v, (2, 3, 4)), [randn(3, 1)])
    assert zn.gradcheck(lambda v: F.sum_to(v, (3, 1)), [x])


def test_getitem_scatter_adds_repeated_indices():
    x = randn(5, 3)
    assert zn.gradcheck(lambda v: v[np.array([0, 2, 2, 4, 0])], [x])
    assert zn.gradcheck(lambda v: v[1:4, ::2], [x])
    assert zn.gradcheck(lambda v: v[np.array([0, 1, 1]), np.array([2, 0, 0])], [x])
    t = zn.tensor(np.ones((3, 2)), requires_grad=True)
    t[np.array([1, 1, 1])].sum().backward()
    np.testing.assert_array_equal(t.grad, [[0, 0], [3, 3], [0, 0]])


def test_concat_stack_split_where():
    a, b = randn(2, 3), randn(2, 5)
    assert zn.gradcheck(lambda u, v: F.concat([u, v], axis=1), [a, b])
    assert zn.gradcheck(lambda u, v: F.stack([u, v], axis=1), [a, randn(2, 3)])
    assert zn.gradcheck(lambda u: F.split(u, [1, 3], axis=1)[2] * 2 + 0, [randn(2, 6)])
    # an unused split output contributes a zero gradient
    assert zn.gradcheck(lambda u: F.split(u, 2, axis=0)[0], [randn(4, 2)])
    cond = randn(3, 4) > 0
    assert zn.gradcheck(lambda u, v: F.where(cond, u, v), [randn(3, 4), randn(4)])


def test_linear_embedding_layernorm():
    x, w, b = randn(2, 3, 4), randn(5, 4), randn(5)
    assert zn.gradcheck(F.linear, [x, w, b])
    assert zn.gradcheck(F.linear, [randn(3, 4), w])
    ids = np.array([[0, 3, 3], [1, 0, 4]])
    assert zn.gradcheck(lambda weight: F.embedding(ids, weight), [randn(6, 3)])
    assert zn.gradcheck(F.layer_norm, [randn(3, 6), randn(6), randn(6)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_cross_entropy(reduction):
    logits = randn(2, 3, 5)
    t = np.array([[0, 4, 2], [-100, 1, 3]])
    assert zn.gradcheck(lambda x: F.softmax_cross_entropy(x, t, reduction=reduction), [logits])


def test_fused_softmax_cross_entropy_equals_composition():
    logits, t = randn(6, 7), rng.integers(0, 7, size=6)
    a = zn.tensor(logits, requires_grad=True)
    fused = F.softmax_cross_entropy(a, t)
    fused.backward()
    b = zn.tensor(logits, requires_grad=True)
    composed = -F.log_softmax(b)[np.arange(6), t].mean()
    composed.backward()
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-10)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-10)


def test_sigmoid_cross_entropy_and_mse():
    t = (randn(4, 3) > 0).astype(np.float64)
    assert zn.gradcheck(lambda x: F.sigmoid_cross_entropy(x, t), [randn(4, 3) * 3])
    assert zn.gradcheck(F.mse, [randn(4, 3), randn(4, 3)])
    # the stable form agrees with the naive one
    x = randn(4, 3)
    s = 1 / (1 + np.exp(-x))
    naive = -(t * np.log(s) + (1 - t) * np.log(1 - s)).mean()
    np.testing.assert_allclose(F.sigmoid_cross_entropy(x, t).data, naive, rtol=1e-10)


def test_dropout_gradient_uses_the_same_mask():
    zn.manual_seed(3)
    x = zn.tensor(np.ones((100, 50)), requires_grad=True)
    y = F.dropout(x, 0.3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # d(sum(x*m))/dx = m
    kept = (y.data != 0).mean()
    assert 0.65 < kept < 0.75
    np.testing.assert_allclose(y.data[y.data != 0], 1 / 0.7)
    assert F.dropout(x, 0.3, training=False) is x
