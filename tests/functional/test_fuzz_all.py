"""Hypothesis property tests over every public op of ``zeronlp.functional`` (issue 15).

For random shapes (0-size and size-1 dims, broadcasting, mismatches), dtypes (float16/32/64, ints,
bool) and values (nan, +-inf, huge), each call either matches PyTorch (value and dtype; a NumPy
reference where torch has no twin) or raises a ValueError/TypeError whose message names the op.
A float input that succeeds is also differentiated (``out.sum().backward()``), and its gradient
must have the input's shape. Deterministic (``derandomize=True``) and fast (~100 cases a group).
"""

from __future__ import annotations

import collections

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F

hypothesis = pytest.importorskip("hypothesis")
torch = pytest.importorskip("torch")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

FLOATS = [np.float16, np.float32, np.float64]
INTS = [np.int32, np.int64]
ALL = FLOATS + INTS + [np.bool_]
FAST = settings(max_examples=100, deadline=None, derandomize=True, database=None)
COUNTS: collections.Counter = collections.Counter()  # group -> cases; group/errors; group/compared
TORCH_OF = {np.dtype(d): getattr(torch, np.dtype(d).name) for d in FLOATS + INTS} | {np.dtype(bool): torch.bool}


def _elements(dtype, finite: bool = False):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        info = np.finfo(dtype)
        normal = st.floats(-8, 8, width=info.bits)
        if finite:
            return normal
        special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, float(info.max), float(-info.max),
                                   float(info.max) / 4])
        return st.one_of(normal, normal, normal, special)
    if dtype.kind == "b":
        return st.booleans()
    return st.integers(0 if dtype.kind == "u" else -100, 100)


