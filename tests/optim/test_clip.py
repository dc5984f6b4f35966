"""clip_grad_norm_: the global norm over all gradients, a list of tensors or one tensor."""

import numpy as np

import zeronlp as zn


def _param(grad):
    p = zn.nn.Parameter(np.ones(np.shape(grad), np.float32))
    p.grad = np.asarray(grad, np.float32)
    return p


def test_global_norm_over_all_gradients_scales_each():
    a, b = _param([3.0, 0.0]), _param([[0.0], [4.0]])
    assert abs(zn.optim.clip_grad_norm_([a, b], 1.0) - 5.0) < 1e-6
    np.testing.assert_allclose(a.grad, [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(b.grad, [[0.0], [0.8]], rtol=1e-5)


def test_below_the_limit_nothing_changes_and_missing_grads_are_skipped():
    a, none = _param([0.3, 0.4]), zn.nn.Parameter(np.ones(2, np.float32))
    assert abs(zn.optim.clip_grad_norm_([a, none], 1.0) - 0.5) < 1e-6
    np.testing.assert_array_equal(a.grad, np.float32([0.3, 0.4]))
    assert none.grad is None


def test_one_tensor_is_clipped_as_a_whole_like_pytorch():
    p = _param(np.full((3, 2), 10.0))
    norm = zn.optim.clip_grad_norm_(p, 1.0)  # not iterated row by row (rows have no .grad)
    assert abs(norm - np.sqrt(600.0)) < 1e-4
    assert abs(np.linalg.norm(p.grad) - 1.0) < 1e-5
