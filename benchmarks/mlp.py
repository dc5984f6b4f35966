"""MLP 784-1000-1000-10, batch 128: forward + backward + Adam step, zeronlp vs PyTorch CPU."""

from __future__ import annotations

import numpy as np

import zeronlp as zn
import zeronlp.functional as F

from .harness import interleaved, median, report, torch_or_none

SIZES = (784, 1000, 1000, 10)


def zeronlp_step_fn(x: np.ndarray, t: np.ndarray, device: str = "cpu"):
    zn.use_device(device)
    zn.manual_seed(0)
    model = zn.nn.Sequential(zn.nn.Linear(SIZES[0], SIZES[1]), zn.nn.ReLU(), zn.nn.Linear(SIZES[1], SIZES[2]),
                             zn.nn.ReLU(), zn.nn.Linear(SIZES[2], SIZES[3]))
    opt = zn.optim.Adam(model.parameters(), lr=1e-3)
    xp = zn.backend.xp()
    xd, td = xp.asarray(x), xp.asarray(t)

    def step():
        opt.zero_grad()
        loss = F.softmax_cross_entropy(model(xd), td)
        loss.backward()
        opt.step()
        return float(loss.data)

    return step


def torch_step_fn(torch, x: np.ndarray, t: np.ndarray, device: str = "cpu"):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(), nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
                          nn.Linear(SIZES[2], SIZES[3])).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, tt = torch.tensor(x, device=device), torch.tensor(t, device=device)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), tt)
        loss.backward()
        opt.step()
        return loss.item()  # synchronizes on CUDA

    return step


def run(repeat: int, args) -> None:
    rng = np.random.default_rng(0)
    batch = 128
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    t = rng.integers(0, SIZES[-1], size=batch)
    steps = 5 if args.quick else 20
    fns = {}
    ours = zeronlp_step_fn(x, t, args.device)
    fns["zeronlp"] = lambda: [ours() for _ in range(steps)]
    torch = torch_or_none()
    if torch is not None:
        theirs = torch_step_fn(torch, x, t, "cuda" if args.device == "cuda" else "cpu")
        fns["pytorch"] = lambda: [theirs() for _ in range(steps)]
    times = interleaved(fns, repeat)
    rows = [(name, median(ts) / steps, f"{batch * steps / median(ts):,.0f} examples/s") for name, ts in times.items()]
    report(f"mlp {'-'.join(map(str, SIZES))}, batch {batch}, seconds per training step",
           rows, "pytorch" if torch is not None else "zeronlp")