def shape_st(min_dims=0, max_dims=3, min_side=0, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def bshapes(shape, min_dims=0):
    return hnp.broadcastable_shapes(tuple(shape), min_dims=min_dims, max_dims=max(len(shape), 3),
                                    min_side=0, max_side=4)


def draw_array(data, dtypes=ALL, shape=None, finite=False, **shape_kw):
    dtype = data.draw(st.sampled_from(dtypes))
    shape = data.draw(shape_st(**shape_kw)) if shape is None else tuple(shape)
    return data.draw(hnp.arrays(dtype, shape, elements=_elements(dtype, finite)))


def ids(data, dtypes, shape, low, high):
    """An array of (possibly out-of-range) ids in a drawn id dtype (bool ids are 0/1)."""
    dtype = np.dtype(data.draw(st.sampled_from(dtypes)))
    return data.draw(hnp.arrays(dtype, shape, elements=st.booleans() if dtype.kind == "b" else st.integers(low, high)))


def near(data, n: int) -> int:
    """``n`` 7 times in 8, else a nearby (possibly wrong) size: the mismatched-shape cases."""
    return data.draw(st.one_of(*[st.just(n)] * 7, st.integers(0, n + 2)))


class Case:
    """One call: the zeronlp call, the reference (torch or NumPy), and how to compare them."""

    def __init__(self):
        self.leaves: list = []

    def t(self, x):
        """``x`` as a Tensor needing a gradient when it is floating point (to exercise backward)."""
        x = np.asarray(x)
        if x.dtype.kind != "f":
            return x
        leaf = zn.tensor(x.copy(), requires_grad=True)
        self.leaves.append(leaf)
        return leaf


def _np(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, zn.Tensor):
        return value.data
    return np.asarray(value)


class ShapeOnly:
    """A reference that knows only the shape and dtype (random ops)."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)


def _compare(name, ours, expected, tol, check_dtype, strict):
    if isinstance(expected, ShapeOnly):
        ours = _np(ours)
        assert (ours.shape, ours.dtype) == (expected.shape, expected.dtype), f"{name}: {ours.shape} {ours.dtype}"
        return
    ours, expected = _np(ours), _np(expected)
    assert ours.shape == expected.shape, f"{name}: shape {ours.shape}, reference {expected.shape}"
    if check_dtype:
        assert ours.dtype == expected.dtype, f"{name}: dtype {ours.dtype}, reference {expected.dtype}"
    if ours.dtype.kind not in "fc" or expected.dtype.kind not in "fc":
        np.testing.assert_array_equal(ours, expected, err_msg=name)
        return
    a, b = ours.astype(np.float64), expected.astype(np.float64)
    if not strict:  # fused ops: different summation orders turn overflow into inf or nan differently
        both = np.isfinite(a) & np.isfinite(b)
        a, b = a[both], b[both]
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True, err_msg=name)


def _names_op(err: Exception, names) -> bool:
    message = str(err).lower()
    return isinstance(err, (ValueError, TypeError)) and any(n.lower() in message for n in names)


def run_case(group, name, make, data, *, tol=None, check_dtype=True, strict=True, aliases=()):
    """Build the case, call zeronlp; an error must be clear; else compare and differentiate."""
    case = Case()
    zn_call, ref_call = make(data, case)
    COUNTS[group] += 1
    try:
        with np.errstate(all="ignore"):
            out = case.out = zn_call()
    except Exception as err:  # noqa: BLE001 - what kind of error it is is the point of the test
        COUNTS[group + "/errors"] += 1
        ok = _names_op(err, (name.split(":")[0],) + tuple(aliases))
        assert ok, f"{name}: unclear {type(err).__name__}: {err}"
        return
    outs = out if isinstance(out, tuple) else (out,)
    first = outs[0]
    if case.leaves and isinstance(first, zn.Tensor) and first.dtype.kind == "f" and first.requires_grad:
        with np.errstate(all="ignore"):
            first.sum().backward()
        for leaf in case.leaves:
            assert leaf.grad is None or leaf.grad.shape == leaf.shape, f"{name}: grad {leaf.grad.shape}"
    if ref_call is None:
        return
    try:
        with np.errstate(all="ignore"):
            expected = ref_call()
    except Exception:  # noqa: BLE001 - the reference refuses too (e.g. torch on bool): nothing to compare
        return
    COUNTS[group + "/compared"] += 1
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(outs) == len(expected), f"{name}: {len(outs)} outputs, reference {len(expected)}"
    dtypes = [o.dtype for o in outs]
    for o, e in zip(outs, expected):
        t = tol if tol is not None else {np.float16: 2e-2, np.float32: 1e-4}.get(np.dtype(o.dtype).type, 1e-6)
        _compare(name, o, e, t, check_dtype, strict)
    return dtypes


def T(x):
    """A torch copy of a NumPy array (or a Tensor's data)."""
    return torch.from_numpy(np.array(_np(x), copy=True))


# ---------------------------------------------------------------------------- elementwise & reductions

def _unary(zn_fn, torch_fn, dtypes=ALL):
    def make(data, case):
        x = draw_array(data, dtypes)
        return (lambda: zn_fn(case.t(x))), (lambda: torch_fn(T(x)))
    return make


def _reduction(zn_fn, torch_fn):
    def make(data, case):
        x = draw_array(data)
        axis = data.draw(st.integers(-4, 3))
        keep = data.draw(st.booleans())
        return (lambda: zn_fn(case.t(x), axis=axis, keepdims=keep)), (lambda: torch_fn(T(x), axis, keep))
    return make


ELEMENTWISE = {
    "neg": _unary(F.neg, torch.neg, FLOATS + INTS),
    "log": _unary(F.log, torch.log),
    "cos": _unary(F.cos, torch.cos),
    "erf": _unary(F.erf, torch.erf),
    "gelu": _unary(F.gelu, torch.nn.functional.gelu),
    "gelu:tanh": _unary(lambda x: F.gelu(x, approximate="tanh"),
                        lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
    "leaky_relu": _unary(lambda x: F.leaky_relu(x, 0.2), lambda x: torch.nn.functional.leaky_relu(x, 0.2)),
    "isfinite": _unary(F.isfinite, torch.isfinite),
    "isinf": _unary(F.isinf, torch.isinf),
    "isnan": _unary(F.isnan, torch.isnan),
    "clamp": _unary(lambda x: F.clamp(x, -1.5, 2.0), lambda x: torch.clamp(x, -1.5, 2.0), FLOATS),
    "clip": _unary(lambda x: F.clip(x, None, 0.5), lambda x: torch.clamp(x, None, 0.5), FLOATS),
    "pow": _unary(lambda x: F.pow(x, 2.0), lambda x: torch.pow(x, 2.0), FLOATS),
    # x ** 0.5 is NumPy's sqrt (nan at -inf); torch.pow gives C's +inf there: compare with torch.sqrt
    "pow:half": _unary(lambda x: F.pow(x, 0.5), torch.sqrt, FLOATS),
    "sigmoid": _unary(F.sigmoid, torch.sigmoid),
    "tanh": _unary(F.tanh, torch.tanh),
    "softplus": _unary(lambda x: F.softplus(x, 2.0), lambda x: torch.nn.functional.softplus(x, 2.0)),
    "cumsum": _unary(lambda x: F.cumsum(x, 0), lambda x: torch.cumsum(x, 0), FLOATS),
    "softmax": _unary(lambda x: F.softmax(x, 0), lambda x: torch.softmax(x, 0), FLOATS),
    "max": _reduction(F.max, lambda x, a, k: torch.amax(x, a, k)),
    "min": _reduction(F.min, lambda x, a, k: torch.amin(x, a, k)),
    "sum": _reduction(F.sum, lambda x, a, k: torch.sum(x, a, k)),
    "mean": _reduction(F.mean, lambda x, a, k: torch.mean(x, a, k)),
    "std": _reduction(F.std, lambda x, a, k: torch.std(x, a, keepdim=k)),
    "var": _reduction(F.var, lambda x, a, k: torch.var(x, a, keepdim=k)),
    "logsumexp": _reduction(F.logsumexp, lambda x, a, k: torch.logsumexp(x, a, k)),
    "max:all": _unary(F.max, torch.amax),
    "cast": _unary(lambda x: F.cast(x, np.float32), lambda x: x.to(torch.float32)),
}


@settings(FAST, max_examples=200)
@given(name=st.sampled_from(sorted(ELEMENTWISE)), data=st.data())
def test_elementwise_and_reductions(name, data):
    run_case("elementwise", name, ELEMENTWISE[name], data)


# ---------------------------------------------------------------------------- binary / comparisons

def _binary(zn_fn, torch_fn, dtypes=FLOATS + INTS + [np.bool_]):
    def make(data, case):
        a = draw_array(data, dtypes)
        shape = data.draw(st.one_of(st.just(a.shape), bshapes(a.shape), shape_st()))
        b = draw_array(data, dtypes, shape=shape)
        return (lambda: zn_fn(case.t(a), case.t(b))), (lambda: torch_fn(T(a), T(b)))
    return make


def _where(data, case):
    cond = draw_array(data, [np.bool_])
    a = draw_array(data, FLOATS + INTS, shape=data.draw(bshapes(cond.shape)))
    b = draw_array(data, FLOATS + INTS, shape=data.draw(st.one_of(bshapes(cond.shape),
                                                                  shape_st())))
    return (lambda: F.where(cond, case.t(a), case.t(b))), (lambda: torch.where(T(cond), T(a), T(b)))


BINARY = {name: _binary(getattr(F, name), getattr(torch, name))
          for name in ("eq", "ne", "lt", "le", "gt", "ge", "minimum", "maximum", "add", "sub", "mul")}
BINARY["where"] = _where
BINARY["matmul"] = _binary(F.matmul, torch.matmul, FLOATS)


@FAST
@given(name=st.sampled_from(sorted(BINARY)), data=st.data())
def test_binary_ops(name, data):
    run_case("binary", name, BINARY[name], data)


# ---------------------------------------------------------------------------- shape ops

def _axis(data, ndim):
    return data.draw(st.integers(-ndim - 1, max(ndim, 1)))


def _reshape(data, case):
    x = draw_array(data)
    shape = data.draw(st.one_of(st.just((-1,)), st.just(x.shape[::-1]), shape_st(max_dims=3),
                                st.just((x.size, -1)) if x.size else st.just((0, 3))))
    return (lambda: F.reshape(case.t(x), shape)), (lambda: T(x).reshape(shape))


def _transpose(data, case):
    x = draw_array(data)
    axes = data.draw(st.one_of(st.none(), st.permutations(range(x.ndim)).map(tuple),
                               st.lists(st.integers(-3, 3), max_size=3).map(tuple)))
    ref = (lambda: T(x).permute(*range(x.ndim - 1, -1, -1))) if axes is None else (lambda: T(x).permute(axes))
    return (lambda: F.transpose(case.t(x), axes)), ref


def _permute(data, case):
    x = draw_array(data)
    dims = data.draw(st.one_of(st.permutations(range(x.ndim)).map(tuple),
                               st.lists(st.integers(-3, 3), max_size=3).map(tuple)))
    return (lambda: F.permute(case.t(x), *dims)), (lambda: T(x).permute(dims))


def _squeeze(data, case):
    x = draw_array(data, min_side=1, max_side=2)
    axis = data.draw(st.one_of(st.none(), st.integers(-4, 3)))
    ref = (lambda: T(x).squeeze()) if axis is None else (lambda: T(x).squeeze(axis))
    return (lambda: F.squeeze(case.t(x), axis)), ref


def _unsqueeze(data, case):
    x = draw_array(data)
    axis = data.draw(st.integers(-5, 4))
    return (lambda: F.unsqueeze(case.t(x), axis)), (lambda: T(x).unsqueeze(axis))


def _flatten(data, case):
    x = draw_array(data)
    start, end = data.draw(st.integers(-4, 3)), data.draw(st.integers(-4, 3))
    return (lambda: F.flatten(case.t(x), start, end)), (lambda: torch.flatten(T(x), start, end))


def _expand(data, case):
    x = draw_array(data, max_side=2)
    sizes = data.draw(st.one_of(bshapes(x.shape, min_dims=x.ndim).map(
        lambda s: tuple(np.broadcast_shapes(s, x.shape))), shape_st(), st.just((-1,) * x.ndim)))
    return (lambda: F.expand(case.t(x), *sizes)), (lambda: T(x).expand(*sizes))


def _repeat(data, case):
    x = draw_array(data, max_side=3)
    sizes = tuple(data.draw(st.lists(st.integers(0, 3), min_size=max(x.ndim - 1, 0), max_size=x.ndim + 1)))
    return (lambda: F.repeat(case.t(x), *sizes)), (lambda: T(x).repeat(*sizes))


def _tile(data, case):
    x = draw_array(data, max_side=3)
    reps = tuple(data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=4)))
    return (lambda: F.tile(case.t(x), *reps)), (lambda: torch.tile(T(x), reps))


def _flip(data, case):
    x = draw_array(data)
    axis = data.draw(st.one_of(st.integers(-4, 3), st.lists(st.integers(-3, 2), max_size=2, unique=True).map(tuple)))
    dims = (axis,) if isinstance(axis, int) else axis
    return (lambda: F.flip(case.t(x), axis)), (lambda: torch.flip(T(x), dims))


def _pad(data, case):
    x = draw_array(data, FLOATS + INTS)
    pad = tuple(data.draw(st.lists(st.integers(-1, 2), max_size=6)))
    value = data.draw(st.sampled_from([0.0, 1.5, -2.0]))
    return (lambda: F.pad(case.t(x), pad, value)), (lambda: torch.nn.functional.pad(T(x), pad, value=value))


def _many(data, same_shape):
    first = draw_array(data)
    n = data.draw(st.integers(1, 3))
    xs = [first]
    for _ in range(n - 1):
        shape = list(first.shape)
        if shape and not same_shape and data.draw(st.booleans()):
            shape[data.draw(st.integers(0, len(shape) - 1))] = data.draw(st.integers(0, 3))
        if data.draw(st.integers(0, 9)) == 0:
            shape = data.draw(shape_st())
        xs.append(draw_array(data, shape=shape))
    return xs


def _concat(data, case):
    xs = _many(data, same_shape=False)
    axis = _axis(data, xs[0].ndim)
    return (lambda: F.concat([case.t(x) for x in xs], axis)), (lambda: torch.cat([T(x) for x in xs], axis))


def _stack(data, case):
    xs = _many(data, same_shape=True)
    axis = _axis(data, xs[0].ndim + 1)
    return (lambda: F.stack([case.t(x) for x in xs], axis)), (lambda: torch.stack([T(x) for x in xs], axis))


def _split(data, case):
    x = draw_array(data)
    sections = data.draw(st.one_of(st.integers(1, 3), st.lists(st.integers(0, 4), max_size=3)))
    axis = _axis(data, x.ndim)
    return (lambda: F.split(case.t(x), sections, axis)), (lambda: tuple(np.split(x, sections, axis)))


def _index(data, shape):
    """A basic or advanced index for ``shape``, sometimes out of range."""
    parts = []
    for n in shape[:data.draw(st.integers(0, len(shape)))]:
        kind = data.draw(st.sampled_from(["int", "slice", "list", "none", "ellipsis"]))
        if kind == "int":
            parts.append(data.draw(st.integers(-n - 1, n)))
        elif kind == "slice":
            parts.append(slice(data.draw(st.integers(-3, 3)), data.draw(st.one_of(st.none(), st.integers(-3, 3))),
                               data.draw(st.sampled_from([None, 1, 2, -1]))))
        elif kind == "list":
            parts.append(np.array(data.draw(st.lists(st.integers(-n - 1, n), min_size=1, max_size=3))))
        elif kind == "none":
            parts.append(None)
        elif Ellipsis not in parts:
            parts.append(Ellipsis)
    if data.draw(st.integers(0, 9)) == 0:
        return np.array(data.draw(st.lists(st.booleans(), min_size=shape[0] if shape else 0,
                                           max_size=shape[0] if shape else 0)), dtype=bool)
    return tuple(parts)


def _getitem(data, case):
    x = draw_array(data)
    index = _index(data, x.shape)
    return (lambda: F.getitem(case.t(x), index)), (lambda: np.asarray(x[index]))


def _take(data, case, torch_order):
    x = draw_array(data, max_dims=3)
    axis = _axis(data, x.ndim)
    shape = list(x.shape)
    if shape and -len(shape) <= axis < len(shape):
        shape[axis] = data.draw(st.integers(0, 3))
    shape = data.draw(st.one_of(st.just(tuple(shape)), shape_st()))
    hi = x.shape[axis] if -x.ndim <= axis < x.ndim else 2
    idx = data.draw(hnp.arrays(data.draw(st.sampled_from([np.int64, np.int32, np.float32])), shape,
                               elements=st.integers(-hi - 1, hi)))
    if torch_order:
        return (lambda: F.gather(case.t(x), axis, idx)), (lambda: torch.gather(T(x), axis, T(idx)))
    return (lambda: F.take_along_axis(case.t(x), idx, axis)), (lambda: np.take_along_axis(x, idx, axis))


def _masked_fill(data, case):
    x = draw_array(data)
    mask = draw_array(data, [np.bool_, np.bool_, np.int64],
                      shape=data.draw(st.one_of(bshapes(x.shape), shape_st())))
    value = data.draw(st.sampled_from([0.0, -np.inf, 3.0, 1e30]))
    return (lambda: F.masked_fill(case.t(x), mask, value)), (lambda: T(x).masked_fill(T(mask), value))


def _broadcast_to(data, case):
    x = draw_array(data, max_side=2)
    shape = data.draw(st.one_of(bshapes(x.shape, min_dims=x.ndim).map(
        lambda s: tuple(np.broadcast_shapes(s, x.shape))), shape_st()))
    return (lambda: F.broadcast_to(case.t(x), shape)), (lambda: torch.broadcast_to(T(x), shape))


def _sum_to(data, case):
    shape = data.draw(shape_st(max_side=3))
    x = draw_array(data, FLOATS + INTS, shape=data.draw(st.one_of(
        bshapes(shape).map(lambda s: np.broadcast_shapes(s, shape)), shape_st())))

    def ref():
        lead = x.ndim - len(shape)
        y = x.sum(axis=tuple(range(lead)), dtype=x.dtype) if lead > 0 else x
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and y.shape[i] != 1)
        return y.sum(axis=axes, keepdims=True, dtype=x.dtype) if axes else y
    return (lambda: F.sum_to(case.t(x), shape)), ref


