"""Regression tests for the defects fuzzing found (issue 15), and hypothesis property tests:
random shapes, dtypes and values give the NumPy/PyTorch result or a clear error naming the op."""

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F
from zeronlp.functional.conv import conv1d_output_length

# ---------------------------------------------------------------------------- the listed defects


@pytest.mark.parametrize("call", [
    lambda: F.sigmoid(np.array([1, 2, 3])),
    lambda: F.leaky_relu(np.array([-100, 5]), 0.5),
    lambda: F.mean(np.array([1, 2])),
    lambda: F.softmax(np.array([1, 2])),
    lambda: F.exp(np.array([1, 2])),
    lambda: F.tanh(np.array([True, False])),
])
def test_integer_input_to_a_float_op_is_a_type_error_naming_the_op(call):
    with pytest.raises(TypeError, match=r"^\w+: needs a floating-point input, got dtype"):
        call()


def test_mixed_int_and_float32_stay_float32():
    x = np.array([1.5, 2.5], np.float32)
    i = np.array([1, 2])
    for op in (F.add, F.sub, F.mul, F.div, F.maximum):
        assert op(x, i).dtype == np.float32 and op(i, x).dtype == np.float32
    assert F.where(np.array([True, False]), x, i).dtype == np.float32
    assert F.concat([x, i]).dtype == np.float32 and F.stack([x, i]).dtype == np.float32
    loss = F.mse(i, x)
    assert loss.dtype == np.float32 and loss.item() == pytest.approx(0.25)
    q = np.ones((1, 2, 3), np.float32)
    assert F.attention(q, q, np.ones((1, 2, 3), np.int64))[0].dtype == np.float32
    assert F.div(np.array([1, 2]), np.array([2, 4])).dtype == np.float32  # true division, as PyTorch


def test_relu_of_minus_inf_is_zero_and_of_nan_is_nan():
    y = F.relu(np.array([-np.inf, np.inf, np.nan, -1.0, 2.0]))
    np.testing.assert_array_equal(y.data, [0, np.inf, np.nan, 0, 2])


def test_float16_reductions_accumulate_in_float32():
    assert F.mean(np.ones(70000, np.float16)).item() == 1.0
    assert F.sum(np.ones(70000, np.float16)).dtype == np.float16
    y = F.softmax(np.zeros(70000, np.float16))
    assert y.dtype == np.float16 and float(y.data.astype(np.float32).sum()) == pytest.approx(1.0, rel=1e-2)
    assert F.dropout(np.ones(10, np.float16), 0.5).dtype == np.float16
    assert F.cumsum(np.ones(70000, np.float16), 0).dtype == np.float16


def test_sum_to_refuses_a_shape_that_does_not_broadcast_back():
    with pytest.raises(ValueError, match=r"sum_to: shape \(2, 3\) cannot be summed to \(3, 2\)"):
        F.sum_to(np.ones((2, 3)), (3, 2))


def test_linear_checks_the_weight_and_handles_empty_batches():
    with pytest.raises(ValueError, match="linear: weight must be"):
        F.linear(np.ones((4, 3)), np.ones((5, 3, 3)))
    x = zn.tensor(np.ones((0, 3)), requires_grad=True)
    w = zn.tensor(np.ones((5, 3)), requires_grad=True)
    F.linear(x, w).sum().backward()
    assert x.grad.shape == (0, 3) and not w.grad.any()


def test_layer_norm_of_huge_float32_values():
    x = np.array([[1e20, 2e20, 3e20]], np.float32)
    y = F.layer_norm(x, np.ones(3, np.float32), np.zeros(3, np.float32))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, [[-1.2247, 0, 1.2247]], atol=1e-3)


def test_attention_with_minus_inf_query_is_nan_and_fully_masked_rows_are_zero():
    q = np.array([[-np.inf, 0.0]])
    k = np.ones((2, 2))
    context, weights = F.attention(q, k, np.ones((2, 2)))
    assert np.isnan(weights.data).all()
    context, weights = F.attention(np.ones((1, 2)), k, np.ones((2, 2)), mask=np.array([[False, False]]))
    assert not weights.data.any() and not context.data.any()


