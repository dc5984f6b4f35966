"""Idioms that work on NumPy but break on CuPy, kept out of the package by reading its source.

``getattr(x, "data", x)`` looks like "the array of a Tensor, or x itself", but a NumPy array's ``.data``
is a memoryview (which NumPy happens to turn back into the array) and a CuPy array's ``.data`` is a
device memory pointer, so the idiom fails only on the GPU — found there in the CBOW model's
negative-sampling loss. :func:`zeronlp.autograd.array_of` is the one way to write it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

import zeronlp as zn
from zeronlp.autograd import array_of

PACKAGE_DIR = Path(zn.__file__).resolve().parent


def _getattr_data_calls(source: str) -> list[int]:
    """Line numbers of ``getattr(<anything>, "data", ...)`` calls in ``source``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value == "data"):
            lines.append(node.lineno)
    return lines


def test_scanner_finds_the_idiom():
    assert _getattr_data_calls("y = getattr(x, 'data', x)\nz = x.data\n") == [1]
    assert _getattr_data_calls("y = array_of(x)\n") == []


def test_package_never_reads_data_through_getattr():
    found = {str(path.relative_to(PACKAGE_DIR)): lines for path in sorted(PACKAGE_DIR.rglob("*.py"))
             if (lines := _getattr_data_calls(path.read_text(encoding="utf-8")))}
    assert found == {}, f"use zeronlp.autograd.array_of instead of getattr(x, 'data', x): {found}"


def test_array_of_unwraps_tensors_only():
    a = np.arange(3, dtype=np.float32)
    t = zn.tensor(a)
    assert array_of(t) is t.data
    assert array_of(a) is a
    assert array_of([1, 2]) == [1, 2]