SHAPE_OPS = {
    "reshape": _reshape, "transpose": _transpose, "permute": _permute, "squeeze": _squeeze,
    "unsqueeze": _unsqueeze, "flatten": _flatten, "expand": _expand, "repeat": _repeat, "tile": _tile,
    "flip": _flip, "pad": _pad, "concat": _concat, "stack": _stack, "split": _split,
    "getitem": _getitem, "gather": lambda d, c: _take(d, c, True),
    "take_along_axis": lambda d, c: _take(d, c, False), "masked_fill": _masked_fill,
    "broadcast_to": _broadcast_to, "sum_to": _sum_to,
}
SHAPE_ALIASES = {"gather": ("take_along_axis",), "getitem": ("index",)}


@settings(FAST, max_examples=200)
@given(name=st.sampled_from(sorted(SHAPE_OPS)), data=st.data())
def test_shape_ops(name, data):
    run_case("shape", name, SHAPE_OPS[name], data, aliases=SHAPE_ALIASES.get(name, ()), tol=1e-2)


# ---------------------------------------------------------------------------- fused layers

TF = torch.nn.functional


def _linear(data, case):
    x = draw_array(data, FLOATS + [np.int64], min_dims=1)
    n_in = x.shape[-1] if x.ndim else 1
    w = draw_array(data, FLOATS, shape=data.draw(st.one_of(st.tuples(st.integers(0, 3), st.just(near(data, n_in))),
                                                           shape_st())))
    c_out = w.shape[0] if w.ndim else 1
    b = data.draw(st.one_of(st.none(), st.just(draw_array(data, FLOATS, shape=(near(data, c_out),)))))

    def ref():
        return TF.linear(T(x), T(w), None if b is None else T(b))
    return (lambda: F.linear(case.t(x), case.t(w), None if b is None else case.t(b))), ref


