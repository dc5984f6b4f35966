"""Every op added for issue 15 against PyTorch through one helper (forward and backward, float32,
over broadcasting, 0-d, size-1 and empty shapes and negative axes), plus a float64 gradcheck each."""

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F

torch = pytest.importorskip("torch")
tf = torch.nn.functional
rng = np.random.default_rng(15)


def check(zn_fn, torch_fn, *arrays, rtol=1e-5, atol=1e-6, grad=True):
    """The tinygrad-style helper: same inputs to both, compare outputs, dtypes and input gradients."""
    zs = [zn.tensor(a.astype(np.float32), requires_grad=grad) for a in arrays]
    ts = [torch.tensor(a.astype(np.float32), requires_grad=grad) for a in arrays]
    zy, ty = zn_fn(*zs), torch_fn(*ts)
    assert zy.shape == tuple(ty.shape), (zy.shape, tuple(ty.shape))
    assert zy.dtype == np.float32
    np.testing.assert_allclose(zy.data, ty.detach().numpy(), rtol=rtol, atol=atol)
    if not grad:
        return
    upstream = rng.standard_normal(zy.shape).astype(np.float32)
    zy.backward(upstream)
    ty.backward(torch.tensor(upstream))
    for z, t in zip(zs, ts):
        expected = np.zeros(z.shape, np.float32) if t.grad is None else t.grad.numpy()
        got = np.zeros(z.shape, np.float32) if z.grad is None else z.grad
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


def r(*shape):
    return rng.standard_normal(shape)


def pos(*shape):
    return np.abs(r(*shape)) + 0.5


SHAPES = [(), (1,), (3,), (2, 1, 4), (0, 3), (2, 3, 4)]

UNARY = [
    (F.sqrt, torch.sqrt, pos),
    (F.abs, torch.abs, r),
    (F.sin, torch.sin, r),
    (F.cos, torch.cos, r),
    (F.softplus, tf.softplus, r),
    (lambda x: F.softplus(x, beta=2.0, threshold=1.0), lambda x: tf.softplus(x, beta=2.0, threshold=1.0), r),
    (F.gelu, tf.gelu, r),
    (lambda x: F.gelu(x, approximate="tanh"), lambda x: tf.gelu(x, approximate="tanh"), r),
    (F.erf, torch.erf, r),
    (lambda x: F.flatten(x), torch.flatten, r),
    (lambda x: F.squeeze(x), torch.squeeze, r),
    (lambda x: F.unsqueeze(x, -1), lambda x: x.unsqueeze(-1), r),
    (lambda x: F.unsqueeze(x, 0), lambda x: x.unsqueeze(0), r),
    (lambda x: F.tile(x, (2, 1)), lambda x: torch.tile(x, (2, 1)), r),
    (lambda x: x.abs().sqrt(), lambda x: x.abs().sqrt(), pos),
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("index", range(len(UNARY)))
def test_unary_parity(index, shape):
    zn_fn, torch_fn, make = UNARY[index]
    check(zn_fn, torch_fn, make(*shape), rtol=1e-4 if "gelu" in str(zn_fn) else 1e-5)


REDUCE_SHAPES = [((3,), 0), ((3,), -1), ((2, 3, 4), 1), ((2, 3, 4), -1), ((2, 3, 4), (0, 2)), ((1, 5), 0)]


@pytest.mark.parametrize("shape, axis", REDUCE_SHAPES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["min", "var", "std", "logsumexp", "var0"])
def test_reduction_parity(name, shape, axis, keepdims):
    x = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) / 3  # no ties
    if name == "min":
        if isinstance(axis, tuple):
            check(lambda v: F.min(v, axis, keepdims), lambda v: torch.amin(v, axis, keepdims), x)
        else:
            check(lambda v: F.min(v, axis, keepdims), lambda v: torch.min(v, axis, keepdims).values, x)
    elif name in ("var", "std"):
        if x.size // (x.shape[axis] if isinstance(axis, int) else 1) and np.prod(
                [shape[a] for a in np.atleast_1d(axis)]) < 2:
            return
        check(lambda v: getattr(F, name)(v, axis, keepdims), lambda v: getattr(torch, name)(v, axis, keepdim=keepdims),
              x, rtol=1e-4)
    elif name == "var0":
        check(lambda v: F.var(v, axis, keepdims, correction=0),
              lambda v: torch.var(v, axis, keepdim=keepdims, correction=0), x, rtol=1e-4)
    else:
        check(lambda v: F.logsumexp(v, axis, keepdims), lambda v: torch.logsumexp(v, axis, keepdims), x)