def test_backward_that_used_to_crash():
    a = zn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = zn.tensor(np.array([3.0, 4.0]), requires_grad=True)
    (a @ b).backward()
    np.testing.assert_array_equal(a.grad, [3, 4])
    with pytest.raises(ValueError, match="max_over_time"):
        F.max_over_time(np.ones((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="embedding: weight must be"):
        F.embedding(np.array([0]), np.ones(4))


@pytest.mark.parametrize("call, pattern", [
    (lambda: F.sum(np.ones((2, 3)), axis=2), "sum: axis 2 is out of range"),
    (lambda: F.mean(np.ones((2, 3)), axis=-3), "mean: axis -3 is out of range"),
    (lambda: F.softmax(np.ones((2, 3)), axis=5), "softmax: axis 5"),
    (lambda: F.concat([np.ones((2, 3)), np.ones((2, 3))], axis=2), "concat: axis 2"),
    (lambda: F.concat([np.ones(2), np.ones((2, 3))]), "concat: tensors need the same number"),
    (lambda: F.stack([np.ones(2)], axis=3), "stack: axis 3"),
    (lambda: F.max(np.ones((2, 0)), axis=1), "max: cannot reduce an empty axis"),
    (lambda: F.attention(np.ones((1, 2)), np.ones((0, 2)), np.ones((0, 2))), "attention: keys"),
    (lambda: F.softmax_cross_entropy(np.array(1.0), np.array(0)), "softmax_cross_entropy: logits of shape"),
    (lambda: F.negative_sampling_loss(np.ones((1, 2)), np.ones((3, 2)), np.array([5]), np.array([[0]])),
     "negative_sampling_loss: id 5 is out of range"),
    (lambda: zn.nn.LSTM(2, 3)(np.ones((1, 0, 2), np.float32)), "lstm: input must be"),
    (lambda: conv1d_output_length(5, 3, 0), "stride must be >= 1"),
    (lambda: F.transpose(np.ones((2, 3)), (0, 0)), "transpose"),
    (lambda: F.split(np.ones(5), 2), "split: cannot split"),
])
def test_clear_errors_name_the_op(call, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        call()
    assert not isinstance(info.value, IndexError) or "out of range" in str(info.value)


def test_softmax_over_an_empty_axis_is_empty_like_torch():
    assert F.softmax(np.ones((2, 0))).shape == (2, 0)


def test_lists_passed_to_attention_work():
    context, weights = F.scaled_dot_product_attention([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]], [[1.0], [2.0]])
    assert context.shape == (1, 1) and weights.shape == (1, 2)


def test_nn_linear_with_a_float_size_is_a_type_error():
    with pytest.raises(TypeError, match="Linear: in_features must be an int"):
        zn.nn.Linear(3.5, 2)


def test_recurrent_functions_are_exported():
    assert callable(F.lstm) and callable(F.gru) and callable(F.rnn)


# ---------------------------------------------------------------------------- property tests

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

torch = pytest.importorskip("torch")

DTYPES = [np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_]
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


@st.composite
def arrays(draw, dtype_choices=DTYPES, shape=None):
    dtype = draw(st.sampled_from(dtype_choices))
    shape = draw(shapes) if shape is None else shape
    if np.dtype(dtype).kind == "f":
        elements = st.floats(allow_nan=True, allow_infinity=True, width=np.finfo(dtype).bits,
                             min_value=None, max_value=None)
    elif dtype == np.bool_:
        elements = st.booleans()
    else:
        elements = st.integers(-100, 100)
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _clear(err: Exception, op: str) -> bool:
    """A clear error: a ValueError/TypeError (not a bare IndexError/AxisError) whose message names the op."""
    if isinstance(err, (IndexError, KeyError, AttributeError, ZeroDivisionError)) and not isinstance(
            err, zn.UsageError):
        return False
    return isinstance(err, (ValueError, TypeError)) and op.split(".")[-1].split("_")[0] in str(err).lower()


UNARY_OPS = {
    "sigmoid": (F.sigmoid, torch.sigmoid), "tanh": (F.tanh, torch.tanh), "relu": (F.relu, torch.relu),
    "exp": (F.exp, torch.exp), "sqrt": (F.sqrt, torch.sqrt), "abs": (F.abs, torch.abs),
    "sin": (F.sin, torch.sin), "softplus": (F.softplus, torch.nn.functional.softplus),
    "softmax": (lambda x: F.softmax(x, -1), lambda x: torch.softmax(x, -1)),
    "log_softmax": (lambda x: F.log_softmax(x, -1), lambda x: torch.log_softmax(x, -1)),
    "sum": (lambda x: F.sum(x, axis=-1), lambda x: x.sum(-1)),
    "mean": (lambda x: F.mean(x, axis=0), lambda x: x.mean(0)),
    "logsumexp": (lambda x: F.logsumexp(x, axis=-1), lambda x: torch.logsumexp(x, -1)),
    "cumsum": (lambda x: F.cumsum(x, -1), lambda x: torch.cumsum(x, -1)),
    "flatten": (F.flatten, torch.flatten),
}
COUNTS = {"unary": 0, "binary": 0, "errors": 0, "compared": 0}


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(UNARY_OPS)), x=arrays())
def test_unary_ops_match_torch_or_raise_clearly(name, x):
    zn_fn, torch_fn = UNARY_OPS[name]
    COUNTS["unary"] += 1
    try:
        with np.errstate(all="ignore"):
            y = zn_fn(x)
    except Exception as err:  # noqa: BLE001 - what kind of error is the point of the test
        COUNTS["errors"] += 1
        assert _clear(err, name), f"{name}{x.shape} {x.dtype}: unclear {type(err).__name__}: {err}"
        return
    if x.dtype.kind == "f":
        assert y.dtype == x.dtype, f"{name}: {x.dtype} in, {y.dtype} out"
    try:
        expected = torch_fn(torch.from_numpy(x.copy()))
    except Exception:  # noqa: BLE001 - torch refuses (e.g. an op on bool): our answer is not compared
        return
    COUNTS["compared"] += 1
    tol = 1e-2 if x.dtype == np.float16 else 1e-5
    assert y.shape == tuple(expected.shape)
    np.testing.assert_allclose(y.data.astype(np.float64), expected.numpy().astype(np.float64),
                               rtol=tol, atol=tol, equal_nan=True)


