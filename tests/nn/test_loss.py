"""nn.CrossEntropyLoss, nn.MSELoss and nn.BCEWithLogitsLoss against torch.nn (forward and backward)."""

import numpy as np
import pytest

import zeronlp as zn

torch = pytest.importorskip("torch")
rng = np.random.default_rng(7)


def both(zn_loss, torch_loss, x, target, torch_target=None):
    zx = zn.tensor(x.astype(np.float32), requires_grad=True)
    tx = torch.tensor(x.astype(np.float32), requires_grad=True)
    zy = zn_loss(zx, target)
    ty = torch_loss(tx, torch.tensor(target) if torch_target is None else torch_target)
    np.testing.assert_allclose(zy.data, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    upstream = rng.standard_normal(zy.shape).astype(np.float32)
    zy.backward(upstream)
    ty.backward(torch.tensor(upstream))
    np.testing.assert_allclose(zx.grad, tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert zy.dtype == np.float32


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 5, 3), (2, 5, 3, 2)], ids=str)
def test_cross_entropy_loss_classes_on_dim_1(shape, reduction):
    x = rng.standard_normal(shape)
    t = rng.integers(0, 5, size=shape[:1] + shape[2:] if len(shape) > 1 else ())
    if t.ndim:
        t.reshape(-1)[0] = -100
    both(zn.nn.CrossEntropyLoss(reduction=reduction), torch.nn.CrossEntropyLoss(reduction=reduction), x, t)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_loss_label_smoothing_and_probabilities(reduction):
    x, t = rng.standard_normal((4, 5)), np.array([0, 3, -100, 1])
    both(zn.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1), x, t)
    p = rng.dirichlet(np.ones(5), size=4).astype(np.float32)
    both(zn.nn.CrossEntropyLoss(reduction=reduction), torch.nn.CrossEntropyLoss(reduction=reduction), x, p)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    t = rng.standard_normal((3, 4)).astype(np.float32)
    both(zn.nn.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), rng.standard_normal((3, 4)), t)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_loss(reduction):
    x, t = rng.standard_normal((3, 4)) * 3, (rng.standard_normal((3, 4)) > 0).astype(np.float32)
    both(zn.nn.BCEWithLogitsLoss(reduction), torch.nn.BCEWithLogitsLoss(reduction=reduction), x, t)
    pw = np.array([1.0, 2.0, 0.5, 3.0], np.float32)
    both(zn.nn.BCEWithLogitsLoss(reduction, pos_weight=pw),
         torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.tensor(pw)), x, t)


def test_bad_reduction_names_the_loss():
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction"):
        zn.nn.CrossEntropyLoss(reduction="avg")


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_loss_every_target_ignored_gives_nan_and_zero_gradient(label_smoothing):
    """An all-padding batch: the mean over no targets is nan (as in torch), the gradient zero, so one
    such batch cannot poison the parameters with nan."""
    x = zn.tensor(rng.standard_normal((3, 5)).astype(np.float32), requires_grad=True)
    loss = zn.nn.CrossEntropyLoss(label_smoothing=label_smoothing)(x, np.full(3, -100))
    tx = torch.tensor(x.data, requires_grad=True)
    expected = torch.nn.CrossEntropyLoss(label_smoothing=label_smoothing)(tx, torch.full((3,), -100))
    expected.backward()
    assert np.isnan(float(loss.data)) and torch.isnan(expected)
    loss.backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    np.testing.assert_array_equal(x.grad, 0)
