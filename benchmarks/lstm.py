"""LSTM language models on PTB windows (batch 20, bptt 35): zeronlp vs PyTorch, same process.

``python -m benchmarks lstm --repeat N [--threads K] [--models rnnlm,better,generic] [--windows W]
[--device cuda]``. With ``--device cuda`` zeronlp runs on CuPy and PyTorch on CUDA (cuDNN's LSTM), the
windows already on the GPU for both, and each timed call ends in a synchronising ``float(loss)``.

* ``rnnlm``, ``better``: the shipped models (their fused output layer). Training = forward + softmax
  cross-entropy + backward + clip_grad_norm(0.25) + SGD step, with the hidden state carried (detached)
  from window to window.
* ``generic``: a user's own model from ``nn`` layers (issue 17): ``nn.Embedding(10000, 650)`` ->
  ``nn.LSTM(650, 650, num_layers=2, batch_first=True)`` -> ``nn.Linear(650, 10000)`` ->
  ``F.softmax_cross_entropy``, SGD, no state carried, no clipping. ``generic-fused`` is the same
  model whose user calls ``F.linear_cross_entropy(y, head.weight, head.bias, t)`` instead of the
  last two steps; it is timed in the same alternation against the same PyTorch model.

Evaluation = forward + loss under no_grad.
Both libraries run the same architecture on the same windows; tokens/s = 700 tokens per window.
The timings alternate between the libraries (A B A B ...) and report medians; the table also
replaces the "last run" block of ``benchmarks/README_lstm.md`` (``--no-readme`` to skip).

Two more columns say how far any implementation could go on this machine at this moment: a 2048^3
float32 GEMM in NumPy and in PyTorch runs in the same alternation, and the faster one's rate is the
GEMM peak. ``GEMM-bound`` is the tokens/s at which the model's matrix products alone (:func:`gemm_flops`)
would run at that peak, and ``ceiling`` that bound over PyTorch's tokens/s: about the highest ratio a
library doing the same products can reach in that run (a kernel may beat the 2048^3 GEMM by a few
percent; the softmax, gates and optimizer are not counted and only lower what is reachable).
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path
from typing import Any

import numpy as np

import zeronlp as zn
from zeronlp.data import BPTTBatcher, load_ptb
from zeronlp.models import RNNLM, BetterRNNLM

from .harness import blas_description, gemm_peak_fns, interleaved, median, record_last_run, torch_or_none

BATCH, BPTT = 20, 35
CONFIGS = {
    "rnnlm": dict(wordvec=100, hidden=100, layers=1, dropout=0.0, tied=False),
    "better": dict(wordvec=650, hidden=650, layers=2, dropout=0.5, tied=True),
    "generic": dict(wordvec=650, hidden=650, layers=2, dropout=0.0, tied=False),
}
# variants timed against the PyTorch model of the first name, in one alternation
GROUPS = {"generic": ("generic", "generic-fused"), "generic-fused": ("generic", "generic-fused")}


def gemm_flops(name: str, tokens: int, vocab_size: int, mode: str) -> float:
    """Floating-point operations of the model's matrix products for ``tokens`` tokens.

    Forward: each LSTM layer computes its four gates' pre-activations from its input (``in`` features:
    the word vector for layer 1, ``H`` after) and its previous hidden state, ``2 (in + H) 4H`` per token;
    the output layer ``2 H V``. Training adds, for every product ``Y = X W^T``, the input gradient
    ``dY W`` and the weight gradient ``dY^T X``, each as large as the product: 3x the forward. The
    embedding lookup, the gate functions and the softmax do no products and are left out, so the time
    these FLOPs take at the GEMM peak is a floor (a model started from a zero state may skip its first
    step's recurrent products, 1/T of them: zeronlp does, for ``generic``)."""
    config = CONFIGS["generic" if name.startswith("generic") else name]
    hidden, inputs = config["hidden"], config["wordvec"]
    per_token = 0
    for _ in range(config["layers"]):
        per_token += 2 * (inputs + hidden) * 4 * hidden
        inputs = hidden
    per_token += 2 * hidden * vocab_size
    if mode not in ("train", "eval"):
        raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
    return float(tokens * per_token * (3 if mode == "train" else 1))


def _windows(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    ids, _ = load_ptb("train")
    batcher = BPTTBatcher(ids, BATCH, BPTT)
    out = []
    for x, t in batcher:
        out.append((x, t))
        if len(out) == count:
            break
    return out


def zeronlp_fns(name: str, windows: list, vocab_size: int) -> tuple[Any, Any]:
    """The shipped model's training and evaluation over ``windows`` on zeronlp's current device."""
    zn.manual_seed(0)
    model = RNNLM(vocab_size) if name == "rnnlm" else BetterRNNLM(vocab_size)
    opt = zn.optim.SGD(model.parameters(), lr=1.0)  # small lr: timing must not diverge

    def train():
        model.train()
        for x, t in windows:
            loss = model.loss(x, t)
            opt.zero_grad()
            loss.backward()
            zn.optim.clip_grad_norm_(model.parameters(), 0.25)
            opt.step()
        return float(loss.data)

    def evaluate():
        model.eval()
        with zn.no_grad():
            for x, t in windows:
                loss = model.loss(x, t)
        return float(loss.data)

    return train, evaluate


def generic_fns(name: str, windows: list, vocab_size: int) -> tuple[Any, Any]:
    """The user's own model from ``nn`` layers; ``generic-fused`` ends in ``F.linear_cross_entropy``."""
    import zeronlp.functional as F

    zn.manual_seed(0)
    c = CONFIGS["generic"]
    embed = zn.nn.Embedding(vocab_size, c["wordvec"])
    lstm = zn.nn.LSTM(c["wordvec"], c["hidden"], num_layers=c["layers"], batch_first=True)
    head = zn.nn.Linear(c["hidden"], vocab_size)
    params = embed.parameters() + lstm.parameters() + head.parameters()
    opt = zn.optim.SGD(params, lr=1.0)
    fused = name == "generic-fused"

    def loss_of(x, t):
        y, _ = lstm(embed(x))
        if fused:
            return F.linear_cross_entropy(y, head.weight, head.bias, t)
        return F.softmax_cross_entropy(head(y), t)

    def train():
        for x, t in windows:
            loss = loss_of(x, t)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss.data)

    def evaluate():
        with zn.no_grad():
            for x, t in windows:
                loss = loss_of(x, t)
        return float(loss.data)

    return train, evaluate


def torch_generic_fns(torch: Any, windows: list, vocab_size: int, device: str = "cpu") -> tuple[Any, Any]:
    c = CONFIGS["generic"]
    torch.manual_seed(0)
    embed = torch.nn.Embedding(vocab_size, c["wordvec"]).to(device)
    lstm = torch.nn.LSTM(c["wordvec"], c["hidden"], num_layers=c["layers"], batch_first=True).to(device)
    head = torch.nn.Linear(c["hidden"], vocab_size).to(device)
    opt = torch.optim.SGD([*embed.parameters(), *lstm.parameters(), *head.parameters()], lr=1.0)
    data = [(torch.from_numpy(x).to(device), torch.from_numpy(t).to(device)) for x, t in windows]

    def loss_of(x, t):
        y, _ = lstm(embed(x))
        return torch.nn.functional.cross_entropy(head(y).reshape(-1, vocab_size), t.reshape(-1))

    def train():
        for x, t in data:
            loss = loss_of(x, t)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss.detach())

    def evaluate():
        with torch.no_grad():
            for x, t in data:
                loss = loss_of(x, t)
        return float(loss)

    return train, evaluate


