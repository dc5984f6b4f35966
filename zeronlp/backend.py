"""The array backend: one place that decides which array module (``xp``) zeronlp computes with.

``xp`` is NumPy by default; :func:`zeronlp.use_device` switches it to CuPy for CUDA. Every module
asks this one for the array module, the default float dtype and the random Generator, so a run is
repeatable with :func:`manual_seed` and moves between devices without copies of code.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import threading
from typing import Any

import numpy as np

from . import _blas_spin

_state: dict[str, Any] = {
    "xp": np,
    "device": "cpu",
    "dtype": np.float32,
    "rng": np.random.default_rng(0),
    "seed": 0,
    "threads": None,  # zeronlp's own compiled kernels (functional.vector_math); None: every CPU
}


def get_array_module(array: Any = None) -> Any:
    """The array module of ``array`` (cupy for device arrays, else numpy); the current one if None."""
    if array is None:
        return _state["xp"]
    if type(array).__module__.startswith("cupy"):
        import cupy

        return cupy
    return np


def xp() -> Any:
    """The current array module (``numpy`` on CPU, ``cupy`` on CUDA)."""
    return _state["xp"]


def device() -> str:
    """The current device name, ``"cpu"`` or ``"cuda"``."""
    return _state["device"]


def use_device(name: str) -> None:
    """Select ``"cpu"`` (NumPy) or ``"cuda"`` (CuPy) for all arrays created from now on."""
    if name == "cpu":
        _state["xp"], _state["device"] = np, "cpu"
    elif name in ("cuda", "gpu"):
        try:
            import cupy
        except ImportError as err:
            raise RuntimeError(
                "device 'cuda' needs CuPy: install it with `pip install zeronlp[gpu]` (cupy-cuda12x, "
                "CUDA 12) or `pip install zeronlp[gpu-cuda13]` (cupy-cuda13x) on a machine with an NVIDIA GPU"
            ) from err
        try:
            if cupy.cuda.runtime.getDeviceCount() < 1:
                raise RuntimeError("no CUDA device found")
        except Exception as err:  # cupy raises its own CUDARuntimeError
            raise RuntimeError(f"device 'cuda' was asked for but no usable GPU was found: {err}") from err
        _state["xp"], _state["device"] = cupy, "cuda"
    else:
        raise ValueError(f"unknown device {name!r}; use 'cpu' or 'cuda'")
    manual_seed(_state["seed"])


@contextlib.contextmanager
def device_scope(name: str):
    """Temporarily switch device inside a ``with`` block."""
    previous = _state["device"]
    use_device(name)
    try:
        yield
    finally:
        use_device(previous)


def to_numpy(array: Any) -> np.ndarray:
    """A host (NumPy) copy of ``array``, whatever device it lives on."""
    if type(array).__module__.startswith("cupy"):
        return array.get()
    return np.asarray(array)


def to_device(array: Any, name: str | None = None) -> Any:
    """Move ``array`` to device ``name`` (default: the current device)."""
    name = name or _state["device"]
    if name == "cpu":
        return to_numpy(array)
    import cupy

    return cupy.asarray(array)


def get_default_dtype() -> Any:
    """The default floating dtype (float32 unless changed)."""
    return _state["dtype"]


def set_default_dtype(dtype: Any) -> None:
    """Set the default floating dtype for parameters and tensors made from Python floats."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"default dtype must be a floating type, got {dtype}")
    _state["dtype"] = dtype.type


def set_num_threads(count: int | None, blas: bool = True) -> None:
    """Threads for zeronlp's CPU work, as ``torch.set_num_threads``: its own compiled kernels (the fused
    softmax cross-entropy's rows) and, with ``blas``, NumPy's BLAS (through ``threadpoolctl``).
    ``None`` gives the kernels every CPU this process may use and leaves BLAS as it is."""
    if count is not None and (int(count) != count or count < 1):
        raise ValueError(f"threads must be a positive integer, got {count!r}")
    _state["threads"] = None if count is None else int(count)
    if blas and count is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=int(count), user_api="blas")


_BLAS: list[Any] = []  # threadpoolctl's controller of the loaded BLAS libraries, found once


def _blas_controller() -> Any:
    if not _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS.append(ThreadpoolController().select(user_api="blas"))
    return _BLAS[0]


