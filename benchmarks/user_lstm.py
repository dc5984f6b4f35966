"""A user's own LSTM language model built from ``nn`` layers: now the ``generic`` model of ``lstm``.

``python -m benchmarks user_lstm`` is kept as an alias of
``python -m benchmarks lstm --models generic,generic-fused --no-readme``: ``nn.Embedding(10000, 650)
-> nn.LSTM(650, 650, num_layers=2, batch_first=True) -> nn.Linear(650, 10000) -> softmax
cross-entropy``, SGD, batch 20 x 35 (issue 17's model), on PTB windows, against the same model in
PyTorch CPU, alternating in one process; ``generic-fused`` ends in ``F.linear_cross_entropy``.
"""

from __future__ import annotations

from typing import Any

from . import lstm


def run(repeat: int, args: Any) -> list[dict[str, Any]]:
    args.extra = ["--models", "generic,generic-fused", "--no-readme", *(getattr(args, "extra", []) or [])]
    return lstm.run(repeat, args)