def torch_fns(torch: Any, name: str, windows: list, vocab_size: int, device: str = "cpu") -> tuple[Any, Any]:
    nn = torch.nn
    c = CONFIGS[name]
    torch.manual_seed(0)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, c["wordvec"])
            self.drop = nn.Dropout(c["dropout"])
            self.lstm = nn.LSTM(c["wordvec"], c["hidden"], num_layers=c["layers"], dropout=c["dropout"],
                                batch_first=True)
            self.fc = nn.Linear(c["hidden"], vocab_size)
            if c["tied"]:
                self.fc.weight = self.embed.weight
            self.state = None

        def forward(self, x):
            y, state = self.lstm(self.drop(self.embed(x)), self.state)
            self.state = tuple(s.detach() for s in state)
            return self.fc(self.drop(y))

    model = Model().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    loss_fn = nn.CrossEntropyLoss()
    data = [(torch.from_numpy(x).to(device), torch.from_numpy(t).to(device)) for x, t in windows]

    def train():
        model.train()
        for x, t in data:
            loss = loss_fn(model(x).reshape(-1, vocab_size), t.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            opt.step()
        return float(loss.detach())

    def evaluate():
        model.eval()
        with torch.no_grad():
            for x, t in data:
                loss = loss_fn(model(x).reshape(-1, vocab_size), t.reshape(-1))
        return float(loss)

    return train, evaluate


def _header(torch: Any, device: str, repeat: int) -> str:
    """The machine, the libraries and (on CPU) the BLAS kernels or (on CUDA) the GPU a run used."""
    if device == "cuda":
        import cupy

        gpu = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        return (f"{gpu}, python {platform.python_version()}, CuPy {cupy.__version__}, "
                f"torch {torch.__version__ if torch else 'n/a'} (CUDA), repeat {repeat}")
    threads = torch.get_num_threads() if torch is not None else "?"
    return (f"{platform.machine()}, python {platform.python_version()}, numpy {np.__version__}, "
            f"{blas_description()}, torch {torch.__version__ if torch else 'n/a'} ({threads} threads), "
            f"repeat {repeat}")


def parse_extra(extra: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks lstm")
    p.add_argument("--models", default="rnnlm,better,generic,generic-fused",
                   help="comma-separated: rnnlm, better, generic, generic-fused")
    p.add_argument("--windows", type=int, default=None, help="windows per timed call (default 10 / 3)")
    p.add_argument("--no-readme", action="store_true", help="leave benchmarks/README_lstm.md alone")
    return p.parse_args(extra)


def run(repeat: int, args: Any) -> list[dict[str, Any]]:
    opts = parse_extra(getattr(args, "extra", []) or [])
    torch = torch_or_none()
    device = getattr(args, "device", "cpu") or "cpu"
    zn.use_device(device)
    _, vocab = load_ptb("train")
    rows = []
    names = [n.strip() for n in opts.models.split(",") if n.strip()]
    for name in names:
        if name not in CONFIGS and name not in GROUPS:
            raise SystemExit(f"benchmarks lstm: unknown model {name!r} (rnnlm, better, generic, generic-fused)")
    done: set[str] = set()
    for name in names:
        if name in done:
            continue
        group = [v for v in GROUPS.get(name, (name,)) if v in names]
        done.update(group)
        count = opts.windows or (10 if name == "rnnlm" else 3)
        if getattr(args, "quick", False):
            count = max(1, count // 3)
        windows = _windows(count)
        device_windows = [(zn.backend.to_device(x), zn.backend.to_device(t)) for x, t in windows]
        tokens = count * BATCH * BPTT
        fns = {}
        for variant in group:
            make = generic_fns if variant.startswith("generic") else zeronlp_fns
            z_train, z_eval = make(variant, device_windows, len(vocab))
            fns.update({f"{variant} train": z_train, f"{variant} eval": z_eval})
        if torch is not None:
            t_train, t_eval = (torch_generic_fns(torch, windows, len(vocab), device) if name.startswith("generic")
                               else torch_fns(torch, name, windows, len(vocab), device))
            fns.update({"torch train": t_train, "torch eval": t_eval})
        peak_fns, peak_flops = gemm_peak_fns(torch, device=device)
        fns.update(peak_fns)
        times = interleaved(fns, repeat)
        peak = max(peak_flops / median(times[key]) for key in peak_fns)
        for variant in group:
            for mode in ("train", "eval"):
                zt = tokens / median(times[f"{variant} {mode}"])
                tt = tokens / median(times[f"torch {mode}"]) if torch is not None else float("nan")
                bound = tokens / (gemm_flops(variant, tokens, len(vocab), mode) / peak)
                rows.append({"model": variant, "mode": mode, "zeronlp": zt, "torch": tt, "ratio": zt / tt,
                             "bound": bound, "ceiling": bound / tt, "peak_gflops": peak / 1e9})
    zn.use_device("cpu")
    header = _header(torch, device, repeat)
    lines = ["| model | mode | zeronlp tokens/s | PyTorch tokens/s | ratio | GEMM-bound tokens/s | ceiling |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['mode']} | {r['zeronlp']:,.0f} | {r['torch']:,.0f} | {r['ratio']:.2f}x "
                     f"| {r['bound']:,.0f} | {r['ceiling']:.2f}x |")
    if rows:
        low, high = (f"{f(r['peak_gflops'] for r in rows):.0f}" for f in (min, max))
        header += f", GEMM peak {low if low == high else f'{low}-{high}'} GFLOP/s (2048^3, in the alternation)"
    print(header)
    print("\n".join(lines))
    if not opts.no_readme and device == "cpu":
        record_last_run(Path(__file__).with_name("README_lstm.md"),
                        f"Last run of `python -m benchmarks lstm --repeat {repeat}`: {header}\n\n" + "\n".join(lines))
    return rows
