"""Small training runs shared by the distributed tests: run in-process with one rank (the reference)
and under ``mpirun -n 2 python tests/distributed/mpi_worker.py SCENARIO OUT_DIR`` with two.

Every run goes through the one Trainer with a global ``batch_size``; the tests compare the weights
after a few steps (≤ 1e-5) and check that both ranks hold the same weights.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

import zeronlp as zn
from zeronlp import distributed, optim
from zeronlp.models import RNNLM, Seq2Seq, TwoLayerNet
from zeronlp.train import BPTTWindows, CarryState, MiniBatches, Trainer, model_loss


def host(array: Any) -> np.ndarray:
    """A host copy of a NumPy or CuPy array (the worker runs on ``ZERONLP_WORKER_DEVICE``)."""
    return np.array(zn.backend.to_numpy(array))


def weights(model: Any) -> dict[str, np.ndarray]:
    return {name: host(p.data) for name, p in model.named_parameters()}


def mlp(opt: str, comm: distributed.Communicator) -> dict[str, np.ndarray]:
    """TwoLayerNet, 75 rows in batches of 16: 5 steps, the last one of 11 rows (split 6 + 5)."""
    zn.manual_seed(0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((75, 6)).astype(np.float32)
    t = rng.integers(0, 3, 75)
    model = TwoLayerNet(6, 8, 3)
    optimizer = optim.SGD(model.parameters(), lr=0.5) if opt == "sgd" else optim.Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, optimizer, batch_size=16, quiet=True, comm=comm)
    trainer.fit((x, t), valid=(x, t), epochs=1)
    out = weights(model)
    out["valid_loss"] = np.array(trainer.history[-1]["valid_loss"])
    out["train_loss"] = np.array(trainer.history[-1]["loss"])
    return out


def lm_setup(comm: distributed.Communicator, out_dir: Any = None, interrupt_at: int | None = None,
             checkpoint_steps: int | None = None) -> tuple[Trainer, BPTTWindows, RNNLM]:
    """RNNLM (vocab 30, 8 + 8) on 4 BPTT streams of 61 tokens in windows of 5: 3 steps an epoch; SGD
    with clipping and a weight EMA (the book's recipe in small). ``interrupt_at``: rank 0 sends
    itself Ctrl-C during that global step."""
    zn.manual_seed(0)
    ids = np.random.default_rng(2).integers(0, 30, 61)
    model = RNNLM(30, 8, 8)
    optimizer = optim.SGD(model.parameters(), lr=1.0)
    averaged = optim.AveragedModel(model, decay=0.9, warmup=True)
    calls = [0]

    def loss(m: Any, batch: Any) -> Any:
        calls[0] += 1
        if interrupt_at is not None and calls[0] == interrupt_at and comm.is_main:
            os.kill(os.getpid(), signal.SIGINT)
        return m.loss(*batch)

    trainer = Trainer(model, optimizer, loss, max_grad_norm=0.25, averaged=averaged,
                      callbacks=[CarryState(model, comm=comm)], out_dir=out_dir, quiet=True, comm=comm,
                      meta={"config": model.config()}, checkpoint_steps=checkpoint_steps)
    return trainer, BPTTWindows(ids, batch_size=4, bptt=5), model


def lm(comm: distributed.Communicator, out_dir: Any = None, epochs: int = 2, resume: bool = False,
       interrupt_at: int | None = None) -> dict[str, np.ndarray]:
    trainer, batches, model = lm_setup(comm, out_dir, interrupt_at)
    try:
        trainer.fit(batches, epochs=epochs, resume=resume)
    except KeyboardInterrupt:
        pass
    out = weights(model)
    state = trainer.callbacks[0].state_dict()  # every stream's carried state (a collective)
    out["h"], out["c"] = (host(s) for s in state["state"])
    for i, avg in enumerate(trainer.averaged.averages):
        out[f"average_{i}"] = host(avg)
    out["position"] = np.array([trainer.epoch, trainer.position, trainer.global_step])
    return out


def seq2seq(comm: distributed.Communicator) -> dict[str, np.ndarray]:
    """Seq2Seq (vocab 12, 8 + 16) with Adam: 40 pairs in batches of 8, 5 steps."""
    zn.manual_seed(0)
    rng = np.random.default_rng(3)
    src = rng.integers(1, 12, (40, 6))
    tgt = np.concatenate([np.zeros((40, 1), np.int64), rng.integers(1, 12, (40, 4))], axis=1)
    model = Seq2Seq(12, 8, 16)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.01), model_loss, batch_size=8, quiet=True,
                      max_grad_norm=5.0, comm=comm)
    trainer.fit(MiniBatches(src, tgt, batch_size=8), epochs=1)
    return weights(model)


def fault(comm: distributed.Communicator, how: str) -> None:
    """Rank 1 raises (or dies) in its third step while rank 0 goes on into the allreduce."""
    zn.manual_seed(0)
    x = np.random.default_rng(1).standard_normal((400, 6)).astype(np.float32)
    t = np.arange(400) % 3
    model = TwoLayerNet(6, 8, 3)
    calls = [0]

    def loss(m: Any, batch: Any) -> Any:
        calls[0] += 1
        if calls[0] == 3 and comm.rank == 1:
            if how == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("rank 1 failed on purpose")
        return zn.train.classification_loss(m, batch)

    Trainer(model, optim.SGD(model.parameters(), lr=0.1), loss, batch_size=8, quiet=True, comm=comm).fit((x, t))


def main(argv: list[str]) -> int:
    scenario, out = argv[0], Path(argv[1])
    zn.use_device(os.environ.get("ZERONLP_WORKER_DEVICE", "cpu"))  # cuda: tests/gpu/test_gpu_distributed.py
    comm = distributed.init()
    results: dict[str, np.ndarray] = {}
    if scenario == "equivalence":
        for opt in ("sgd", "adam"):
            results.update({f"mlp_{opt}/{k}": v for k, v in mlp(opt, comm).items()})
        results.update({f"lm/{k}": v for k, v in lm(comm, out_dir=out / f"run_rank{comm.rank}").items()})
        results.update({f"seq2seq/{k}": v for k, v in seq2seq(comm).items()})
        interrupted = lm(comm, out_dir=out / f"interrupted_rank{comm.rank}", epochs=2, interrupt_at=4)
        results.update({f"interrupted/{k}": v for k, v in interrupted.items()})
    elif scenario == "resume":
        results.update({f"lm/{k}": v for k, v in lm(comm, out_dir=out, epochs=2, resume=True).items()})
    elif scenario in ("raise", "die"):
        fault(comm, scenario)
    np.savez(out / f"{scenario}_rank{comm.rank}_of_{comm.size}.npz", **results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
