"""Attention: gradient checks, the book's two-layer attention as reference, masks, PyTorch parity."""

from __future__ import annotations

import math

import numpy as np
import pytest

import zeronlp as zn
from zeronlp import functional as F


def _rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def _both(context, weights):
    """One tensor holding both outputs, so a gradcheck covers the weights' gradient path too."""
    return F.concat([context.reshape(-1), weights.reshape(-1)])


# ---------------------------------------------------------------- gradient checks


@pytest.mark.parametrize("scale", [None, 0.5])
@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 5, 4), (2, 5, 3)), ((2, 2, 1, 3), (2, 2, 4, 3), (2, 2, 4, 2))])
def test_gradcheck_attention(shapes, scale):
    rng = np.random.default_rng(0)
    q, k, v = (_rand(rng, *s) for s in shapes)
    zn.gradcheck(lambda q, k, v: _both(*F.attention(q, k, v, scale=scale)), [q, k, v])


def test_gradcheck_context_only_and_broadcast_keys():
    rng = np.random.default_rng(1)
    q, k, v = _rand(rng, 3, 2, 4), _rand(rng, 1, 5, 4), _rand(rng, 5, 2)
    zn.gradcheck(lambda q, k, v: F.attention(q, k, v)[0], [q, k, v])


def test_gradcheck_with_mask_and_scaled():
    rng = np.random.default_rng(2)
    q, k, v = _rand(rng, 2, 3, 4), _rand(rng, 2, 6, 4), _rand(rng, 2, 6, 3)
    mask = rng.random((2, 3, 6)) > 0.4
    mask[:, :, 0] = True
    zn.gradcheck(lambda q, k, v: _both(*F.scaled_dot_product_attention(q, k, v, mask=mask)), [q, k, v])


# ---------------------------------------------------------------- the book's layers as reference


class BookAttentionWeight:
    """DLfS 2 ``AttentionWeight``: a = softmax(sum_h hs * h) over the encoder steps."""

    def forward(self, hs, h):
        self.hs, self.h = hs, h
        s = (hs * h[:, None, :]).sum(axis=2)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        self.a = e / e.sum(axis=1, keepdims=True)
        return self.a

    def backward(self, da):
        hs, h, a = self.hs, self.h, self.a
        ds = a * da - a * (a * da).sum(axis=1, keepdims=True)
        dt = ds[:, :, None]
        dhs = dt * h[:, None, :]
        dh = (dt * hs).sum(axis=1)
        return dhs, dh


class BookWeightSum:
    """DLfS 2 ``WeightSum``: c = sum_t a_t hs_t."""

    def forward(self, hs, a):
        self.hs, self.a = hs, a
        return (hs * a[:, :, None]).sum(axis=1)

    def backward(self, dc):
        hs, a = self.hs, self.a
        dt = dc[:, None, :]
        dhs = dt * a[:, :, None]
        da = (dt * hs).sum(axis=2)
        return dhs, da


class BookTimeAttention:
    """DLfS 2 ``TimeAttention``: one Attention layer per decoder step."""

    def forward(self, hs_enc, hs_dec):
        self.layers = []
        cs, ws = [], []
        for t in range(hs_dec.shape[1]):
            weight, weighted_sum = BookAttentionWeight(), BookWeightSum()
            a = weight.forward(hs_enc, hs_dec[:, t])
            cs.append(weighted_sum.forward(hs_enc, a))
            ws.append(a)
            self.layers.append((weight, weighted_sum))
        return np.stack(cs, axis=1), np.stack(ws, axis=1)

    def backward(self, dout):
        dhs_enc = 0
        dhs_dec = np.empty_like(dout)
        for t, (weight, weighted_sum) in enumerate(self.layers):
            dhs0, da = weighted_sum.backward(dout[:, t])
            dhs1, dh = weight.backward(da)
            dhs_enc = dhs_enc + dhs0 + dhs1
            dhs_dec[:, t] = dh
        return dhs_enc, dhs_dec


def test_matches_book_time_attention():
    rng = np.random.default_rng(3)
    hs_enc = rng.standard_normal((4, 7, 5)).astype(np.float32)
    hs_dec = rng.standard_normal((4, 3, 5)).astype(np.float32)
    dout = rng.standard_normal((4, 3, 5)).astype(np.float32)
    book = BookTimeAttention()
    c_ref, a_ref = book.forward(hs_enc, hs_dec)
    denc_ref, ddec_ref = book.backward(dout)

    enc, dec = zn.tensor(hs_enc, requires_grad=True), zn.tensor(hs_dec, requires_grad=True)
    context, weights = F.attention(dec, enc, enc)
    assert context.dtype == np.float32 and weights.dtype == np.float32
    np.testing.assert_allclose(context.data, c_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(weights.data, a_ref, rtol=1e-5, atol=1e-6)
    context.backward(dout)
    np.testing.assert_allclose(enc.grad, denc_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dec.grad, ddec_ref, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- masks


def test_masked_keys_get_zero_weight_and_equal_the_unpadded_result():
    rng = np.random.default_rng(4)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 4), (2, 6, 4), (2, 6, 5)))
    lengths = np.array([4, 6])
    mask = F.padding_mask(lengths, 6)
    assert mask.shape == (2, 1, 6)
    # padding with huge values must not leak into the result
    k[0, 4:] = 1e4
    v[0, 4:] = 1e4
    keys, values = zn.tensor(k, requires_grad=True), zn.tensor(v, requires_grad=True)
    context, weights = F.attention(q, keys, values, mask=mask)
    assert np.all(weights.data[0, :, 4:] == 0)
    np.testing.assert_allclose(weights.data.sum(axis=-1), 1, rtol=1e-6)
    short_context, short_weights = F.attention(q[:1], k[:1, :4], v[:1, :4])
    np.testing.assert_allclose(context.data[:1], short_context.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights.data[0, :, :4], short_weights.data[0], rtol=1e-5, atol=1e-7)
    context.sum().backward()
    assert np.all(keys.grad[0, 4:] == 0) and np.all(values.grad[0, 4:] == 0)


