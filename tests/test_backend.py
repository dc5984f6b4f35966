import builtins

import numpy as np
import pytest

import zeronlp as zn


def test_cuda_without_cupy_gives_a_clear_error(monkeypatch):
    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy" or name.startswith("cupy."):
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    with pytest.raises(RuntimeError, match="needs CuPy"):
        zn.use_device("cuda")
    assert zn.backend.device() == "cpu"


def test_unknown_device():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        zn.use_device("tpu")


def test_manual_seed_repeats_draws():
    zn.manual_seed(5)
    a = zn.nn.Linear(3, 3).weight.data.copy()
    zn.manual_seed(5)
    b = zn.nn.Linear(3, 3).weight.data.copy()
    np.testing.assert_array_equal(a, b)


def test_set_default_dtype_rejects_ints():
    with pytest.raises(ValueError, match="floating"):
        zn.set_default_dtype(np.int32)
