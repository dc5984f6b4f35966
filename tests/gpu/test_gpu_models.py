"""A few training steps of RNNLM, AttentionSeq2Seq and word2vec (CBOW module) on CUDA give the
same losses as on CPU; recurrent Functions match NumPy. Run with ``python -m pytest -m gpu tests/gpu``."""

import numpy as np
import pytest

import zeronlp as zn

pytestmark = pytest.mark.gpu


def _sgd_losses(model, batches, lr, loss_fn, clip=None):
    opt = zn.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for batch in batches:
        loss = loss_fn(model, *batch)
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            zn.optim.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_match_cpu(layer, on_cpu_and_gpu):
    x = np.random.default_rng(0).standard_normal((3, 7, 5)).astype(np.float32)

    def run():
        module = getattr(zn.nn, layer)(5, 8, num_layers=2, bidirectional=True)
        inputs = zn.tensor(x, requires_grad=True)
        out, _ = module(inputs)
        (out * out).sum().backward()
        grads = [zn.backend.to_numpy(p.grad) for p in module.parameters()]
        return out.numpy(), zn.backend.to_numpy(inputs.grad), grads

    (cy, cgx, cgrads), (gy, ggx, ggrads) = on_cpu_and_gpu(run)
    np.testing.assert_allclose(gy, cy, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ggx, cgx, rtol=1e-4, atol=1e-4)
    for a, b in zip(ggrads, cgrads):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_rnnlm_steps_match_cpu(on_cpu_and_gpu):
    ids, vocab = zn.data.load_ptb("train")
    batcher = zn.data.BPTTBatcher(ids[:20 * 35 * 6 + 1], batch_size=20, bptt=35)
    batches = list(batcher)[:5]

    def run():
        model = zn.models.RNNLM(vocab_size=len(vocab))
        return _sgd_losses(model, batches, 20.0, lambda m, x, t: m.loss(x, t), clip=0.25)

    cpu, gpu = on_cpu_and_gpu(run)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4)


def test_attention_seq2seq_steps_match_cpu(on_cpu_and_gpu):
    (x, t), _, vocab = zn.data.load_seq("date")
    batches = [(x[i:i + 64], t[i:i + 64]) for i in range(0, 64 * 5, 64)]

    def run():
        model = zn.models.AttentionSeq2Seq(len(vocab), 16, 64)
        return _sgd_losses(model, batches, 0.5, lambda m, src, tgt: m.loss(src, tgt), clip=5.0)

    cpu, gpu = on_cpu_and_gpu(run)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4)


def test_cbow_module_steps_match_cpu(on_cpu_and_gpu):
    ids, vocab = zn.data.load_ptb("train")
    ids = ids[:5000]
    counts = np.bincount(ids, minlength=len(vocab))
    contexts = np.stack([ids[:-2], ids[2:]], axis=1)
    targets = ids[1:-1]
    batches = [(contexts[i:i + 100], targets[i:i + 100]) for i in range(0, 500, 100)]

    def run():
        model = zn.models.CBOW(len(vocab), 50, counts)
        return _sgd_losses(model, batches, 1.0, lambda m, c, tg: m(c, tg))

    cpu, gpu = on_cpu_and_gpu(run)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4)


def test_fused_softmax_head_on_gpu(on_cpu_and_gpu):
    from zeronlp.models.rnnlm import linear_softmax_cross_entropy

    rng = np.random.default_rng(0)
    h, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((6, 4), (9, 4), (9,)))
    t = rng.integers(0, 9, size=6)

    def run():
        ts = [zn.tensor(a, requires_grad=True) for a in (h, w, b)]
        loss = linear_softmax_cross_entropy(*ts, t)
        loss.backward()
        return loss.item(), [zn.backend.to_numpy(x.grad) for x in ts]

    (cl, cg), (gl, gg) = on_cpu_and_gpu(run)
    assert gl == pytest.approx(cl, rel=1e-5)
    for a, b_ in zip(gg, cg):
        np.testing.assert_allclose(a, b_, rtol=1e-4, atol=1e-6)




def _device_array(a):
    """``a`` on the device under test (a CuPy array on CUDA)."""
    return zn.backend.to_device(np.asarray(a))


@pytest.mark.parametrize("encoder", ["mean", "bigru", "cnn"])
def test_classifier_steps_take_ids_already_on_the_device(encoder, on_cpu_and_gpu):
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 30, size=(8, 9))
    ids[:3, 6:] = 0  # right padding
    labels = rng.integers(0, 4, size=8)

    def run():
        model = zn.models.TextClassifier(30, 6, 4, encoder=encoder, hidden_size=5, num_filters=3,
                                         kernel_sizes=(2, 3), dropout=0.0)
        logits = model(_device_array(ids))
        loss = zn.nn.CrossEntropyLoss()(logits, _device_array(labels))
        loss.backward()
        return (loss.item(), zn.train.accuracy(logits, _device_array(labels)),
                zn.backend.to_numpy(model.embedding.weight.grad))

    (cl, cacc, cg), (gl, gacc, gg) = on_cpu_and_gpu(run)
    assert gl == pytest.approx(cl, rel=1e-4)
    assert gacc == cacc
    np.testing.assert_allclose(gg, cg, rtol=1e-3, atol=1e-5)


def test_bce_with_pos_weight_on_device_targets(on_cpu_and_gpu):
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((5, 3)).astype(np.float32), (rng.random((5, 3)) > 0.5).astype(np.float32)

    def run():
        logits = zn.tensor(x, requires_grad=True)
        loss = zn.nn.BCEWithLogitsLoss(pos_weight=_device_array([1.0, 2.0, 3.0]))(logits, _device_array(t))
        loss.backward()
        return loss.item(), zn.backend.to_numpy(logits.grad)

    (cl, cg), (gl, gg) = on_cpu_and_gpu(run)
    assert gl == pytest.approx(cl, rel=1e-5)
    np.testing.assert_allclose(gg, cg, rtol=1e-5, atol=1e-7)


def test_state_dict_of_device_arrays_loads(on_cpu_and_gpu):
    def run():
        model = zn.nn.Linear(4, 3)
        state = {k: zn.backend.to_device(np.full(v.shape, 0.5, dtype=np.float32)) for k, v in
                 model.state_dict().items()}
        model.load_state_dict(state)
        return zn.backend.to_numpy(model(zn.tensor(np.ones((2, 4), dtype=np.float32))).data)

    cpu, gpu = on_cpu_and_gpu(run)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-6)