BINARY_OPS = {
    "add": (F.add, torch.add), "sub": (F.sub, torch.sub), "mul": (F.mul, torch.mul),
    "div": (F.div, torch.div), "maximum": (F.maximum, torch.maximum), "matmul": (F.matmul, torch.matmul),
}


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(BINARY_OPS)), a=arrays([np.float32, np.float64, np.int64]),
       b=arrays([np.float32, np.float64, np.int64]))
def test_binary_ops_match_torch_or_raise_clearly(name, a, b):
    zn_fn, torch_fn = BINARY_OPS[name]
    COUNTS["binary"] += 1
    try:
        with np.errstate(all="ignore"):
            y = zn_fn(a, b)
    except Exception as err:  # noqa: BLE001
        COUNTS["errors"] += 1
        assert _clear(err, name), f"{name}{a.shape}{b.shape}: unclear {type(err).__name__}: {err}"
        return
    try:
        expected = torch_fn(torch.from_numpy(a.copy()), torch.from_numpy(b.copy()))
    except Exception:  # noqa: BLE001
        return
    COUNTS["compared"] += 1
    if name == "matmul" and a.dtype != b.dtype:
        return  # torch refuses mixed-dtype matmul except on empty tensors, where it picks either dtype
    if name != "div" or a.dtype.kind == "f" or b.dtype.kind == "f":
        assert y.dtype == np.dtype(str(expected.dtype).replace("torch.", "")), (name, a.dtype, b.dtype, y.dtype)
    assert y.shape == tuple(expected.shape)
    if name == "matmul" and a.dtype.kind == "f" and not (np.isfinite(a).all() and np.isfinite(b).all()):
        return  # BLAS and torch order inf/nan sums differently
    np.testing.assert_allclose(y.data.astype(np.float64), expected.numpy().astype(np.float64),
                               rtol=1e-5, atol=1e-5, equal_nan=True)
