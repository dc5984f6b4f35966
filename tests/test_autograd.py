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


# ---------------------------------------------------------------------------- gradients as .grad: copy or not


class _KeepsItsGradient(zn.Function):
    """Returns the same array for both inputs and keeps it: a leaf's .grad must be a copy."""

    def forward(self, a, b):
        return a + b

    kept: list = []  # on the class: release() clears the instance after backward

    def backward(self, gy):
        self.kept.append(gy * 2)
        return self.kept[-1], self.kept[-1]


def test_a_leafs_first_gradient_is_copied_unless_the_function_says_it_is_fresh():
    a, b = zn.Tensor(np.ones(3), requires_grad=True), zn.Tensor(np.ones(3), requires_grad=True)
    _KeepsItsGradient()(a, b).backward(np.ones(3))
    kept = _KeepsItsGradient.kept[-1]
    assert a.grad is not kept and b.grad is not kept and a.grad is not b.grad
    a.grad *= 10  # an optimizer scaling in place touches one leaf only
    np.testing.assert_array_equal(b.grad, [2, 2, 2])
    np.testing.assert_array_equal(kept, [2, 2, 2])


@pytest.mark.parametrize("layer", ["linear", "embedding", "lstm", "linear_cross_entropy"])
def test_fresh_gradients_of_the_large_layers_become_grad_without_a_copy(layer, monkeypatch):
    """The layers that mark their gradients fresh hand over the very arrays backward returned (no copy of
    a 26 MB weight gradient), with the values of the copying path."""
    import importlib

    module_name, class_name = {"linear": ("layers", "LinearFunction"), "embedding": ("embedding", "EmbeddingFunction"),
                               "lstm": ("recurrent", "LSTMFunction"),
                               "linear_cross_entropy": ("fused", "LinearCrossEntropy")}[layer]
    cls = getattr(importlib.import_module(f"zeronlp.functional.{module_name}"), class_name)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 8)).astype(np.float32)
    ids = rng.integers(0, 10, size=(4, 3))
    returned = []
    real = cls.backward

    def spy(self, *grads):
        out = real(self, *grads)
        returned.extend(g for g in (out if isinstance(out, tuple) else (out,)) if g is not None)
        return out

    monkeypatch.setattr(cls, "backward", spy)

    def grads():
        zn.manual_seed(0)
        returned.clear()
        if layer == "embedding":
            module = zn.nn.Embedding(10, 8)
            loss = (module(ids) ** 2).sum()
        elif layer == "lstm":
            module = zn.nn.LSTM(8, 5)
            loss = (module(x)[0] ** 2).sum()
        else:
            module = zn.nn.Linear(8, 10)
            loss = ((module(x) ** 2).sum() if layer == "linear"
                    else F.linear_cross_entropy(zn.Tensor(x), module.weight, module.bias, ids))
        loss.backward()
        return [p.grad for p in module.parameters()]

    fresh = grads()
    assert fresh and all(any(g is r for r in returned) for g in fresh)
    monkeypatch.setattr(cls, "fresh_grads", False)
    copied = grads()
    assert not any(g is r for g in copied for r in returned)
    for a, b in zip(fresh, copied):
        np.testing.assert_array_equal(a, b)


def test_second_backward_through_a_freed_graph_says_retain_graph():
    x = zn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    h = F.tanh(x)  # two losses over one subgraph: the first backward frees the shared part
    first, second = h.sum(), (3 * h).sum()
    first.backward()
    with pytest.raises(RuntimeError, match="TanhFunction was freed.*retain_graph=True"):
        second.backward()
    x.grad = None
    h = F.tanh(x)
    first, second = h.sum(), (3 * h).sum()
    first.backward(retain_graph=True)
    second.backward()
    np.testing.assert_allclose(x.grad, 4 * (1 - np.tanh([1.0, 2.0]) ** 2))


def test_numpy_functions_refuse_a_tensor_that_requires_grad_instead_of_dropping_the_graph():
    x = zn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match="requires grad.*F.exp"):
        np.exp(x)
    with pytest.raises(TypeError, match="requires grad"):
        np.asarray(x)
    assert isinstance(np.ones(2) * x, zn.Tensor)  # arithmetic with arrays stays on the graph
    with zn.no_grad():
        np.testing.assert_allclose(np.exp(x), np.exp([1.0, 2.0]))
    np.testing.assert_allclose(np.exp(x.detach()), np.exp([1.0, 2.0]))
    np.testing.assert_allclose(np.asarray(zn.tensor(np.ones(2))), 1.0)  # no grad: an array as before