def _embedding(data, case):
    weight = draw_array(data, FLOATS, shape=data.draw(st.one_of(shape_st(2, 2, 0, 4), shape_st())))
    rows = weight.shape[0] if weight.ndim else 1
    idx = ids(data, [np.int64, np.int32, np.float32, np.bool_], data.draw(shape_st()), -1, rows)
    padding_idx = data.draw(st.one_of(st.none(), st.integers(-rows - 1, rows)))

    def ref():
        return TF.embedding(T(idx).long() if idx.dtype.kind == "i" else T(idx), T(weight), padding_idx)
    return (lambda: F.embedding(idx, case.t(weight), padding_idx)), ref


def _layer_norm(data, case):
    x = draw_array(data, FLOATS + [np.int64], min_dims=1)
    d = x.shape[-1] if x.ndim else 1
    w = draw_array(data, FLOATS, shape=(near(data, d),))
    b = draw_array(data, FLOATS, shape=(near(data, d),))
    return (lambda: F.layer_norm(case.t(x), case.t(w), case.t(b))), (lambda: TF.layer_norm(T(x), (d,), T(w), T(b)))


def _dropout(data, case, training):
    x = draw_array(data, FLOATS + INTS)
    p = data.draw(st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0, -0.1, 1.5]))
    if not training:
        return (lambda: F.dropout(case.t(x), p, training=False)), (lambda: TF.dropout(T(x), p, training=False))

    def ref():  # each element is either dropped (0) or kept and scaled by 1/(1-p)
        kept = case.out.data != 0
        return np.where(kept, x / x.dtype.type(1 - p) if x.dtype.kind == "f" else x, x.dtype.type(0)).astype(x.dtype)
    return (lambda: F.dropout(case.t(x), p, training=True)), ref


def _conv1d(data, case):
    x = draw_array(data, FLOATS, shape=data.draw(st.one_of(shape_st(3, 3, 0, 4), shape_st())))
    c_in = x.shape[1] if x.ndim == 3 else 1
    w = draw_array(data, FLOATS, shape=data.draw(st.one_of(
        st.tuples(st.integers(1, 3), st.just(near(data, c_in)), st.integers(0, 3)), shape_st())))
    c_out = w.shape[0] if w.ndim else 1
    b = data.draw(st.one_of(st.none(), st.just(draw_array(data, FLOATS, shape=(near(data, c_out),)))))
    stride, padding = data.draw(st.sampled_from([1, 1, 1, 2, 0])), data.draw(st.sampled_from([0, 0, 1, 2, -1]))

    def ref():
        if x.ndim == 3 and x.shape[1] == 0:
            raise ValueError("torch returns 0 output channels for 0 input channels; ours sums nothing: 0 (+ bias)")
        return TF.conv1d(T(x), T(w), None if b is None else T(b), stride=stride, padding=padding)
    return (lambda: F.conv1d(case.t(x), case.t(w), None if b is None else case.t(b), stride, padding)), ref


