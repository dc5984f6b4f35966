"""Recurrent layers RNN, LSTM, GRU (whole sequences, fused) and their one-step cells.

Parameter names, shapes, gate order and initialization are PyTorch's (``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse`` for the backward direction;
U(-1/sqrt(H), 1/sqrt(H))), so ``layer.load_state_dict({k: v.numpy() for k, v in
torch_layer.state_dict().items()})`` gives identical outputs. Each layer direction runs as one
fused Function over the whole sequence (:mod:`zeronlp.functional.recurrent`).

``LSTM(..., peephole=True)`` adds peephole connections (Gers & Schmidhuber 2000; the seed's
"覗き穴結合"): the gates i, f see c_{t-1} and o sees c_t through per-unit weights
``weight_peephole_l{k}`` of shape (3, H) (rows p_i, p_f, p_o). PyTorch has no such option.
"""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from .. import functional as F
from ..autograd import Tensor, as_tensor
from ..functional import recurrent as R
from . import init
from .module import Module, Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _uniform(bound: float, *shape: int) -> Parameter:
    array = backend.xp().zeros(shape, dtype=backend.get_default_dtype())
    return Parameter(init.uniform_(array, -bound, bound))


class _RNNBase(Module):
    """Shared machinery of RNN/LSTM/GRU: parameters per layer and direction, state checks, stacking."""

    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 peephole: bool = False):
        super().__init__()
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(
                f"{type(self).__name__}: input_size ({input_size}), hidden_size ({hidden_size}) and "
                f"num_layers ({num_layers}) must be positive"
            )
        if not 0 <= dropout < 1:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        self.bidirectional, self.peephole = bidirectional, peephole
        self.num_directions = 2 if bidirectional else 1
        gates = _GATES[self.mode] * hidden_size
        bound = 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes(layer):
                setattr(self, f"weight_ih{suffix}", _uniform(bound, gates, layer_input))
                setattr(self, f"weight_hh{suffix}", _uniform(bound, gates, hidden_size))
                if bias:
                    setattr(self, f"bias_ih{suffix}", _uniform(bound, gates))
                    setattr(self, f"bias_hh{suffix}", _uniform(bound, gates))
                if peephole:
                    setattr(self, f"weight_peephole{suffix}", _uniform(bound, 3, hidden_size))

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.num_directions]

    def _weights(self, suffix: str) -> tuple[Any, Any, Any, Any]:
        get = self.__dict__.get
        return tuple(get(f"{kind}{suffix}") for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    # ---- input and state handling ---------------------------------------------------------------
    def _prepare_input(self, x: Any, features: int | None = None) -> tuple[Tensor, bool]:
        x = as_tensor(x)
        features = self.input_size if features is None else features
        name = type(self).__name__
        layout = "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
        if x.ndim not in (2, 3):
            raise ValueError(
                f"{name}: input must be {layout} or unbatched (seq_len, input_size), got shape {x.shape}"
            )
        if x.shape[-1] != features:
            raise ValueError(
                f"{name}: input of shape {x.shape} has input_size {x.shape[-1]}, expected {features} "
                f"(input layout {layout})"
            )
        unbatched = x.ndim == 2
        if unbatched:
            x = x.reshape(x.shape[0], 1, x.shape[1])
        elif self.batch_first:
            x = F.transpose(x, (1, 0, 2))
        return x, unbatched

    def _prepare_state(self, state: Any, batch: int, unbatched: bool, what: str) -> list[Any]:
        """Split a (num_layers * num_directions, B, H) state into one (B, H) tensor per layer direction."""
        count = self.num_layers * self.num_directions
        expected = (count, batch, self.hidden_size)
        if state is None:
            zeros = backend.xp().zeros((batch, self.hidden_size), dtype=backend.get_default_dtype())
            return [zeros] * count
        state = as_tensor(state)
        if unbatched and state.ndim == 2:
            state = state.reshape(count, 1, self.hidden_size)
        if state.shape != expected:
            raise ValueError(
                f"{type(self).__name__}: {what} of shape {state.shape} does not match "
                f"(num_layers * num_directions, batch, hidden_size) = {expected}"
            )
        return [state[k] for k in range(count)]

    def _finish(self, output: Tensor, finals: list[Tensor], unbatched: bool) -> tuple[Tensor, Tensor]:
        h_n = F.stack(finals, axis=0)
        if unbatched:
            return output.reshape(output.shape[0], output.shape[2]), h_n.reshape(h_n.shape[0], h_n.shape[2])
        if self.batch_first:
            output = F.transpose(output, (1, 0, 2))
        return output, h_n

    def _run(self, x: Tensor, states: list[list[Any]], cell) -> tuple[Tensor, list[list[Tensor]]]:
        """Run every layer and direction; ``cell(x, states_k, suffix, reverse)`` -> (y, *finals)."""
        finals: list[list[Tensor]] = [[] for _ in states]
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout)
            outputs = []
            for direction, suffix in enumerate(self._suffixes(layer)):
                k = layer * self.num_directions + direction
                y, *final = cell(x, [s[k] for s in states], suffix, direction == 1)
                outputs.append(y)
                for slot, value in zip(finals, final):
                    slot.append(value)
            x = outputs[0] if len(outputs) == 1 else F.concat(outputs, axis=2)
        return x, finals

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        text += f", batch_first={self.batch_first}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        if self.peephole:
            text += ", peephole=True"
        return text


