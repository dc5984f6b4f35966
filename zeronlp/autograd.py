"""Define-by-run automatic differentiation: :class:`Tensor` and :class:`Function`.

Calling a Function on tensors runs ``forward`` on their raw arrays and, when gradients are
enabled, records the Function as the tensors' *creator*. ``loss.backward()`` then visits the
Functions in decreasing *generation* (creation depth), so a tensor used by several branches has
received every gradient before its creator propagates it further: ``y = x*x + x`` gives
``dy/dx = 2x + 1``.

This module is the bottom of the engine and imports nothing above it: Tensor's arithmetic
operators are attached by :mod:`zeronlp.functional` (``import zeronlp`` always imports it), and the
graph's DOT export (:func:`graph_to_dot`) is here because it needs only Tensor and Function.

Higher-order gradients (``backward(create_graph=True)``, :func:`grad`): the fast default runs
each Function's ``backward`` on raw arrays. With ``create_graph`` the engine instead calls
``backward_graph(*gys)``, the same derivative written with Functions (each Function of
:mod:`zeronlp.functional` defines it next to ``backward``), so the gradients are Tensors with a
graph of their own that can be differentiated again (DeZero's Variable-valued backward). A fused
Function that defines ``decompose(*inputs)`` (its forward composed of simple Functions) gets
``backward_graph`` for free by differentiating that composition; one with neither raises
``NotImplementedError`` naming itself.
"""

from __future__ import annotations

import contextlib
import heapq
import html
import itertools
import weakref
from typing import Any

import numpy as np

from . import backend

_grad_enabled = True
_function_order = itertools.count()  # see Function.order


@contextlib.contextmanager
def no_grad():
    """Inside this block no graph is recorded (evaluation, generation, optimizer steps)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


@contextlib.contextmanager
def enable_grad():
    """Re-enable graph recording inside a :func:`no_grad` block."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, True
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


def _as_array(value: Any, dtype: Any = None) -> Any:
    """Turn Python scalars/lists/arrays into a backend array; floats get the default dtype."""
    xp = backend.xp()
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (np.ndarray, np.generic)) or type(value).__module__.startswith("cupy"):
        array = value if backend.get_array_module(value) is xp else backend.to_device(value)
    else:
        array = xp.asarray(value)
        if dtype is None and array.dtype.kind == "f":
            array = array.astype(backend.get_default_dtype())
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    return array


