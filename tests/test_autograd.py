import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F


def test_branching_graph_accumulates():
    x = zn.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = x * x + x
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 1)


def test_diamond_graph_visits_each_function_once():
    x = zn.tensor(np.array(2.0), requires_grad=True)
    a = x * 3
    b = a * a  # uses a twice
    c = a + b
    c.backward()
    # c = 3x + 9x^2 -> dc/dx = 3 + 18x
    assert float(x.grad) == pytest.approx(3 + 18 * 2.0)


def test_generation_order_deep_chain():
    x = zn.tensor(np.array(0.5), requires_grad=True)
    y = x
    for _ in range(50):
        y = y * 1.01 + x * 0.0
    y.backward()
    assert float(x.grad) == pytest.approx(1.01**50, rel=1e-5)


def test_no_grad_builds_no_graph():
    x = zn.tensor(np.ones(3), requires_grad=True)
    with zn.no_grad():
        y = x * 2 + 1
    assert y.creator is None and not y.requires_grad
    with pytest.raises(RuntimeError):
        y.sum().backward()


def test_retain_grad_and_intermediate_grads_freed():
    x = zn.tensor(np.ones(3), requires_grad=True)
    h = x * 2
    h.retain_grad()
    k = h * 3
    (k * 1).sum().backward()
    np.testing.assert_allclose(h.grad, 3 * np.ones(3))
    assert k.grad is None


def test_gradients_accumulate_across_backward_calls():
    x = zn.tensor(np.ones(2), requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [5, 5])


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        zn.tensor(np.arange(3), requires_grad=True)


def test_floats_default_to_float32_and_operators_keep_it():
    x = zn.tensor([1.0, 2.0], requires_grad=True)
    assert x.dtype == np.float32
    y = (2 * x + 1.5) / 3 - x**2
    assert y.dtype == np.float32
    zn.set_default_dtype(np.float64)
    try:
        assert zn.tensor([1.0]).dtype == np.float64
    finally:
        zn.set_default_dtype(np.float32)


def test_tensor_methods():
    x = zn.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x.T.reshape(3, 2).transpose(1, 0)
    assert y.shape == (2, 3)
    (x.mean(axis=0) * x.sum(axis=1, keepdims=True)).sum().backward()
    assert x.grad.shape == (2, 3)
    assert x.max().item() == 5.0
    assert (-x).data[0, 1] == -1.0
    assert (zn.tensor(np.ones(2)) @ np.ones(2)).item() == 2.0


def test_matmul_and_linear_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        F.matmul(np.ones((3, 4)), np.ones((5, 2)))
    layer = zn.nn.Linear(4, 2)
    with pytest.raises(ValueError, match=r"\(3, 5\).*\(2, 4\)"):
        layer(np.ones((3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        F.add(np.ones((2, 3)), np.ones(4))


def test_cross_entropy_target_out_of_range_is_named():
    with pytest.raises(ValueError, match="target 7 is out of range for 5 classes"):
        F.softmax_cross_entropy(np.zeros((2, 5)), np.array([1, 7]))
    with pytest.raises(ValueError, match="targets of shape"):
        F.softmax_cross_entropy(np.zeros((2, 5)), np.array([1, 2, 3]))


def test_cross_entropy_ignore_index_all_ignored_is_nan_with_zero_grad():
    # as PyTorch: the mean over no targets is nan, and no logit gets a gradient
    x = zn.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    loss = F.softmax_cross_entropy(x, np.array([-100, -100, -100]))
    loss.backward()
    assert np.isnan(loss.item()) and not x.grad.any()


def test_to_dot_lists_functions_and_edges():
    x = zn.tensor(np.ones(2), requires_grad=True)
    x.name = "x"
    y = (x * x + x).sum()
    dot = zn.viz.graph(y)
    assert dot.startswith("digraph g {")
    for label in ("Mul", "Add", "Sum", 'label="x"'):
        assert label in dot
    assert dot.count("->") == 8  # x->Mul twice, Mul->t, t->Add, x->Add, Add->u, u->Sum, Sum->y


def test_backward_needs_scalar_or_gradient():
    x = zn.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    (x * 2).backward(np.ones(3))
    np.testing.assert_allclose(x.grad, 2)


def test_to_dot_is_built_at_the_autograd_layer(tmp_path):
    x = zn.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    x.name = "x"
    y = x.sum()
    assert zn.viz.graph_to_dot is zn.autograd.graph_to_dot
    path = tmp_path / "g.dot"
    assert y.to_dot() == zn.viz.graph(y, str(path)) == path.read_text(encoding="utf-8")
    assert 'label="x: (2, 3) float32"' in y.to_dot(verbose=True)


def test_operators_are_attached_by_functional():
    from zeronlp.functional import operators

    for name, method in operators.TENSOR_METHODS.items():
        assert zn.Tensor.__dict__[name] is method, name
    operators.attach_tensor_methods()  # idempotent
    w = zn.nn.Parameter(np.ones((2, 2), dtype=np.float32))  # subclasses get them too
    out = (2 - w.T @ w / 4) ** 2
    assert isinstance(out, zn.Tensor) and out.view(4).shape == (4,) and out.reshape((1, 4)).shape == (1, 4)
    assert w.astype(np.float64).dtype == np.float64 and w.transpose(1, 0).shape == (2, 2)