class RNN(_RNNBase):
    """Elman RNN h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    ``forward(x, h0=None) -> (output, h_n)``: output (B, T, D*H) with ``batch_first`` (the default
    here), h_n (num_layers * D, B, H) with D = 2 if bidirectional.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = True, dropout: float = 0.0,
                 bidirectional: bool = False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, h0: Any = None) -> tuple[Tensor, Tensor]:
        x, unbatched = self._prepare_input(x)
        states = [self._prepare_state(h0, x.shape[1], unbatched, "h0")]

        def cell(inputs, state, suffix, reverse):
            w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
            return R.rnn(inputs, state[0], w_ih, w_hh, b_ih, b_hh, self.nonlinearity, reverse)

        output, (finals,) = self._run(x, states, cell)
        return self._finish(output, finals, unbatched)


class LSTM(_RNNBase):
    """Long short-term memory, PyTorch gate order (i, f, g, o).

    ``forward(x, (h0, c0)=None, static=None) -> (output, (h_n, c_n))``; shapes as :class:`RNN`.
    ``peephole=True`` adds peephole weights (not in PyTorch; see the module docstring).

    ``static`` (batch, S): an input that is the same at every time step (the encoder state of the book's
    PeekySeq2seq, a latent code, a condition), as if concatenated to each step's input: ``input_size``
    counts it (I + S) and ``x`` has the first I features. Its share of the first layer's input projection,
    ``static W_s^T`` with W_s the last S columns of ``weight_ih``, is computed once instead of at every
    step, and enters the steps as a per-sequence bias (equal to the concatenation up to float rounding).
    """

    mode = "LSTM"

    def forward(self, x: Any, hx: Any = None, static: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        static_size = 0
        if static is not None:
            static = as_tensor(static)
            static_size = static.shape[-1] if static.ndim else 0
            if static.ndim not in (1, 2) or not 0 < static_size < self.input_size:
                raise ValueError(f"LSTM: static input of shape {static.shape} must be (batch, S) with 0 < S < "
                                 f"input_size ({self.input_size})")
        x, unbatched = self._prepare_input(x, self.input_size - static_size)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError("LSTM: the state must be a pair (h0, c0)")
        h0, c0 = (None, None) if hx is None else hx
        batch = x.shape[1]
        states = [self._prepare_state(h0, batch, unbatched, "h0"),
                  self._prepare_state(c0, batch, unbatched, "c0")]
        if static is not None:
            static = static.reshape(1, static_size) if static.ndim == 1 else static
            if static.shape[0] != batch:
                raise ValueError(f"LSTM: static input of shape {static.shape} does not match the batch of {batch}")
        get = self.__dict__.get

        def cell(inputs, state, suffix, reverse):
            w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
            if static is not None and suffix.startswith("_l0"):
                w_s = w_ih[:, w_ih.shape[1] - static_size:]
                w_ih = w_ih[:, :w_ih.shape[1] - static_size]
                b_ih = F.linear(static, w_s, b_ih)  # (batch, 4H), added at every step
                if b_hh is None:
                    b_hh = backend.xp().zeros(w_hh.shape[0], dtype=w_hh.dtype)
            return R.lstm(inputs, state[0], state[1], w_ih, w_hh, b_ih, b_hh, get(f"weight_peephole{suffix}"),
                          reverse)

        output, (h_finals, c_finals) = self._run(x, states, cell)
        output, h_n = self._finish(output, h_finals, unbatched)
        c_n = F.stack(c_finals, axis=0)
        if unbatched:
            c_n = c_n.reshape(c_n.shape[0], c_n.shape[2])
        return output, (h_n, c_n)


class GRU(_RNNBase):
    """Gated recurrent unit, PyTorch gate order (r, z, n) with b_hn inside the reset product.

    ``forward(x, h0=None) -> (output, h_n)``; shapes as :class:`RNN`.
    """

    mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)

    def forward(self, x: Any, h0: Any = None) -> tuple[Tensor, Tensor]:
        x, unbatched = self._prepare_input(x)
        states = [self._prepare_state(h0, x.shape[1], unbatched, "h0")]

        def cell(inputs, state, suffix, reverse):
            w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
            return R.gru(inputs, state[0], w_ih, w_hh, b_ih, b_hh, reverse)

        output, (finals,) = self._run(x, states, cell)
        return self._finish(output, finals, unbatched)


# ---------------------------------------------------------------------------- cells


class _CellBase(Module):
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        bound = 1 / math.sqrt(hidden_size)
        self.weight_ih = _uniform(bound, self.gates * hidden_size, input_size)
        self.weight_hh = _uniform(bound, self.gates * hidden_size, hidden_size)
        if bias:
            self.bias_ih = _uniform(bound, self.gates * hidden_size)
            self.bias_hh = _uniform(bound, self.gates * hidden_size)
        else:
            self.bias_ih = self.bias_hh = None

    def _check(self, x: Any, h: Any, what: str = "hx") -> tuple[Tensor, Any, bool]:
        x = as_tensor(x)
        name = type(self).__name__
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input of shape {x.shape} does not match (batch, input_size) with "
                f"input_size {self.input_size}"
            )
        unbatched = x.ndim == 1
        if unbatched:
            x = x.reshape(1, self.input_size)
        if h is None:
            h = backend.xp().zeros((x.shape[0], self.hidden_size), dtype=backend.get_default_dtype())
        else:
            h = as_tensor(h)
            if unbatched and h.ndim == 1:
                h = h.reshape(1, -1)
            if h.shape != (x.shape[0], self.hidden_size):
                raise ValueError(
                    f"{name}: {what} of shape {h.shape} does not match (batch, hidden_size) = "
                    f"{(x.shape[0], self.hidden_size)}"
                )
        return x, h, unbatched

    @staticmethod
    def _unbatch(h: Tensor, unbatched: bool) -> Tensor:
        return h.reshape(h.shape[1]) if unbatched else h

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_CellBase):
    """One step of :class:`RNN`: ``h' = cell(x, h=None)``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, h: Any = None) -> Tensor:
        x, h, unbatched = self._check(x, h)
        out = R.rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)
        return self._unbatch(out, unbatched)


class LSTMCell(_CellBase):
    """One step of :class:`LSTM`: ``(h', c') = cell(x, (h, c)=None)``; optional peephole weights."""

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, peephole: bool = False):
        super().__init__(input_size, hidden_size, bias)
        self.peephole = peephole
        self.weight_peephole = _uniform(1 / math.sqrt(hidden_size), 3, hidden_size) if peephole else None

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        h, c = (None, None) if hx is None else hx
        x, h, unbatched = self._check(x, h, "h")
        _, c, _ = self._check(x, c, "c")
        h, c = R.lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                           self.weight_peephole)
        return self._unbatch(h, unbatched), self._unbatch(c, unbatched)


class GRUCell(_CellBase):
    """One step of :class:`GRU`: ``h' = cell(x, h=None)``."""

    gates = 3

    def forward(self, x: Any, h: Any = None) -> Tensor:
        x, h, unbatched = self._check(x, h)
        out = R.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return self._unbatch(out, unbatched)
