"""nn.Transformer*: PyTorch parity (outputs and every gradient, masks, pre/post-norm), gradcheck, positions."""

import math

import numpy as np
import pytest

import zeronlp as zn
from zeronlp import nn
from zeronlp.gradcheck import gradcheck


def _load_from_torch(ours, theirs):
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    assert list(state) == [name for name, _ in ours.named_parameters()]  # same names, same order
    ours.load_state_dict(state)


def _compare(ours_out, theirs_out, ours, theirs, inputs, rng, rows=None):
    """Outputs, then the gradients of sum(out * w) for every parameter and input."""
    expected = theirs_out.detach().numpy()
    got = ours_out.data
    if rows is not None:
        expected, got = expected[rows], got[rows]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    w = rng.standard_normal(ours_out.shape).astype(np.float32)
    if rows is not None:  # padded query rows are not compared (PyTorch's fast path may zero them)
        keep = np.zeros_like(w)
        keep[rows] = 1
        w *= keep
    import torch

    (theirs_out * torch.tensor(w)).sum().backward()
    (ours_out * w).sum().backward()
    params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad, params[name].grad.numpy(), rtol=1e-3, atol=1e-4, err_msg=name)
    for zx, tx in inputs:
        np.testing.assert_allclose(zx.grad, tx.grad.numpy(), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("masks", ["none", "causal", "padding+causal_bool"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_encoder_layer_matches_torch(norm_first, activation, masks, mode):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation=activation,
                                              batch_first=True, norm_first=norm_first)
    ours = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation=activation,
                                      norm_first=norm_first)
    _load_from_torch(ours, theirs)
    getattr(theirs, mode)()
    getattr(ours, mode)()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 8)).astype(np.float32)
    kwargs_t, kwargs_z = {}, {}
    if masks == "causal":
        kwargs_t["src_mask"] = torch.nn.Transformer.generate_square_subsequent_mask(5)
        kwargs_z["src_mask"] = nn.generate_square_subsequent_mask(5)
        np.testing.assert_array_equal(kwargs_z["src_mask"], kwargs_t["src_mask"].numpy())
    elif masks == "padding+causal_bool":
        padding = np.zeros((3, 5), dtype=bool)
        padding[1, 3:] = True
        padding[2, 4:] = True
        causal = np.triu(np.ones((5, 5), dtype=bool), 1)
        kwargs_t.update(src_key_padding_mask=torch.tensor(padding), src_mask=torch.tensor(causal))
        kwargs_z.update(src_key_padding_mask=padding, src_mask=causal)
    tx = torch.tensor(x, requires_grad=True)
    zx = zn.tensor(x, requires_grad=True)
    _compare(ours(zx, **kwargs_z), theirs(tx, **kwargs_t), ours, theirs, [(zx, tx)], rng)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    theirs = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=12, dropout=0.0, batch_first=True,
                                              norm_first=norm_first)
    ours = nn.TransformerDecoderLayer(8, 2, dim_feedforward=12, dropout=0.0, norm_first=norm_first)
    _load_from_torch(ours, theirs)
    rng = np.random.default_rng(2)
    tgt = rng.standard_normal((2, 4, 8)).astype(np.float32)
    memory = rng.standard_normal((2, 6, 8)).astype(np.float32)
    memory_padding = np.zeros((2, 6), dtype=bool)
    memory_padding[1, 4:] = True
    tgt_padding = np.zeros((2, 4), dtype=bool)
    tgt_padding[0, 3] = True
    tt, tm = torch.tensor(tgt, requires_grad=True), torch.tensor(memory, requires_grad=True)
    zt, zm = zn.tensor(tgt, requires_grad=True), zn.tensor(memory, requires_grad=True)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(4).isinf()  # torch wants one mask type
    expected = theirs(tt, tm, tgt_mask=causal,
                      memory_key_padding_mask=torch.tensor(memory_padding),
                      tgt_key_padding_mask=torch.tensor(tgt_padding))
    got = ours(zt, zm, tgt_mask=nn.generate_square_subsequent_mask(4), memory_key_padding_mask=memory_padding,
               tgt_key_padding_mask=tgt_padding)
    _compare(got, expected, ours, theirs, [(zt, tt), (zm, tm)], rng)