def _max_over_time(data, case):
    x = draw_array(data, FLOATS + [np.int64], shape=data.draw(st.one_of(shape_st(3, 3, 0, 3), shape_st())))
    n, length = (x.shape[0], x.shape[2]) if x.ndim == 3 else (1, 1)
    mask = data.draw(st.one_of(st.none(), st.just(ids(data, [np.bool_, np.int64],
                                                      (near(data, n), near(data, length)), 0, 1))))

    def ref():
        m = np.ones((n, length), bool) if mask is None else mask.astype(bool)
        if x.shape[2] == 0 and mask is None:
            raise ValueError("torch refuses to max over an empty axis")
        lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        y = np.where(m[:, None, :], x, lowest).max(axis=-1, initial=lowest)
        return np.where(m.any(-1)[:, None], y, 0).astype(x.dtype)
    return (lambda: F.max_over_time(case.t(x), mask)), ref


LAYERS = {
    "linear": _linear, "embedding": _embedding, "layer_norm": _layer_norm, "conv1d": _conv1d,
    "dropout:eval": lambda d, c: _dropout(d, c, False), "dropout:train": lambda d, c: _dropout(d, c, True),
    "max_over_time": _max_over_time,
}


@FAST
@given(name=st.sampled_from(sorted(LAYERS)), data=st.data())
def test_fused_layers(name, data):
    run_case("layers", name, LAYERS[name], data, strict=False, tol=3e-2,
             aliases=("ids", "id ") if name == "embedding" else ())


# ---------------------------------------------------------------------------- attention

def _attention(data, case, fn, scaled):
    batch = data.draw(st.sampled_from([(), (2,), (1, 2)]))
    tq, tk, d, dv = (data.draw(st.integers(0, 3)) for _ in range(4))
    dtypes = FLOATS + [np.int64]
    q = draw_array(data, dtypes, shape=data.draw(st.one_of(st.just(batch + (tq, d)), shape_st())))
    k = draw_array(data, dtypes, shape=batch + (tk, near(data, d)))
    v = draw_array(data, dtypes, shape=batch + (near(data, tk), dv))
    mask = data.draw(st.one_of(st.none(), st.just(ids(data, [np.bool_, np.bool_, np.int64],
                                                      data.draw(st.one_of(st.just((tq, tk)), bshapes((tq, tk)))),
                                                      0, 1))))

    def ref():  # mixed dtypes: zeronlp promotes ints and keeps float32 (torch refuses): compare in ours
        cast = case.out[0].dtype
        assert cast in (q.dtype, k.dtype, v.dtype) or cast == np.float32, f"attention: {cast}"
        tq_, tk_, tv = T(q.astype(cast)), T(k.astype(cast)), T(v.astype(cast))
        scores = tq_ @ tk_.transpose(-1, -2)
        if scaled:
            scores = scores / np.sqrt(q.shape[-1])
        if mask is not None:
            m = T(mask).bool()
            scores = scores.masked_fill(~m, -torch.inf)
            weights = torch.softmax(scores, -1)
            weights = torch.where(m.expand_as(scores).any(-1, keepdim=True), weights, 0)
        else:
            weights = torch.softmax(scores, -1)
        return weights @ tv, weights
    return (lambda: fn(case.t(q), case.t(k), case.t(v), mask)), ref


def _causal_mask(data, case):
    length, key_length = data.draw(st.integers(-1, 4)), data.draw(st.one_of(st.none(), st.integers(-1, 4)))
    kl = length if key_length is None else key_length
    return (lambda: F.causal_mask(length, key_length)), (lambda: np.tril(np.ones((length, kl), bool), k=kl - length))


def _padding_mask(data, case):
    lengths = data.draw(hnp.arrays(data.draw(st.sampled_from([np.int64, np.int32, np.float32])),
                                   data.draw(shape_st(0, 2)), elements=st.integers(-1, 4)))
    max_length = data.draw(st.integers(-1, 4))
    return (lambda: F.padding_mask(lengths, max_length)), (
        lambda: (np.arange(max_length)[None, :] < lengths[:, None])[:, None, :])


ATTENTION = {
    "attention": lambda d, c: _attention(d, c, F.attention, False),
    "dot_product_attention": lambda d, c: _attention(d, c, F.dot_product_attention, False),
    "scaled_dot_product_attention": lambda d, c: _attention(d, c, F.scaled_dot_product_attention, True),
    "causal_mask": _causal_mask, "padding_mask": _padding_mask,
}


@FAST
@given(name=st.sampled_from(sorted(ATTENTION)), data=st.data())
def test_attention_ops(name, data):
    run_case("attention", name, ATTENTION[name], data, strict=False, tol=3e-2, aliases=("attention",))


# ---------------------------------------------------------------------------- recurrent

GATES = {"rnn": 1, "rnn:relu": 1, "lstm": 4, "gru": 3}


def _recurrent_args(data, kind, cell):
    t, b, i, h = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 2)), data.draw(st.integers(1, 3)), \
        data.draw(st.integers(1, 3))
    g = GATES[kind]
    dtype = data.draw(st.sampled_from(FLOATS))

    def arr(shape):
        return data.draw(hnp.arrays(dtype, shape, elements=_elements(dtype, finite=True)))
    x = arr((b, near(data, i)) if cell else (t, b, near(data, i)))
    h0 = arr((near(data, b), h))
    c0 = arr((b, h))
    w_ih, w_hh = arr((g * h, i)), arr((near(data, g * h), h))
    biases = (arr((g * h,)), arr((near(data, g * h),))) if data.draw(st.booleans()) else (None, None)
    return x, h0, c0, w_ih, w_hh, biases


