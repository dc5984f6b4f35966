"""F.as_ids: the one place that turns token ids into a backend integer array or says what is wrong."""

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F
from zeronlp.functional.embedding import InvalidIdsError


def test_as_ids_accepts_tensors_arrays_and_lists():
    ids = np.array([[1, 2], [3, 4]], dtype=np.int32)
    assert F.as_ids(ids, "test") is ids  # already a backend integer array: no copy
    np.testing.assert_array_equal(F.as_ids(zn.tensor(ids), "test", ndim=2), ids)
    listed = F.as_ids([[1, 2], [3, 4]], "test", ndim=2)
    assert listed.dtype.kind == "i" and listed.shape == (2, 2)
    empty = F.as_ids([], "test", ndim=1)
    assert empty.dtype.kind == "i" and empty.shape == (0,)


def test_as_ids_names_the_caller_shape_and_dtype():
    with pytest.raises(InvalidIdsError, match=r"RNNLM: ids must be integers, got dtype float32 \(shape \(2, 3\)\)"):
        F.as_ids(np.zeros((2, 3), dtype=np.float32), "RNNLM")
    with pytest.raises(zn.UsageError, match=r"Seq2Seq: ids must have 2 dimensions .*got shape \(5,\) \(dtype int64\)"):
        F.as_ids(np.arange(5), "Seq2Seq", ndim=2)
    # a wrong dtype is caught as TypeError, ValueError and UsageError alike
    for error in (TypeError, ValueError, zn.UsageError, zn.ZeronlpError):
        with pytest.raises(error):
            F.as_ids([0.5], "test")


def test_embedding_uses_as_ids():
    weight = zn.tensor(np.eye(3, dtype=np.float32))
    np.testing.assert_array_equal(F.embedding([2, 0], weight).data, np.eye(3)[[2, 0]])
    with pytest.raises(TypeError, match="embedding: ids must be integers"):
        F.embedding(np.array([0.0, 1.0]), weight)