class Tensor:
    """An array that remembers which Function made it.

    ``data`` and ``grad`` are plain arrays of the backend (``numpy.ndarray`` on CPU).
    """

    __array_priority__ = 200

    def __init__(self, data: Any, requires_grad: bool = False, name: str | None = None, dtype: Any = None):
        self.data = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"only floating tensors can require gradients, got dtype {self.data.dtype} "
                "(integer ids are inputs, not parameters)"
            )
        self.requires_grad = bool(requires_grad)
        self.grad: Any = None
        self.creator: Function | None = None
        self.generation = 0
        self.name = name
        self._retain_grad = False

    # (gradient array, gradient Tensor) from the last create_graph pass; a class default costs nothing
    _grad_pair: tuple[Any, Tensor] | None = None

    @property
    def grad_tensor(self) -> Tensor | None:
        """The gradient as a Tensor that carries its graph, after ``backward(create_graph=True)``.

        ``grad`` stays a plain array (optimizers read it); ``grad_tensor`` is what you differentiate
        again (the book's ``x.grad.backward()`` is ``x.grad_tensor.backward()``). It is None when the
        last pass did not create a graph or ``grad`` was changed or cleared since.
        """
        pair = self._grad_pair
        return pair[1] if pair is not None and pair[0] is self.grad else None

    def _accumulate_graph_grad(self, g: Tensor) -> None:
        previous = self.grad_tensor
        if previous is None and self.grad is not None:
            previous = Tensor(self.grad)  # a gradient accumulated without a graph is a constant
        total = g if previous is None else previous + g
        array = total.data.copy()
        self.grad, self._grad_pair = array, (array, total)

    # ---- array-like properties -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return int(self.data.size)

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    @property
    def device(self) -> str:
        return "cuda" if type(self.data).__module__.startswith("cupy") else "cpu"

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = str(backend.to_numpy(self.data)).replace("\n", "\n       ")
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}{grad})"

    def _repr_html_(self) -> str:
        """Jupyter's view: shape, dtype, device, gradient and creator above the (abridged) values."""
        grad = "None"
        if self.grad is not None:
            g = backend.to_numpy(self.grad)
            grad = f"array {tuple(g.shape)}, norm {float(np.linalg.norm(g.astype(np.float64))):.4g}"
        creator = type(self.creator).__name__ if self.creator is not None else "None (a leaf)"
        rows = [("name", self.name)] if self.name else []
        rows += [("shape", self.shape), ("dtype", self.dtype), ("device", self.device),
                 ("requires_grad", self.requires_grad), ("grad", grad), ("creator", creator)]
        cells = "".join(f"<tr><th style='text-align:left'>{key}</th><td style='text-align:left'>"
                        f"{html.escape(str(value))}</td></tr>" for key, value in rows)
        values = np.array2string(backend.to_numpy(self.data), threshold=120, edgeitems=3, precision=4)
        return (f"<div class='zeronlp-tensor'><b>Tensor</b><table>{cells}</table>"
                f"<pre>{html.escape(values)}</pre></div>")

    def numpy(self) -> np.ndarray:
        """A host NumPy copy of the data."""
        return backend.to_numpy(self.data).copy()

    def item(self) -> float:
        return self.data.item()

    def tolist(self) -> Any:
        return backend.to_numpy(self.data).tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self.requires_grad and is_grad_enabled():  # np.exp(t) would silently leave the graph (PyTorch raises)
            raise TypeError(
                f"a Tensor of shape {self.shape} that requires grad cannot become a NumPy array: a NumPy "
                "function would drop it from the graph. Use zeronlp.functional (F.exp, ...) to keep the "
                "gradient, or t.data / t.detach() for the values"
            )
        array = backend.to_numpy(self.data)
        return array.astype(dtype) if dtype is not None else array

    def detach(self) -> Tensor:
        """The same data, cut from the graph (truncated BPTT carries hidden states this way)."""
        return Tensor(self.data)

    def to(self, device: str) -> Tensor:
        """A copy on ``device`` ("cpu" or "cuda"), cut from the graph."""
        return Tensor(backend.to_device(self.data, device), requires_grad=self.requires_grad)

    def retain_grad(self) -> None:
        """Keep ``grad`` on this non-leaf tensor after backward (leaves keep it always)."""
        self._retain_grad = True

    def zero_grad(self) -> None:
        self.grad = None

    cleargrad = zero_grad  # DeZero's name

    def set_creator(self, function: Function) -> None:
        self.creator = function
        self.generation = function.generation + 1

    # ---- backpropagation --------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` defaults to ones for a scalar; give it for a non-scalar output.
        Gradients of non-leaf tensors are freed unless :meth:`retain_grad` was called.
        ``create_graph=True`` builds the backward pass from Functions, so every leaf's
        :attr:`grad_tensor` can be differentiated again (``retain_graph`` then defaults to True).
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (made under no_grad?)")
        if create_graph:
            _run_backward([self], [grad], None, True, True if retain_graph is None else retain_graph)
            return
        grad = _root_grad(self, grad, "backward()")
        if self.creator is None:
            self.grad = grad if self.grad is None else self.grad + grad
            return
        # id -> (tensor, gradient); holding the tensor keeps it alive after its consumer is released
        grads: dict[int, tuple[Tensor, Any]] = {id(self): (self, grad)}
        heap: list[tuple[int, int, int, Function]] = []
        seen: set[int] = set()

        def push(function: Function) -> None:
            if id(function) not in seen:
                seen.add(id(function))
                heapq.heappush(heap, (-function.generation, -function.order, id(function), function))

        push(self.creator)
        while heap:
            *_, function = heapq.heappop(heap)
            _inputs_of(function)  # a graph freed by an earlier backward: say so, and how to keep it
            outputs = [ref() for ref in function.outputs]
            output_grads = [grads.pop(id(o), (None, None))[1] if o is not None else None for o in outputs]
            if all(g is None for g in output_grads):
                continue
            for out, g in zip(outputs, output_grads):
                if out is not None and out._retain_grad and g is not None:
                    out.grad = g if out.grad is None else out.grad + g
            input_grads = function.backward(*output_grads)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            if len(input_grads) != len(function.inputs):
                raise RuntimeError(
                    f"{type(function).__name__}.backward returned {len(input_grads)} gradients "
                    f"for {len(function.inputs)} inputs"
                )
            for x, gx in zip(function.inputs, input_grads):
                if gx is None or not x.requires_grad:
                    continue
                if gx.shape != x.data.shape:
                    raise RuntimeError(
                        f"{type(function).__name__}.backward gave gradient of shape {gx.shape} "
                        f"for input of shape {x.shape}"
                    )
                if x.creator is None:
                    if x.grad is None:
                        x.grad = gx if function.fresh_grads else gx.copy()
                    else:
                        x.grad = x.grad + gx
                else:
                    key = id(x)
                    grads[key] = (x, gx if key not in grads else grads[key][1] + gx)
                    push(x.creator)
            if not retain_graph:
                function.release()

    # ---- graph export -----------------------------------------------------------------------
    def to_dot(self, verbose: bool = False) -> str:
        """The graph that produced this tensor in Graphviz DOT (tensors are ovals, Functions boxes)."""
        return graph_to_dot(self, verbose=verbose)

    # Arithmetic (+ - * / @ **, indexing, sum, reshape, ...) is attached by zeronlp.functional
    # (functional/operators.py), as DeZero's setup_variable does: autograd imports nothing above it.

    # comparisons give plain boolean arrays: they are not differentiable
    def __lt__(self, other):
        return self.data < _as_array(other)

    def __le__(self, other):
        return self.data <= _as_array(other)

    def __gt__(self, other):
        return self.data > _as_array(other)

    def __ge__(self, other):
        return self.data >= _as_array(other)

    __hash__ = object.__hash__

    def argmax(self, axis=None):
        return self.data.argmax(axis=axis)