def _torch_cell(kind, x, state, w_ih, w_hh, biases):
    b_ih, b_hh = (None, None) if biases[0] is None else (T(biases[0]), T(biases[1]))
    if kind == "lstm":
        return torch.lstm_cell(x, state, T(w_ih), T(w_hh), b_ih, b_hh)
    cell = {"rnn": torch.rnn_tanh_cell, "rnn:relu": torch.rnn_relu_cell, "gru": torch.gru_cell}[kind]
    return cell(x, state, T(w_ih), T(w_hh), b_ih, b_hh)


def _recurrent(kind):
    def make(data, case):
        x, h0, c0, w_ih, w_hh, biases = _recurrent_args(data, kind, cell=False)
        reverse = data.draw(st.booleans())
        bt = [None if b is None else case.t(b) for b in biases]
        if kind == "lstm":
            def call():
                return F.lstm(case.t(x), case.t(h0), case.t(c0), case.t(w_ih), case.t(w_hh), *bt, reverse=reverse)
        elif kind == "gru":
            def call():
                return F.gru(case.t(x), case.t(h0), case.t(w_ih), case.t(w_hh), *bt, reverse=reverse)
        else:
            def call():
                return F.rnn(case.t(x), case.t(h0), case.t(w_ih), case.t(w_hh), *bt,
                             nonlinearity="relu" if kind == "rnn:relu" else "tanh", reverse=reverse)

        def ref():
            state = (T(h0), T(c0)) if kind == "lstm" else T(h0)
            steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
            ys = [None] * x.shape[0]
            for s in steps:
                state = _torch_cell(kind, T(x[s]), state, w_ih, w_hh, biases)
                ys[s] = state[0] if kind == "lstm" else state
            if not ys:
                raise ValueError("empty sequence")
            y = torch.stack(ys)
            return (y,) + tuple(state) if kind == "lstm" else (y, state)
        return call, ref
    return make


def _cell(kind):
    def make(data, case):
        x, h0, c0, w_ih, w_hh, biases = _recurrent_args(data, kind, cell=True)
        bt = [None if b is None else case.t(b) for b in biases]
        if kind == "lstm":
            def call():
                return F.lstm_cell(case.t(x), case.t(h0), case.t(c0), case.t(w_ih), case.t(w_hh), *bt)
        elif kind == "gru":
            def call():
                return F.gru_cell(case.t(x), case.t(h0), case.t(w_ih), case.t(w_hh), *bt)
        else:
            def call():
                return F.rnn_cell(case.t(x), case.t(h0), case.t(w_ih), case.t(w_hh), *bt,
                                  nonlinearity="relu" if kind == "rnn:relu" else "tanh")

        def ref():
            return _torch_cell(kind, T(x), (T(h0), T(c0)) if kind == "lstm" else T(h0), w_ih, w_hh, biases)
        return call, ref
    return make


RECURRENT = {name: _recurrent(name) for name in GATES} | {
    name.replace("rnn", "rnn_cell") if name.startswith("rnn") else name + "_cell": _cell(name) for name in GATES}


@FAST
@given(name=st.sampled_from(sorted(RECURRENT)), data=st.data())
def test_recurrent(name, data):
    base = name.split(":")[0].replace("_cell", "")
    run_case("recurrent", name, RECURRENT[name], data, strict=False, tol=3e-2, aliases=(base,))


# ---------------------------------------------------------------------------- losses

REDUCTIONS = ["mean", "sum", "none"] * 3 + ["bogus"]


def _softmax_ce(data, case):
    logits = draw_array(data, FLOATS + [np.int64], shape=data.draw(st.one_of(shape_st(2, 3, 0, 4), shape_st())))
    c = logits.shape[-1] if logits.ndim else 1
    t_shape = data.draw(st.one_of(st.just(logits.shape[:-1]), shape_st()))
    targets = ids(data, [np.int64, np.int32, np.float32, np.bool_], t_shape, -1, c)
    ignore = data.draw(st.sampled_from([-100, 0, 1]))
    reduction = data.draw(st.sampled_from(REDUCTIONS))

    def ref():
        y = TF.cross_entropy(T(logits).reshape(-1, c), T(targets).reshape(-1).long(), ignore_index=ignore,
                             reduction=reduction)
        return y.reshape(targets.shape) if reduction == "none" else y
    return (lambda: F.softmax_cross_entropy(case.t(logits), targets, ignore, reduction)), ref


def _sigmoid_ce(data, case):
    logits = draw_array(data, FLOATS + [np.int64])
    targets = draw_array(data, FLOATS + [np.int64, np.bool_], finite=True,
                         shape=data.draw(st.one_of(st.just(logits.shape), shape_st())))
    reduction = data.draw(st.sampled_from(REDUCTIONS))

    def ref():  # the targets are data: the loss keeps the logits' float dtype (torch would promote)
        cast = logits.dtype if logits.dtype.kind == "f" else np.float32
        return TF.binary_cross_entropy_with_logits(T(logits), T(targets.astype(cast)), reduction=reduction)
    return (lambda: F.sigmoid_cross_entropy(case.t(logits), targets, reduction)), ref


def _mse(data, case):
    x = draw_array(data, FLOATS + [np.int64])
    t = draw_array(data, FLOATS + [np.int64], shape=data.draw(st.one_of(st.just(x.shape), bshapes(x.shape))))
    reduction = data.draw(st.sampled_from(REDUCTIONS))
    def ref():  # zeronlp keeps float32 against float64 (torch would promote): compare in our dtype
        cast = case.out.dtype
        assert cast in (x.dtype, t.dtype) or cast == np.float32, f"mse: {x.dtype}, {t.dtype} gave {cast}"
        return TF.mse_loss(T(x.astype(cast)), T(t.astype(cast)), reduction=reduction)
    return (lambda: F.mse(case.t(x), case.t(t), reduction)), ref


def _negative_sampling(data, case):
    n, d, v, k = (data.draw(st.integers(0, 3)) for _ in range(4))
    h = draw_array(data, FLOATS, shape=data.draw(st.one_of(st.just((n, d)), shape_st())))
    w = draw_array(data, FLOATS + [np.int64], shape=data.draw(st.one_of(st.just((v, near(data, d))), shape_st())))
    id_dtype = data.draw(st.sampled_from([np.int64, np.int32, np.float32]))
    targets = data.draw(hnp.arrays(id_dtype, (near(data, n),), elements=st.integers(-1, v)))
    negatives = data.draw(hnp.arrays(id_dtype, data.draw(st.one_of(st.just((n, k)), shape_st())),
                                     elements=st.integers(-1, v)))

    def ref():
        if h.dtype != w.dtype or n == 0:
            raise TypeError("no reference for mixed dtypes or an empty batch")
        pos = np.einsum("nd,nd->n", h, w[targets])
        neg = np.einsum("nd,nkd->nk", h, w[negatives])
        return np.asarray((np.logaddexp(0, -pos).sum() + np.logaddexp(0, neg).sum()) / n, h.dtype)
    return (lambda: F.negative_sampling_loss(case.t(h), case.t(w), targets, negatives)), ref