def test_encoder_stack_with_norm_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    theirs = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 4, 16, 0.0, batch_first=True), 2, norm=torch.nn.LayerNorm(8),
        enable_nested_tensor=False)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 4, 16, 0.0), 2, norm=nn.LayerNorm(8))
    _load_from_torch(ours, theirs)
    theirs.eval()
    ours.eval()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    padding = np.array([[False] * 5, [False, False, False, True, True]])
    tx, zx = torch.tensor(x, requires_grad=True), zn.tensor(x, requires_grad=True)
    expected = theirs(tx, src_key_padding_mask=torch.tensor(padding))
    got = ours(zx, src_key_padding_mask=padding)
    _compare(got, expected, ours, theirs, [(zx, tx)], rng)


def test_full_transformer_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    theirs = torch.nn.Transformer(8, 2, 2, 2, 16, 0.0, batch_first=True)
    ours = nn.Transformer(8, 2, 2, 2, 16, 0.0)
    _load_from_torch(ours, theirs)
    rng = np.random.default_rng(4)
    src = rng.standard_normal((2, 6, 8)).astype(np.float32)
    tgt = rng.standard_normal((2, 3, 8)).astype(np.float32)
    ts, tt = torch.tensor(src, requires_grad=True), torch.tensor(tgt, requires_grad=True)
    zs, zt = zn.tensor(src, requires_grad=True), zn.tensor(tgt, requires_grad=True)
    expected = theirs(ts, tt, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(3))
    got = ours(zs, zt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3))
    _compare(got, expected, ours, theirs, [(zs, ts), (zt, tt)], rng)


def test_is_causal_equals_explicit_mask_and_ignores_the_future():
    zn.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    x = np.random.default_rng(5).standard_normal((2, 5, 8)).astype(np.float32)
    with zn.no_grad():
        a = layer(x, is_causal=True).data
        b = layer(x, src_mask=nn.generate_square_subsequent_mask(5)).data
        x2 = x.copy()
        x2[:, 3:] = 7.0  # changing the future leaves earlier outputs unchanged
        c = layer(x2, is_causal=True).data
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a[:, :3], c[:, :3], atol=1e-5)


def test_decoder_returns_per_head_cross_attention():
    zn.manual_seed(0)
    decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0), 2)
    out, weights = decoder(np.ones((2, 3, 8), np.float32), np.ones((2, 4, 8), np.float32), need_weights=True)
    assert out.shape == (2, 3, 8)
    assert len(weights) == 2 and weights[0].shape == (2, 2, 3, 4)
    np.testing.assert_allclose(weights[1].data.sum(-1), 1.0, rtol=1e-5)


def test_layers_are_independent_copies():
    stack = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), 3)
    names = [n for n, _ in stack.named_parameters()]
    assert names[0] == "layers.0.self_attn.in_proj_weight" and len(names) == 3 * 12
    first, second = stack.layers[0].linear1.weight, stack.layers[1].linear1.weight
    assert first is not second
    np.testing.assert_array_equal(first.data, second.data)


def test_encoder_layer_gradcheck_float64():
    zn.set_default_dtype(np.float64)
    try:
        zn.manual_seed(0)
        layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu", norm_first=True)
        padding = np.array([[False, False, True], [False, False, False]])
        x = np.random.default_rng(6).standard_normal((2, 3, 4))
        assert gradcheck(lambda t: layer(t, src_key_padding_mask=padding, is_causal=True), [x])
        weight = layer.linear1.weight
        original = weight.data

        def as_function(w):  # the gradient with respect to a parameter, through the whole layer
            saved = layer.linear1.weight
            object.__setattr__(layer.linear1, "weight", w)
            try:
                return layer(x)
            finally:
                object.__setattr__(layer.linear1, "weight", saved)

        assert gradcheck(as_function, [original.copy()])
    finally:
        zn.set_default_dtype(np.float32)


def test_dropout_is_active_only_in_training():
    zn.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = np.random.default_rng(7).standard_normal((2, 4, 8)).astype(np.float32)
    with zn.no_grad():
        a, b = layer(x).data, layer(x).data
        layer.eval()
        c, d = layer(x).data, layer(x).data
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(c, d)