@pytest.mark.parametrize("axis", [0, -1, 1])
def test_cumsum_parity(axis):
    check(lambda x: F.cumsum(x, axis), lambda x: torch.cumsum(x, axis), r(3, 4))


BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 2)), ((0, 3), (3,))]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_parity(name, shapes):
    check(getattr(F, name), getattr(torch, name), r(*shapes[0]), r(*shapes[1]))


def test_maximum_ties_split_the_gradient_like_torch():
    a = np.array([1.0, 2.0, 3.0])
    check(F.maximum, torch.maximum, a, np.array([1.0, 0.0, 3.0]))


def test_matmul_of_two_vectors_is_the_dot_product():
    check(F.matmul, torch.matmul, r(4), r(4))
    check(lambda a, b: a @ b, lambda a, b: a @ b, r(3), r(2, 3, 5))
    check(lambda a, b: a @ b, lambda a, b: a @ b, r(2, 3, 5), r(5))


SHAPE_OPS = [
    (lambda x: F.permute(x, 2, 0, 1), lambda x: x.permute(2, 0, 1), (2, 3, 4)),
    (lambda x: x.permute((1, 0, 2)), lambda x: x.permute(1, 0, 2), (2, 3, 4)),
    (lambda x: F.expand(x, 2, 3, -1), lambda x: x.expand(2, 3, -1), (3, 1)),
    (lambda x: x.expand(4, 1, 2), lambda x: x.expand(4, 1, 2), (1, 2)),
    (lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3), (3, 2)),
    (lambda x: F.tile(x, (2,)), lambda x: torch.tile(x, (2,)), (2, 3)),
    (lambda x: F.flatten(x, 1), lambda x: torch.flatten(x, 1), (2, 3, 4)),
    (lambda x: F.flatten(x, 0, -2), lambda x: torch.flatten(x, 0, -2), (2, 3, 4)),
    (lambda x: F.squeeze(x, 1), lambda x: x.squeeze(1), (2, 1, 4)),
    (lambda x: F.squeeze(x, 0), lambda x: x.squeeze(0), (2, 1, 4)),  # not size 1: unchanged, as torch
    (lambda x: F.flip(x, -1), lambda x: torch.flip(x, (-1,)), (2, 3)),
    (lambda x: F.pad(x, (1, 2)), lambda x: tf.pad(x, (1, 2)), (2, 3)),
    (lambda x: F.pad(x, (0, 1, 2, 0), value=1.5), lambda x: tf.pad(x, (0, 1, 2, 0), value=1.5), (2, 3, 4)),
    (lambda x: F.masked_fill(x, np.array([True, False, True]), -1e9),
     lambda x: x.masked_fill(torch.tensor([True, False, True]), -1e9), (2, 3)),
    (lambda x: F.gather(x, 1, np.array([[0, 0, 2], [1, 2, 1]])),
     lambda x: torch.gather(x, 1, torch.tensor([[0, 0, 2], [1, 2, 1]])), (2, 3)),
    (lambda x: F.gather(x, 0, np.array([[1, 0]])), lambda x: torch.gather(x, 0, torch.tensor([[1, 0]])), (2, 3)),
    (lambda x: F.take_along_axis(x, np.array([[2], [0]]), axis=-1),
     lambda x: torch.take_along_dim(x, torch.tensor([[2], [0]]), dim=-1), (2, 3)),
]


@pytest.mark.parametrize("index", range(len(SHAPE_OPS)))
def test_shape_op_parity(index):
    zn_fn, torch_fn, shape = SHAPE_OPS[index]
    check(zn_fn, torch_fn, r(*shape))