def _tensor_label(t: Tensor, verbose: bool) -> str:
    label = t.name or ""
    if verbose:
        label = f"{label}: " if label else ""
        label += f"{t.shape} {t.dtype}"
    return label


def graph_to_dot(output: Tensor, verbose: bool = False) -> str:
    """DOT text of the graph behind ``output``: tensors as orange ovals, Functions as blue boxes,
    edges in data-flow direction (the book's graph pictures; render with ``dot -Tpng``)."""
    lines = ["digraph g {"]
    seen: set[int] = set()

    def add_tensor(t: Tensor) -> None:
        if id(t) not in seen:
            seen.add(id(t))
            lines.append(f'{id(t)} [label="{_tensor_label(t, verbose)}", color=orange, style=filled]')

    add_tensor(output)
    stack = [output.creator] if output.creator is not None else []
    while stack:
        function = stack.pop()
        if id(function) in seen or not hasattr(function, "inputs"):
            continue
        seen.add(id(function))
        lines.append(f'{id(function)} [label="{type(function).__name__}", color=lightblue, style=filled, shape=box]')
        for x in function.inputs:
            add_tensor(x)
            lines.append(f"{id(x)} -> {id(function)}")
            if x.creator is not None:
                stack.append(x.creator)
        for ref in function.outputs:
            y = ref()
            if y is not None:
                add_tensor(y)
                lines.append(f"{id(function)} -> {id(y)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Make a :class:`Tensor` from an array, list or number (floats become the default dtype)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def array_of(value: Any) -> Any:
    """The array inside a :class:`Tensor`, or ``value`` itself (an array, a list, a number).

    Never ``getattr(value, "data", value)``: a NumPy array's ``.data`` is a memoryview and a CuPy
    array's is a device memory pointer, so that idiom breaks on the GPU."""
    return value.data if isinstance(value, Tensor) else value


def as_tensor(value: Any) -> Tensor:
    """Return ``value`` if it is a Tensor, else wrap it (no gradient)."""
    return value if isinstance(value, Tensor) else Tensor(value)


class Function:
    """A node of the graph: ``forward`` on raw arrays, ``backward`` from output to input gradients.

    Subclasses keep what backward needs on ``self`` and return ``None`` for inputs that get no
    gradient. ``backward`` receives one gradient per output (``None`` for an unused output);
    ``self.needs_input_grad[i]`` tells whether input ``i`` wants one, so work can be skipped.

    A leaf's first gradient becomes its ``.grad`` as a copy (the Function might keep the array, or
    return one array for two inputs, and optimizers scale ``.grad`` in place). A subclass whose
    backward returns only new arrays that it keeps nowhere, one per input (disjoint views of one new
    array count), sets ``fresh_grads = True`` and its arrays are taken as they are: the weight
    gradients of the large layers, where the copies cost 3% of a 650-unit LSTM LM's training step.
    """

    generation = 0
    order = 0  # creation order among recorded Functions: breaks ties of generation deterministically
    needs_input_grad: tuple[bool, ...] = ()
    fresh_grads = False

    def __call__(self, *inputs: Any) -> Any:
        tensors = [as_tensor(x) for x in inputs]
        outputs = self.forward(*[t.data for t in tensors])
        single = not isinstance(outputs, tuple)
        if single:
            outputs = (outputs,)
        needs_grad = _grad_enabled and any(t.requires_grad for t in tensors)
        results = tuple(Tensor(y, requires_grad=needs_grad and y.dtype.kind == "f") for y in outputs)
        if needs_grad:
            self.generation = max(t.generation for t in tensors)
            # backward visits Functions of one generation latest-created first, never by memory
            # address: the order in which a shared tensor's gradients are summed (its float
            # rounding) is then the same in every run, so a seeded run and its resume are exact
            self.order = next(_function_order)
            self.inputs = tensors
            self.needs_input_grad = tuple(t.requires_grad for t in tensors)
            self.outputs = [weakref.ref(r) for r in results]
            for r in results:
                if r.requires_grad:
                    r.set_creator(self)
        else:
            self.release()
        return results[0] if single else results

    def forward(self, *xs: Any) -> Any:
        raise NotImplementedError

    def backward(self, *gys: Any) -> Any:
        raise NotImplementedError

    def backward_graph(self, *gys: Tensor | None) -> Any:
        """``backward`` written with Functions on Tensors (used by ``create_graph``).

        The default differentiates :meth:`decompose` (the forward composed of simple Functions)
        if the subclass defines it; otherwise this Function cannot be differentiated twice.
        """
        if not hasattr(self, "decompose"):
            raise NotImplementedError(
                f"{type(self).__name__} has no differentiable backward: create_graph=True / zn.grad("
                f"create_graph=True) cannot pass through it (use the composed reference instead)"
            )
        with enable_grad():
            proxies = [_Identity()(x) if x.requires_grad else x for x in self.inputs]
            outputs = self.decompose(*proxies)
            outputs = outputs if isinstance(outputs, tuple) else (outputs,)
            pairs = [(y, g) for y, g in zip(outputs, gys) if g is not None and y.requires_grad]
            targets = [p for p, x in zip(proxies, self.inputs) if x.requires_grad]
            found = _run_backward([y for y, _ in pairs], [g for _, g in pairs], targets, True, True,
                                  allow_unused=True) if pairs and targets else [None] * len(targets)
        it = iter(found)
        return tuple(next(it) if x.requires_grad else None for x in self.inputs)

    def output(self, index: int = 0) -> Tensor | None:
        """Output ``index`` as the Tensor the graph holds (for ``backward_graph``), or None if it is gone."""
        return self.outputs[index]()

    def release(self) -> None:
        """Drop what forward saved, so a graph that will not be differentiated costs no memory."""
        self.__dict__.clear()


class _Identity(Function):
    """y = x;  dx = gy (a fresh node in front of a decomposed Function's inputs)."""

    def forward(self, x):
        return x

    def backward(self, gy):
        return gy

    def backward_graph(self, gy):
        return gy


def _root_grad(output: Tensor, grad: Any, op: str) -> Any:
    """The starting gradient for ``output`` as an array: ones for a scalar, else ``grad`` checked."""
    if grad is None:
        if output.data.size != 1:
            raise RuntimeError(f"{op} without a gradient needs a scalar output, got shape {output.shape}")
        return backend.get_array_module(output.data).ones_like(output.data)
    grad = _as_array(grad).astype(output.data.dtype, copy=False)
    if grad.shape != output.data.shape:
        raise ValueError(f"{op}: gradient shape {grad.shape} != tensor shape {output.shape}")
    return grad


def _functions_reaching(roots: list[Tensor], target_ids: set[int]) -> set[int]:
    """ids of the Functions behind ``roots`` through which a target tensor is reached."""
    reaches: dict[int, bool] = {}
    for root in roots:
        stack = [root.creator] if root.creator is not None else []
        while stack:
            function = stack[-1]
            if id(function) in reaches:
                stack.pop()
                continue
            inputs = _inputs_of(function)
            pending = [x.creator for x in inputs if x.creator is not None and id(x.creator) not in reaches]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            reaches[id(function)] = any(
                id(x) in target_ids or (x.creator is not None and reaches[id(x.creator)]) for x in inputs
            )
    return {key for key, value in reaches.items() if value}


def _inputs_of(function: Function) -> list[Tensor]:
    inputs = function.__dict__.get("inputs")
    if inputs is None:
        raise RuntimeError(
            f"the graph through {type(function).__name__} was freed by an earlier backward; "
            "pass retain_graph=True to the first one to differentiate it again"
        )
    return inputs


def _run_backward(outputs: list[Tensor], grads: list[Any], targets: list[Tensor] | None, create_graph: bool,
                  retain_graph: bool, allow_unused: bool = False) -> list[Any] | None:
    """The general backward pass behind ``backward(create_graph=True)`` and :func:`grad`.

    Gradients are arrays, or Tensors with a graph when ``create_graph``. With ``targets`` the
    gradients of those tensors are returned (leaves' ``.grad`` untouched) and only the Functions
    that lead to a target run; without, leaves accumulate into ``.grad`` (and ``grad_tensor``).
    """
    target_ids = None if targets is None else {id(t) for t in targets}
    found: dict[int, Any] = {}
    pending: dict[int, tuple[Tensor, Any]] = {}

    def add(x: Tensor, g: Any) -> None:
        key = id(x)
        pending[key] = (x, g if key not in pending else pending[key][1] + g)

    relevant = None if targets is None else _functions_reaching(outputs, target_ids)
    heap: list[tuple[int, int, int, Function]] = []
    seen: set[int] = set()

    def push(function: Function) -> None:
        if id(function) not in seen and (relevant is None or id(function) in relevant):
            seen.add(id(function))
            heapq.heappush(heap, (-function.generation, -function.order, id(function), function))

    def settle(x: Tensor, g: Any) -> None:
        """x's gradient is complete: hand it to the caller, or to the leaf / retained tensor."""
        if target_ids is not None:
            if id(x) in target_ids:
                found[id(x)] = g
        elif x.creator is None or x._retain_grad:
            if create_graph:
                x._accumulate_graph_grad(g)
            else:
                x.grad = g.copy() if x.grad is None else x.grad + g

    for y, g in zip(outputs, grads):
        if create_graph and isinstance(g, Tensor):  # keep its graph: d(grad_outputs)/d(...) counts too
            _root_grad(y, g.data, "backward()" if targets is None else "grad()")
        else:
            g = _root_grad(y, g, "backward()" if targets is None else "grad()")
            g = Tensor(g) if create_graph else g
        add(y, g)
        if y.creator is not None:
            push(y.creator)
    with enable_grad() if create_graph else contextlib.nullcontext():
        while heap:
            *_, function = heapq.heappop(heap)
            inputs = _inputs_of(function)
            outs = [ref() for ref in function.outputs]
            out_grads = [pending.pop(id(o), (None, None))[1] if o is not None else None for o in outs]
            for o, g in zip(outs, out_grads):
                if g is not None:
                    settle(o, g)
            if all(g is None for g in out_grads):
                continue
            in_grads = function.backward_graph(*out_grads) if create_graph else function.backward(*out_grads)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(inputs):
                raise RuntimeError(
                    f"{type(function).__name__}.backward returned {len(in_grads)} gradients for {len(inputs)} inputs"
                )
            for x, gx in zip(inputs, in_grads):
                if gx is None or not x.requires_grad:
                    continue
                if tuple(gx.shape) != x.shape:
                    raise RuntimeError(
                        f"{type(function).__name__}.backward gave gradient of shape {tuple(gx.shape)} "
                        f"for input of shape {x.shape}"
                    )
                add(x, gx)
                if x.creator is not None:
                    push(x.creator)
            if not retain_graph:
                function.release()
    for x, g in list(pending.values()):  # leaves, and tensors whose creator did not need to run
        settle(x, g)
    if targets is None:
        return None
    result = [found.get(id(t)) for t in targets]
    for t, g in zip(targets, result):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad(): an input of shape {t.shape} is not used to compute the outputs "
                "(pass allow_unused=True to get None for it)"
            )
    return result


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, create_graph: bool = False,
         retain_graph: bool | None = None, allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """d(outputs)/d(inputs) as a tuple of Tensors, like ``torch.autograd.grad``; ``.grad`` is untouched.

    ``grad_outputs`` weights each output (ones for scalars); with ``create_graph=True`` the
    returned gradients carry a graph and can be differentiated again (Hessian-vector products,
    gradient penalties, Newton's method). ``retain_graph`` defaults to ``create_graph``.
    """
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or (single_out and not isinstance(grad_outputs, (list, tuple))):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for t in outputs + inputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"grad(): outputs and inputs must be Tensors, got {type(t).__name__}")
    for y in outputs:
        if not y.requires_grad:
            raise RuntimeError(f"grad(): an output of shape {y.shape} does not require grad")
    retain = create_graph if retain_graph is None else retain_graph
    found = _run_backward(outputs, list(grad_outputs), inputs, create_graph, retain, allow_unused)
    return tuple(g if g is None or isinstance(g, Tensor) else Tensor(g) for g in found)