def test_positional_encodings():
    pe = nn.PositionalEncoding(6, max_len=10)
    x = np.zeros((1, 4, 6), np.float32)
    table = pe(x, offset=2).data[0]
    p, i = 3, 1  # position 2 + 1, pair i = 1
    np.testing.assert_allclose(table[1, 2 * i], math.sin(p / 10000 ** (2 * i / 6)), rtol=1e-5)
    np.testing.assert_allclose(table[1, 2 * i + 1], math.cos(p / 10000 ** (2 * i / 6)), rtol=1e-5)
    assert pe.state_dict() == {}
    with pytest.raises(ValueError, match="max_len"):
        pe(np.zeros((1, 11, 6), np.float32))
    learned = nn.LearnedPositionalEmbedding(8, 6)
    out = learned(zn.tensor(np.zeros((2, 3, 6), np.float32)), offset=1)
    np.testing.assert_array_equal(out.data[1], learned.embedding.weight.data[1:4])
    out.sum().backward()
    np.testing.assert_array_equal(learned.embedding.weight.grad[[0, 4]], 0.0)
    np.testing.assert_array_equal(learned.embedding.weight.grad[1:4], 2.0)


def test_bad_masks_and_options_are_named():
    layer = nn.TransformerEncoderLayer(4, 2, 8)
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="key_padding_mask"):
        layer(x, src_key_padding_mask=np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="attn_mask"):
        layer(x, src_mask=np.zeros((2, 2), bool))
    with pytest.raises(zn.errors.UsageError, match="0 .* -inf"):
        layer(x, src_mask=np.full((3, 3), 0.5, np.float32))
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(4, 2, activation="swish")
    with pytest.raises(ValueError, match="batch_first"):
        nn.TransformerDecoderLayer(4, 2, batch_first=False)


@pytest.mark.parametrize("average", [True, False])
def test_unbatched_attention_and_encoder_layer_match_torch(average):
    """(T, E) inputs as PyTorch takes them: outputs, weights and gradients equal torch's."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    ours = nn.MultiheadAttention(8, 2)
    _load_from_torch(ours, theirs)
    q, kv = rng.standard_normal((3, 8)).astype(np.float32), rng.standard_normal((5, 8)).astype(np.float32)
    padding = np.array([False, False, True, False, False])
    zq, zk = zn.Tensor(q, requires_grad=True), zn.Tensor(kv, requires_grad=True)
    tq, tk = torch.tensor(q, requires_grad=True), torch.tensor(kv, requires_grad=True)
    out, weights = ours(zq, zk, zk, key_padding_mask=padding, average_attn_weights=average)
    t_out, t_weights = theirs(tq, tk, tk, key_padding_mask=torch.tensor(padding), average_attn_weights=average)
    assert out.shape == (3, 8) and weights.shape == tuple(t_weights.shape)
    np.testing.assert_allclose(weights.data, t_weights.detach().numpy(), rtol=1e-5, atol=1e-6)
    _compare(out, t_out, ours, theirs, [(zq, tq), (zk, tk)], rng)

    layer_t = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0).eval()
    _load_from_torch(layer, layer_t)
    x = rng.standard_normal((4, 8)).astype(np.float32)
    zx, tx = zn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _compare(layer(zx), layer_t(tx), layer, layer_t, [(zx, tx)], rng)


def test_attention_names_mismatched_batches_and_ranks():
    attention = nn.MultiheadAttention(4, 2)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(3, 5, 4\).*batch size N"):
        attention(np.ones((2, 3, 4)), np.ones((3, 5, 4)), np.ones((3, 5, 4)))
    with pytest.raises(ValueError, match=r"key and value the length"):
        attention(np.ones((2, 3, 4)), np.ones((2, 5, 4)), np.ones((2, 6, 4)))
    with pytest.raises(ValueError, match=r"\(N, T, E\), or all three \(T, E\)"):
        attention(np.ones((3, 4)), np.ones((1, 3, 4)), np.ones((1, 3, 4)))
