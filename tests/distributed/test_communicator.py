"""The communicator without MPI: the single-process fallback, sharding, and the gradient buffer's
packing (the arithmetic of the weighted mean, checked by summing two ranks' buffers by hand)."""

from __future__ import annotations

import numpy as np
import pytest

import zeronlp as zn
from zeronlp import distributed, optim
from zeronlp.distributed.communicator import _GradientBuffer
from zeronlp.models import TwoLayerNet
from zeronlp.train import Trainer


@pytest.mark.parametrize("total,size", [(10, 2), (11, 2), (7, 3), (2, 4), (20, 1)])
def test_shards_are_contiguous_blocks_covering_everything_once(total, size):
    blocks = [distributed.shard_range(total, rank, size) for rank in range(size)]
    assert blocks[0][0] == 0 and blocks[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    assert [b - a for a, b in blocks] == [len(part) for part in np.array_split(np.arange(total), size)]


def test_single_process_collectives_are_no_ops(monkeypatch):
    for name in distributed.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not distributed.launched_under_mpi()
    comm = distributed.SingleProcessCommunicator()
    assert (comm.rank, comm.size, comm.is_main, comm.distributed) == (0, 1, True, False)
    x = np.arange(6)
    assert comm.shard(x) is x
    assert comm.bcast({"a": 1}) == {"a": 1} and comm.allgather(3) == [3]
    assert comm.allreduce([1.0, 2.0]).tolist() == [1.0, 2.0] and comm.any(True) and not comm.any(False)
    model = TwoLayerNet(2, 3, 2)
    before = [p.data.copy() for p in model.parameters()]
    comm.broadcast_parameters(model)
    comm.barrier()
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))
    assert comm.allreduce_gradients(model.parameters(), 5.0, (2.0,)).tolist() == [5.0, 2.0]
    assert comm.run_on_main(lambda: 7) == 7
    with pytest.raises(zn.UsageError, match="op must be"):
        comm.allreduce([1.0], "mean")


def test_gradient_buffer_gives_the_weighted_mean_and_keeps_missing_gradients_missing():
    zn.manual_seed(0)
    ranks = [TwoLayerNet(3, 4, 2) for _ in range(2)]
    grads = [[np.random.default_rng(r * 10 + i).standard_normal(p.data.shape).astype(np.float32)
              for i, p in enumerate(model.parameters())] for r, model in enumerate(ranks)]
    for model, g in zip(ranks, grads):
        for p, value in zip(model.parameters(), g):
            p.grad = value
    ranks[0].parameters()[1].grad = None  # rank 0 has no gradient for one parameter, rank 1 has
    for model in ranks:
        model.parameters()[3].grad = None  # no rank has one for another
    weights = (6.0, 5.0)
    buffers = [_GradientBuffer(model.parameters(), 1) for model in ranks]
    packed = [b.pack(m.parameters(), w, (w * 0.5,)).copy() for b, m, w in zip(buffers, ranks, weights)]
    for b in buffers:  # what the Allreduce (SUM) does
        b.buffer[:] = packed[0] + packed[1]
    totals = [b.unpack(m.parameters()) for b, m in zip(buffers, ranks)]
    assert totals[0].tolist() == totals[1].tolist() == [11.0, 5.5]
    for i in range(4):
        p0, p1 = ranks[0].parameters()[i], ranks[1].parameters()[i]
        if i == 3:
            assert p0.grad is None and p1.grad is None
            continue
        g0 = np.zeros_like(grads[0][i]) if i == 1 else grads[0][i]
        expected = (6 * g0 + 5 * grads[1][i]) / 11
        np.testing.assert_allclose(p0.grad, expected, rtol=1e-6, atol=1e-7)
        assert np.array_equal(p0.grad, p1.grad)
    assert np.shares_memory(ranks[0].parameters()[0].grad, buffers[0].buffer)  # unpacked as views: no copies


def test_trainer_with_the_default_communicator_is_the_single_process_loop():
    def run(comm):
        zn.manual_seed(0)
        rng = np.random.default_rng(1)
        x, t = rng.standard_normal((50, 4)).astype(np.float32), rng.integers(0, 3, 50)
        model = TwoLayerNet(4, 6, 3)
        trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.3), batch_size=8, quiet=True, comm=comm)
        trainer.fit((x, t), valid=(x, t), epochs=2)
        return [p.data.copy() for p in model.parameters()], trainer.history

    default, explicit = run(None), run(distributed.SingleProcessCommunicator())
    assert all(np.array_equal(a, b) for a, b in zip(default[0], explicit[0]))
    assert [r["valid_loss"] for r in default[1]] == [r["valid_loss"] for r in explicit[1]]
    assert distributed.init().size == 1 and not distributed.init().distributed
