"""Truncated BPTT batches: a corpus cut into parallel streams, read in windows of ``bptt`` steps.

The corpus ``w_0 .. w_{N-1}`` is cut into ``batch_size`` contiguous streams of ``n = (N - 1) //
batch_size`` tokens (stream ``b`` starts at ``b * n``, the book's offsets). Window ``k`` holds
steps ``k*bptt .. (k+1)*bptt - 1`` of every stream: ``x[b, j]`` is a token and ``t[b, j]`` the
token after it. Consecutive windows continue the same streams, so a language model can carry
its (detached) hidden state from one window to the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import DataError


class BPTTBatcher:
    """Iterate ``(x, t)`` int64 windows of shape ``(batch_size, <= bptt)`` over ``ids``.

    ``drop_last=True`` drops a final window shorter than ``bptt``. ``len()`` is the number of windows.
    """

    def __init__(self, ids: Any, batch_size: int, bptt: int, drop_last: bool = False):
        ids = np.asarray(ids)
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise ValueError(f"BPTTBatcher: ids must be a 1-D integer array, got shape {ids.shape} dtype {ids.dtype}")
        if batch_size < 1 or bptt < 1:
            raise ValueError(f"BPTTBatcher: batch_size ({batch_size}) and bptt ({bptt}) must be positive")
        steps = (len(ids) - 1) // batch_size
        if steps < 1:
            raise DataError(
                f"BPTTBatcher: a corpus of {len(ids)} tokens is too short for batch_size {batch_size} "
                f"(needs at least {batch_size + 1}): use a smaller batch size or more text"
            )
        self.batch_size, self.bptt, self.drop_last, self.steps = batch_size, bptt, drop_last, steps
        self.inputs = ids[: batch_size * steps].astype(np.int64).reshape(batch_size, steps)
        self.targets = ids[1 : batch_size * steps + 1].astype(np.int64).reshape(batch_size, steps)

    def __len__(self) -> int:
        full, rest = divmod(self.steps, self.bptt)
        return full + (1 if rest and not self.drop_last else 0)

    @property
    def num_tokens(self) -> int:
        """Number of target tokens one pass yields."""
        return self.batch_size * (len(self) * self.bptt if self.drop_last else self.steps)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for k in range(len(self)):
            window = slice(k * self.bptt, (k + 1) * self.bptt)
            yield np.ascontiguousarray(self.inputs[:, window]), np.ascontiguousarray(self.targets[:, window])