def test_fully_masked_query_gives_zeros_not_nan():
    rng = np.random.default_rng(5)
    q, k = rng.standard_normal((1, 2, 3)), rng.standard_normal((1, 4, 3))
    mask = np.array([[True, True, False, False], [False, False, False, False]])
    query = zn.tensor(q, requires_grad=True)
    context, weights = F.attention(query, k, k, mask=mask)
    assert np.all(np.isfinite(context.data)) and np.all(context.data[0, 1] == 0)
    assert np.all(weights.data[0, 1] == 0)
    context.sum().backward()
    assert np.all(np.isfinite(query.grad)) and np.all(query.grad[0, 1] == 0)


def test_causal_mask():
    mask = F.causal_mask(3)
    np.testing.assert_array_equal(mask, np.tril(np.ones((3, 3), dtype=bool)))
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 4))
    _, weights = F.scaled_dot_product_attention(x, x, x, mask=mask)
    assert np.all(np.triu(weights.data[0], 1) == 0)
    assert F.causal_mask(2, 4).tolist() == [[True, True, True, False], [True, True, True, True]]


def test_bad_shapes_and_masks_are_named():
    with pytest.raises(ValueError, match="feature dimension"):
        F.attention(np.zeros((1, 2, 3)), np.zeros((1, 4, 5)), np.zeros((1, 4, 5)))
    with pytest.raises(ValueError, match="number of positions"):
        F.attention(np.zeros((1, 2, 3)), np.zeros((1, 4, 3)), np.zeros((1, 5, 3)))
    with pytest.raises(ValueError, match="mask of shape"):
        F.attention(np.zeros((1, 2, 3)), np.zeros((1, 4, 3)), np.zeros((1, 4, 3)), mask=np.ones((3,), bool))
    with pytest.raises(TypeError, match="boolean"):
        F.attention(np.zeros((1, 2, 3)), np.zeros((1, 4, 3)), np.zeros((1, 4, 3)), mask=np.ones((4,)))


def test_scaled_uses_inverse_sqrt_of_dim():
    rng = np.random.default_rng(7)
    q, k = rng.standard_normal((1, 2, 16)), rng.standard_normal((1, 3, 16))
    a = F.scaled_dot_product_attention(q, k, k)[1].data
    b = F.attention(q, k, k, scale=1 / math.sqrt(16))[1].data
    np.testing.assert_allclose(a, b)


# ---------------------------------------------------------------- modules and PyTorch parity


def test_dot_product_attention_module():
    rng = np.random.default_rng(8)
    h, hs = rng.standard_normal((2, 1, 4)), rng.standard_normal((2, 5, 4))
    context, weights = zn.nn.DotProductAttention()(h, hs)
    ref_c, ref_w = F.attention(h, hs, hs)
    np.testing.assert_allclose(context.data, ref_c.data)
    np.testing.assert_allclose(weights.data, ref_w.data)


def test_sdpa_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((2, 2, 3, 8), (2, 2, 5, 8), (2, 2, 5, 4)))
    mask = rng.random((2, 1, 3, 5)) > 0.3
    mask[..., 0] = True
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(mask))
    zq, zk, zv = (zn.tensor(a, requires_grad=True) for a in (q, k, v))
    out, _ = F.scaled_dot_product_attention(zq, zk, zv, mask=mask)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(out.shape).astype(np.float32)
    ref.backward(torch.tensor(g))
    out.backward(g)
    for mine, theirs in ((zq, tq), (zk, tk), (zv, tv)):
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_multihead_attention_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    layer = zn.nn.MultiheadAttention(8, 2)
    layer.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(10)
    q, kv = rng.standard_normal((2, 3, 8)).astype(np.float32), rng.standard_normal((2, 5, 8)).astype(np.float32)
    padding = np.array([[False] * 5, [False, False, False, True, True]])
    causal = np.triu(np.ones((3, 5), dtype=bool), 1)
    expected, expected_w = ref(torch.tensor(q), torch.tensor(kv), torch.tensor(kv),
                               key_padding_mask=torch.tensor(padding), attn_mask=torch.tensor(causal))
    zq = zn.tensor(q, requires_grad=True)
    out, weights = layer(zq, kv, kv, key_padding_mask=padding, attn_mask=causal)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weights.data, expected_w.detach().numpy(), rtol=1e-4, atol=1e-6)
    expected.sum().backward()
    out.sum().backward()
    params = dict(ref.named_parameters())
    for name, param in layer.named_parameters():
        np.testing.assert_allclose(param.grad, params[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