LOSSES = {"softmax_cross_entropy": _softmax_ce, "sigmoid_cross_entropy": _sigmoid_ce, "mse": _mse,
          "negative_sampling_loss": _negative_sampling}
LOSS_ALIASES = {"softmax_cross_entropy": ("cross_entropy",), "sigmoid_cross_entropy": ("cross_entropy",)}


@FAST
@given(name=st.sampled_from(sorted(LOSSES)), data=st.data())
def test_losses(name, data):
    run_case("losses", name, LOSSES[name], data, strict=False, tol=3e-2,
             aliases=LOSS_ALIASES.get(name, ()) + ("reduction",))


# ---------------------------------------------------------------------------- creation & helpers

CREATION_DTYPES = [None, np.float16, np.float32, np.float64, np.int64, np.bool_]


def _torch_dtype(dtype):
    return torch.float32 if dtype is None else TORCH_OF[np.dtype(dtype)]


def _sized(zn_fn, torch_fn):
    def make(data, case):
        shape = tuple(data.draw(st.lists(st.integers(-1, 3), max_size=3)))
        dtype = data.draw(st.sampled_from(CREATION_DTYPES))
        return (lambda: zn_fn(*shape, dtype=dtype)), (lambda: torch_fn(*shape, dtype=_torch_dtype(dtype)))
    return make


def _like(zn_fn, torch_fn):
    def make(data, case):
        x = draw_array(data)
        dtype = data.draw(st.sampled_from(CREATION_DTYPES))
        ref_dtype = TORCH_OF[x.dtype] if dtype is None else _torch_dtype(dtype)
        return (lambda: zn_fn(x, dtype=dtype)), (lambda: torch_fn(T(x), dtype=ref_dtype))
    return make


def _random(zn_fn, like):
    def make(data, case):
        x = draw_array(data, FLOATS)
        shape = x.shape if like else tuple(data.draw(st.lists(st.integers(-1, 3), max_size=3)))
        dtype = data.draw(st.sampled_from([None, np.float16, np.float32, np.float64]))

        def ref():  # values are random: check shape, dtype, and [0, 1) for rand
            out = case.out.data
            assert np.isfinite(out).all() and (zn_fn not in (F.rand, F.rand_like) or ((out >= 0) & (out < 1)).all())
            return ShapeOnly(shape, dtype or (x.dtype if like else np.float32))
        call = (lambda: zn_fn(x, dtype=dtype)) if like else (lambda: zn_fn(*shape, dtype=dtype))
        return call, ref
    return make


def _arange(data, case):
    start, end = data.draw(st.integers(-3, 5)), data.draw(st.one_of(st.none(), st.integers(-3, 5)))
    step = data.draw(st.sampled_from([1, 2, -1, 0.5, 0]))
    dtype = data.draw(st.sampled_from(CREATION_DTYPES))
    args = (start,) if end is None else (start, end)
    return (lambda: F.arange(*args, step=step, dtype=dtype)), (
        lambda: torch.arange(*((0, start) if end is None else args), step, dtype=dtype and _torch_dtype(dtype)))


def _eye(data, case):
    n, m = data.draw(st.integers(-1, 4)), data.draw(st.one_of(st.none(), st.integers(-1, 4)))
    dtype = data.draw(st.sampled_from(CREATION_DTYPES))
    return (lambda: F.eye(n, m, dtype=dtype)), (lambda: torch.eye(n, n if m is None else m, dtype=_torch_dtype(dtype)))


def _full(data, case):
    shape = tuple(data.draw(st.lists(st.integers(-1, 3), max_size=3)))
    value = data.draw(st.sampled_from([0.0, -1.5, np.inf, np.nan, 7]))
    dtype = data.draw(st.sampled_from([None, np.float16, np.float32, np.float64]))
    return (lambda: F.full(shape, value, dtype=dtype)), (lambda: torch.full(shape, value, dtype=_torch_dtype(dtype)))


def _full_like(data, case):
    x = draw_array(data)
    value = data.draw(st.sampled_from([0.0, -1.5, 7]))
    dtype = data.draw(st.sampled_from(CREATION_DTYPES))
    ref_dtype = TORCH_OF[x.dtype] if dtype is None else _torch_dtype(dtype)
    return (lambda: F.full_like(x, value, dtype=dtype)), (lambda: torch.full_like(T(x), value, dtype=ref_dtype))


def _as_ids(data, case):
    x = draw_array(data, FLOATS + INTS + [np.bool_, np.uint8])
    ndim = data.draw(st.one_of(st.none(), st.integers(0, 3)))

    def ref():
        if x.dtype.kind == "f" and not np.all(x == np.round(x)):
            raise TypeError("not ids")
        return x.astype(np.int64) if x.dtype.kind in "fb" else x
    return (lambda: F.as_ids(x, "ids", ndim)), ref


CREATION = {
    "zeros": _sized(F.zeros, torch.zeros), "ones": _sized(F.ones, torch.ones),
    "zeros_like": _like(F.zeros_like, torch.zeros_like), "ones_like": _like(F.ones_like, torch.ones_like),
    "rand": _random(F.rand, False), "randn": _random(F.randn, False),
    "rand_like": _random(F.rand_like, True), "randn_like": _random(F.randn_like, True),
    "arange": _arange, "eye": _eye, "full": _full, "full_like": _full_like, "as_ids": _as_ids,
}


@FAST
@given(name=st.sampled_from(sorted(CREATION)), data=st.data())
def test_creation_and_helpers(name, data):
    run_case("creation", name, CREATION[name], data, check_dtype=name not in ("as_ids",),
             aliases=("ids", name.split("_")[0]))


