import numpy as np
import pytest

import zeronlp as zn
from zeronlp import functional as F
from zeronlp.functional.conv import col2im_1d, im2col_1d


@pytest.mark.parametrize("stride,padding,bias", [(1, 0, True), (2, 1, True), (1, 2, False), (3, 0, True)])
def test_conv1d_gradcheck(stride, padding, bias):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7))
    w = rng.standard_normal((4, 3, 3))
    b = rng.standard_normal(4)
    if bias:
        assert zn.gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride, padding), [x, w, b])
    else:
        assert zn.gradcheck(lambda x, w: F.conv1d(x, w, None, stride, padding), [x, w])


@pytest.mark.parametrize("length,kernel,stride,padding", [(10, 3, 1, 0), (10, 4, 2, 1), (5, 5, 1, 0), (7, 2, 3, 2)])
def test_output_length_formula(length, kernel, stride, padding):
    conv = zn.nn.Conv1d(2, 3, kernel, stride=stride, padding=padding)
    y = conv(np.zeros((1, 2, length), dtype=np.float32))
    assert y.shape == (1, 3, (length + 2 * padding - kernel) // stride + 1)
    assert conv.output_length(length) == y.shape[2]
    assert y.dtype == np.float32


def test_col2im_is_adjoint_of_im2col():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9))
    col = im2col_1d(x, 4, 2, 1)
    g = rng.standard_normal(col.shape)
    # <im2col(x), g> == <x, col2im(g)>
    assert np.isclose((col * g).sum(), (x * col2im_1d(g, x.shape, 4, 2, 1)).sum())


def test_conv1d_errors():
    conv = zn.nn.Conv1d(3, 2, 5)
    with pytest.raises(ValueError, match="shorter than the kernel"):
        conv(np.zeros((1, 3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="does not match weight"):
        conv(np.zeros((1, 2, 8), dtype=np.float32))
    with pytest.raises(ValueError):
        zn.nn.Conv1d(3, 2, 0)


def test_max_over_time_mask_and_gradcheck():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 6))
    mask = np.ones((3, 6), dtype=bool)
    mask[0, 2:] = False
    mask[2, :] = False  # no valid position: output 0, no gradient
    y = F.max_over_time(x, mask).data
    np.testing.assert_allclose(y[0], x[0, :, :2].max(axis=1))
    np.testing.assert_allclose(y[1], x[1].max(axis=1))
    np.testing.assert_array_equal(y[2], 0)
    assert zn.gradcheck(lambda x: F.max_over_time(x, mask), [x])
    assert zn.gradcheck(lambda x: F.max_over_time(x), [x])


def test_conv1d_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for stride, padding in [(1, 0), (2, 1), (1, 2)]:
        conv = zn.nn.Conv1d(5, 6, 3, stride=stride, padding=padding)
        ref = torch.nn.Conv1d(5, 6, 3, stride=stride, padding=padding)
        with torch.no_grad():
            ref.weight.copy_(torch.from_numpy(conv.weight.numpy()))
            ref.bias.copy_(torch.from_numpy(conv.bias.numpy()))
        x = rng.standard_normal((4, 5, 11)).astype(np.float32)
        g = rng.standard_normal((4, 6, conv.output_length(11))).astype(np.float32)
        xt = torch.from_numpy(x).requires_grad_()
        yt = ref(xt)
        yt.backward(torch.from_numpy(g))
        xz = zn.tensor(x, requires_grad=True)
        y = conv(xz)
        y.backward(g)
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(xz.grad, xt.grad.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(conv.weight.grad, ref.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(conv.bias.grad, ref.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_integer_input_meets_the_float_weights_as_their_dtype():
    layer = zn.nn.Conv1d(3, 2, 2)
    ids = np.arange(12).reshape(1, 3, 4)
    y = layer(ids)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, layer(ids.astype(np.float32)).data, rtol=1e-6)


def test_clip_of_integers_to_float_bounds_is_float_like_torch():
    x = zn.tensor(np.array([1, 2, 3]))
    assert F.clip(x, 0.5, 2.5).dtype == np.float32
    np.testing.assert_array_equal(F.clip(x, 0.5, 2.5).data, np.float32([1, 2, 2.5]))
    assert F.clip(x, 1, 2).dtype == x.dtype  # integer bounds keep the integers