def _openblas_thread_functions() -> list[tuple[Any, Any]] | None:
    """(get, set) of ``openblas_{get,set}_num_threads`` of every loaded BLAS library, through ctypes; None
    unless all of them are OpenBLAS. Called directly rather than through threadpoolctl, whose limits
    only the first thread that set one may change (a worker thread's restore would silently do nothing)."""
    if "openblas_functions" not in _SINGLE:
        functions: list[tuple[Any, Any]] | None = []
        for lib in _blas_controller().lib_controllers:
            if lib.internal_api != "openblas" or functions is None:
                functions = None
                continue
            dll = ctypes.CDLL(lib.filepath)
            for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):
                get = getattr(dll, f"{prefix}openblas_get_num_threads{suffix}", None)
                if get is not None:
                    functions.append((get, getattr(dll, f"{prefix}openblas_set_num_threads{suffix}")))
                    break
        _SINGLE["openblas_functions"] = functions
    return _SINGLE["openblas_functions"]


_SINGLE: dict[str, Any] = {"depth": 0, "saved": None, "lock": threading.Lock()}


@contextlib.contextmanager
def single_threaded_blas() -> Any:
    """BLAS on one thread inside the block, restored after it, so that each of zeronlp's threads can run
    its own GEMMs side by side (a multithreaded OpenBLAS runs concurrent calls one after another).
    Blocks may overlap and be entered and left from any threads (two requests of a server): the first
    to enter sets one thread, the last to leave restores the counts found by the first. OpenBLAS is set
    through its own functions (a few microseconds; ``threadpoolctl.threadpool_limits`` scans every
    loaded library on each call, about 1 ms in a process that has imported torch); other BLAS libraries
    through threadpoolctl."""
    functions = _openblas_thread_functions()
    with _SINGLE["lock"]:
        if _SINGLE["depth"] == 0:
            if functions is not None:
                _SINGLE["saved"] = [get() for get, _ in functions]
                for _, set_threads in functions:
                    set_threads(1)
            else:
                _SINGLE["saved"] = _blas_controller().limit(limits=1)
        _SINGLE["depth"] += 1
    try:
        yield
    finally:
        with _SINGLE["lock"]:
            _SINGLE["depth"] -= 1
            if _SINGLE["depth"] == 0:
                saved, _SINGLE["saved"] = _SINGLE["saved"], None
                if functions is not None:
                    for (_, set_threads), count in zip(functions, saved):
                        set_threads(count)
                else:
                    saved.restore_original_limits()


def blas_threads_sleep() -> bool:
    """Whether NumPy's BLAS threads leave the cores soon after each call: OpenBLAS with a short idle
    spin (``zeronlp/_blas_spin.py``). Work that zeronlp splits over its own threads between BLAS calls
    pays only then (an OpenBLAS thread spinning for 0.1 s after each GEMM halved a 2-thread split)."""
    if not _blas_spin.SHORT_SPIN:
        return False
    return all(lib.internal_api == "openblas" for lib in _blas_controller().lib_controllers)


def get_num_threads() -> int:
    """The threads of zeronlp's own kernels: :func:`set_num_threads`'s count, or the CPUs available."""
    count = _state["threads"]
    if count is None:
        try:
            count = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # no affinity on this platform
            count = os.cpu_count() or 1
    return max(1, count)


def manual_seed(seed: int) -> None:
    """Seed the one Generator every sampler, initializer and dropout mask draws from."""
    _state["seed"] = int(seed)
    _state["rng"] = _state["xp"].random.default_rng(int(seed))
    _state["host_rng"] = np.random.default_rng(int(seed))


def get_rng() -> Any:
    """The backend's random Generator (NumPy's, or CuPy's on CUDA)."""
    return _state["rng"]


def get_host_rng() -> np.random.Generator:
    """A NumPy Generator for host-side sampling (shuffling batches, data splits)."""
    if "host_rng" not in _state:
        _state["host_rng"] = np.random.default_rng(_state["seed"])
    return _state["host_rng"]


def rng_state() -> dict:
    """The host Generator's state as JSON-able data (stored in checkpoints)."""
    return get_host_rng().bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore the host Generator from :func:`rng_state` output."""
    get_host_rng().bit_generator.state = state