# ---------------------------------------------------------------------------- what the fuzzing found

def test_std_and_min_errors_name_the_op_called():
    with pytest.raises(TypeError, match="^std: needs a floating-point input"):
        F.std(np.ones(3, bool))
    with pytest.raises(ValueError, match="^min: axis 2 is out of range"):
        F.min(np.ones(3), axis=2)
    with pytest.raises(ValueError, match="^min: cannot reduce an empty axis"):
        F.min(np.ones(0), axis=0)


def test_var_with_too_few_elements_is_nan_as_in_torch():
    assert np.isnan(F.var(np.ones(1)).item()) and np.isnan(F.var(np.ones(0)).item())
    assert np.isnan(F.std(np.ones((2, 1)), axis=1).data).all()


def test_a_bad_index_is_a_usage_error_and_still_an_index_error():
    with pytest.raises(zn.UsageError, match="getitem: index") as info:
        F.getitem(np.ones(()), np.array([], dtype=bool))
    assert isinstance(info.value, IndexError)  # Python's indexing protocol keeps working
    with pytest.raises(zn.UsageError, match="getitem: index"):
        F.getitem(np.ones(3), 1.5)


def test_empty_feature_dimensions_forward_and_backward():
    x = zn.tensor(np.ones((0,), np.float32), requires_grad=True)
    w = zn.tensor(np.ones((2, 0), np.float32), requires_grad=True)
    y = F.linear(x, w)
    assert y.shape == (2,) and not y.data.any()
    y.sum().backward()
    assert x.grad.shape == (0,) and w.grad.shape == (2, 0)
    weight = zn.tensor(np.ones((3, 0)), requires_grad=True)
    F.embedding(np.array([[0, 2]]), weight).sum().backward()
    assert weight.grad.shape == (3, 0)
    h, out = zn.tensor(np.ones((2, 0)), requires_grad=True), zn.tensor(np.ones((3, 0)), requires_grad=True)
    F.negative_sampling_loss(h, out, np.array([0, 1]), np.array([[2], [2]])).backward()
    assert h.grad.shape == (2, 0) and out.grad.shape == (3, 0)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_with_an_empty_batch(kind):
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    x = zn.tensor(np.ones((2, 0, 3), np.float32), requires_grad=True)
    h0 = zn.tensor(np.ones((0, 2), np.float32), requires_grad=True)
    w_ih = zn.tensor(np.ones((gates * 2, 3), np.float32), requires_grad=True)
    w_hh = zn.tensor(np.ones((gates * 2, 2), np.float32), requires_grad=True)
    args = (x, h0, h0, w_ih, w_hh) if kind == "lstm" else (x, h0, w_ih, w_hh)
    y = getattr(F, kind)(*args)[0]
    assert y.shape == (2, 0, 2) and y.dtype == np.float32
    y.sum().backward()
    assert x.grad.shape == (2, 0, 3) and not w_ih.grad.any()


def test_recurrent_bias_of_the_wrong_size_names_the_op():
    x, h0 = np.ones((2, 1, 3)), np.ones((1, 2))
    with pytest.raises(ValueError, match=r"rnn: bias_hh of shape \(0,\) must be \(2,\)"):
        F.rnn(x, h0, np.ones((2, 3)), np.ones((2, 2)), np.ones(2), np.ones(0), nonlinearity="relu")
    with pytest.raises(ValueError, match="lstm: bias_ih"):
        F.lstm(x, h0, h0, np.ones((8, 3)), np.ones((8, 2)), np.ones(7), np.ones(8))


def test_cell_errors_name_the_cell():
    with pytest.raises(ValueError, match=r"^gru_cell: linear: input of shape \(2, 3\)"):
        F.gru_cell(np.ones((2, 3)), np.ones((2, 2)), np.ones((6, 4)), np.ones((6, 2)))
    with pytest.raises(ValueError, match="^rnn_cell: input"):
        F.rnn_cell(np.ones((2, 3)), np.ones((1, 2)), np.ones((2, 3)), np.ones((2, 2)))


def test_masks_with_bad_arguments_name_the_op():
    with pytest.raises(ValueError, match="causal_mask: lengths must be >= 0"):
        F.causal_mask(-1)
    with pytest.raises(ValueError, match="padding_mask: lengths must be 1-D"):
        F.padding_mask(np.array(3), 4)
    with pytest.raises(ValueError, match="padding_mask"):
        F.padding_mask(np.array([1, 2]), -1)


def test_embedding_padding_idx_is_checked_and_counts_from_the_end_like_torch():
    with pytest.raises(ValueError, match="embedding: padding_idx -3 is out of range for 2 rows"):
        F.embedding(np.array([0]), np.ones((2, 3)), padding_idx=-3)
    weight = zn.tensor(np.ones((3, 2)), requires_grad=True)
    F.embedding(np.array([0, 2, 2]), weight, padding_idx=-1).sum().backward()
    np.testing.assert_array_equal(weight.grad, [[1, 1], [0, 0], [0, 0]])


def test_max_over_time_of_integers_with_an_empty_row():
    y = F.max_over_time(np.arange(8).reshape(2, 1, 4), mask=np.array([[True, True, False, False], [False] * 4]))
    np.testing.assert_array_equal(y.data, [[1], [0]])


def test_attention_edge_cases():
    context, weights = F.scaled_dot_product_attention(np.ones((1, 0)), np.ones((2, 0)), np.ones((2, 3)))
    np.testing.assert_allclose(weights.data, [[0.5, 0.5]])  # no features: all scores 0, not 1/sqrt(0)
    q, k, v = np.ones((1, 2), np.float16), np.ones((2, 2), np.float32), np.ones((2, 2), np.float64)
    context, weights = F.attention(q, k, v)
    assert context.dtype == weights.dtype == np.float64


def test_minimum_of_booleans():
    np.testing.assert_array_equal(F.minimum(np.array([True, False, True]), np.array([True, True, False])).data,
                                  [True, False, False])
    assert F.minimum(np.array([True]), np.array([0.5], np.float32)).dtype == np.float32


def test_report_counts():
    """Run last (file order): the generated cases of the property tests in this session, per group."""
    if COUNTS:
        print("\nfuzz cases:", dict(sorted(COUNTS.items())))
