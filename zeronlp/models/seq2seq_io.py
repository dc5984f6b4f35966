"""A trained seq2seq run, loaded for inference: ``load_seq2seq(run_dir)`` and ``translate(...)``.

A run directory written by ``zeronlp seq2seq train`` (:mod:`zeronlp.tasks.seq2seq`) holds
``model.safetensors`` (the best model) and ``checkpoint.safetensors`` (the last epoch, resumable).
Both store the weights under ``"model"``, the model and text settings under ``"config"`` and the
symbols under ``"vocab"``; loading prefers the best model. Loading reads arrays and JSON only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .. import backend
from ..data.seq import SeqCodec
from ..errors import CheckpointError, DataError, UsageError
from ..serialization import load, run_file
from .seq2seq import build_seq2seq


class Translation(NamedTuple):
    """What :func:`translate` returns.

    ``answer``: the text; ``weights``: attention ``(len(output_tokens), src_length)`` with columns in
    the source's written order, or None for models without attention; ``input_tokens`` and
    ``output_tokens``: the labels of the weights' columns and rows.
    """

    answer: str
    weights: np.ndarray | None
    input_tokens: list[str]
    output_tokens: list[str]


def model_file(path: str | os.PathLike) -> Path:
    """The file to load from ``path``: itself if a file, else the run directory's best model or checkpoint."""
    return run_file(path, made_by="zeronlp seq2seq train` (for `compare`, pass one variant's folder")


def load_seq2seq(path: str | os.PathLike) -> tuple[Any, SeqCodec]:
    """``(model, codec)`` of a trained run (its directory, or one of its ``.safetensors`` files), in eval mode."""
    file = model_file(path)
    record = load(file)
    config = record.get("config") if isinstance(record, dict) else None
    symbols = record.get("vocab") if isinstance(record, dict) else None
    if not isinstance(config, dict) or not isinstance(symbols, list) or not isinstance(record.get("model"), dict):
        raise CheckpointError(f"{file}: not a seq2seq model (no config, vocabulary or weights; "
                              "made by `zeronlp seq2seq train`?)")
    try:
        codec = SeqCodec.from_config(config, symbols)
        model = build_seq2seq(config)
        model.load_state_dict(record["model"])
    except (DataError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{file}: cannot rebuild the seq2seq model: {err}") from None
    model.eval()
    return model, codec


def translate(model: Any, codec: SeqCodec, text: str, beam_size: int = 1) -> Translation:
    """The model's answer to ``text`` (greedy, or beam search with ``beam_size > 1``) and its attention.

    Surrounding whitespace is ignored, as in the training files. An unknown character or a source
    longer than the model takes raises :class:`DataError`.
    """
    text = text.strip()
    if not text:
        raise UsageError("nothing to translate: the input is empty")
    src = codec.encode_source(text)[None, :]
    length = codec.tgt_length - 1
    if beam_size > 1:
        ids, _, weights = model.beam_search(src, codec.start_id, length, beam_size, end_id=codec.end_id,
                                            return_attention=True)
    else:
        ids, weights = model.generate(src, codec.start_id, length, end_id=codec.end_id, return_attention=True)
    ids = backend.to_numpy(ids)[0]
    output_tokens = codec.answer_tokens(ids)
    input_tokens = codec.source_labels(text)
    if weights is not None:
        weights = backend.to_numpy(weights)[0][:len(output_tokens)]
        if codec.reverse:
            weights = weights[:, ::-1]
    return Translation(codec.decode(ids), weights, input_tokens, output_tokens)