def test_comparisons_return_boolean_masks():
    a, b = np.array([1.0, 2.0, np.nan]), np.array([2.0, 2.0, 1.0])
    ta, tb = torch.tensor(a), torch.tensor(b)
    for name in ["eq", "ne", "lt", "le", "gt", "ge"]:
        mask = getattr(F, name)(zn.tensor(a), b)
        assert mask.dtype == bool and not mask.requires_grad
        np.testing.assert_array_equal(mask.data, getattr(torch, name)(ta, tb).numpy())
        np.testing.assert_array_equal(getattr(zn.tensor(a), name)(b).data, mask.data)
    np.testing.assert_array_equal(F.isnan(a).data, [False, False, True])
    np.testing.assert_array_equal(F.isfinite(a).data, [True, True, False])


def test_tensor_factories():
    zn.manual_seed(0)
    assert zn.zeros(2, 3).shape == (2, 3) and zn.zeros((2, 3)).dtype == np.float32
    assert zn.ones(3, requires_grad=True).requires_grad
    assert zn.full((2,), 7).dtype == np.int64 and zn.full((2,), 0.5).dtype == np.float32
    np.testing.assert_array_equal(zn.eye(3).data, np.eye(3))
    assert zn.arange(5).dtype == np.int64 and zn.arange(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_array_equal(zn.arange(1, 7, 2).data, [1, 3, 5])
    x = zn.randn(1000, 10)
    assert x.dtype == np.float32 and abs(float(x.data.mean())) < 0.05 and abs(float(x.data.std()) - 1) < 0.05
    u = zn.rand(1000)
    assert 0 <= u.data.min() and u.data.max() < 1
    for like in (zn.zeros_like, zn.ones_like, zn.randn_like, zn.rand_like):
        assert like(x).shape == x.shape and like(x).dtype == np.float32
    assert zn.full_like(x, 2.0).data.max() == 2.0
    zn.manual_seed(3)
    a = zn.randn(4).data
    zn.manual_seed(3)
    np.testing.assert_array_equal(a, zn.randn(4).data)
    with pytest.raises(ValueError, match="zeros"):
        zn.zeros(-1)
    with pytest.raises(TypeError, match="ones"):
        zn.ones(2.5)


GRADCHECKS = [
    (F.sqrt, [pos(3, 4)]), (F.abs, [r(3, 4)]), (F.sin, [r(3)]), (F.cos, [r(3)]),
    (F.maximum, [r(3, 4), r(4)]), (F.minimum, [r(3, 1), r(1, 4)]),
    (lambda x: F.min(x, axis=-1), [rng.permutation(12).reshape(3, 4) / 5.0]),
    (lambda x: F.var(x, axis=0), [r(3, 4)]), (lambda x: F.std(x), [r(3, 4)]),
    (lambda x: F.logsumexp(x, axis=1), [r(3, 4)]), (lambda x: F.logsumexp(x), [r(3, 4)]),
    (lambda x: F.cumsum(x, -1), [r(3, 4)]),
    (F.softplus, [r(3, 4)]), (F.gelu, [r(3, 4)]), (lambda x: F.gelu(x, "tanh"), [r(3, 4)]), (F.erf, [r(5)]),
    (lambda x: F.pad(x, (1, 1, 0, 2)), [r(2, 3)]),
    (lambda x: F.gather(x, 1, np.array([[0, 0], [2, 1]])), [r(2, 3)]),
    (lambda x: F.masked_fill(x, np.array([True, False, False]), 0.0), [r(2, 3)]),
    (lambda x: F.tile(x, (2, 3)), [r(2, 3)]), (lambda x: F.expand(x, 4, 3), [r(1, 3)]),
    (lambda x: F.permute(F.unsqueeze(x, 1), 2, 0, 1), [r(2, 3)]),
    (lambda x: F.flip(F.squeeze(F.flatten(x, 0, 1)), 0), [r(2, 1, 3)]),
]


@pytest.mark.parametrize("index", range(len(GRADCHECKS)))
def test_gradcheck_new_ops(index):
    fn, inputs = GRADCHECKS[index]
    assert zn.gradcheck(fn, inputs)
