"""A trained seq2seq run, loaded for inference: ``load_seq2seq(run_dir)`` and ``translate(...)``.

A run directory written by ``zeronlp seq2seq train`` (:mod:`zeronlp.tasks.seq2seq`) holds
``model.safetensors`` (the best model) and ``checkpoint.safetensors`` (the last epoch, resumable).
Both store the weights under ``"model"``, the model and text settings under ``"config"`` and the
symbols under ``"vocab"``; loading prefers the best model. Loading reads arrays and JSON only,
and checks the config (types, ranges, agreement with the vocabulary and with the shape of every
stored tensor) before it builds the model: nothing is allocated beyond what the file holds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .. import backend
from ..data.seq import SeqCodec
from ..errors import CheckpointError, DataError, UsageError
from ..serialization import check_shapes, config_bool, config_choice, config_int, load, run_file
from .seq2seq import SEQ2SEQ_MODELS, build_seq2seq
from .transformer import check_transformer_seq2seq_config, transformer_seq2seq_parameter_shapes

MAX_SIZE = 1 << 24  # a bound on any one size in a stored config; the tensors then bound the rest
INITS = ("pytorch", "book")


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


def check_seq2seq_config(config: Any, source: Any = "config") -> dict[str, Any]:
    """The model fields of a stored seq2seq config, checked (types and ranges); builds nothing."""
    if isinstance(config, dict) and config.get("model") == "transformer":
        return {"model": "transformer", **check_transformer_seq2seq_config(config, source)}
    checked = {"model": config_choice(config, "model", source, sorted(SEQ2SEQ_MODELS), default="base"),
               "vocab_size": config_int(config, "vocab_size", source, low=1, high=MAX_SIZE),
               "wordvec_size": config_int(config, "wordvec_size", source, low=1, high=MAX_SIZE, default=16),
               "hidden_size": config_int(config, "hidden_size", source, low=1, high=MAX_SIZE, default=128),
               "bidirectional": config_bool(config, "bidirectional", source, default=False),
               "init": config_choice(config, "init", source, INITS, default="pytorch")}
    if checked["bidirectional"] and checked["hidden_size"] % 2:
        raise CheckpointError(f"{source}: field config/hidden_size: a bidirectional encoder needs an even "
                              f"hidden_size, got {checked['hidden_size']}")
    return checked


def _lstm_shapes(prefix: str, fan_in: int, hidden: int, suffix: str = "") -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight_ih_l0{suffix}": (4 * hidden, fan_in),
            f"{prefix}.weight_hh_l0{suffix}": (4 * hidden, hidden),
            f"{prefix}.bias_ih_l0{suffix}": (4 * hidden,), f"{prefix}.bias_hh_l0{suffix}": (4 * hidden,)}


def seq2seq_parameter_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter of the model a checked ``config`` describes (no allocation)."""
    if config["model"] == "transformer":
        return transformer_seq2seq_parameter_shapes(config)
    vocab, dim, hidden = config["vocab_size"], config["wordvec_size"], config["hidden_size"]
    kind = config["model"]
    shapes: dict[str, tuple[int, ...]] = {"encoder.embed.weight": (vocab, dim)}
    if config["bidirectional"]:
        shapes |= _lstm_shapes("encoder.lstm", dim, hidden // 2)
        shapes |= _lstm_shapes("encoder.lstm", dim, hidden // 2, "_reverse")
    else:
        shapes |= _lstm_shapes("encoder.lstm", dim, hidden)
    shapes["decoder_embed.weight"] = (vocab, dim)
    shapes |= _lstm_shapes("decoder_lstm", dim + hidden if kind == "peeky" else dim, hidden)
    width = hidden if kind == "base" else 2 * hidden
    return shapes | {"output.weight": (vocab, width), "output.bias": (vocab,)}


def load_seq2seq(path: str | os.PathLike) -> tuple[Any, SeqCodec]:
    """``(model, codec)`` of a trained run (its directory, or one of its ``.safetensors`` files), in eval mode.

    The file is data: its config is checked (types, ranges, agreement with the vocabulary and the
    stored tensors' shapes) before anything is built; a problem is a :class:`CheckpointError`
    naming the file and the field.
    """
    file = model_file(path)
    record = load(file)
    config = record.get("config") if isinstance(record, dict) else None
    symbols = record.get("vocab") if isinstance(record, dict) else None
    if not isinstance(config, dict) or not isinstance(symbols, list) or not isinstance(record.get("model"), dict):
        raise CheckpointError(f"{file}: not a seq2seq model (no config, vocabulary or weights; "
                              "made by `zeronlp seq2seq train`?)")
    checked = check_seq2seq_config(config, file)
    if checked["vocab_size"] != len(symbols):
        raise CheckpointError(f"{file}: field config/vocab_size: the model config says {checked['vocab_size']} "
                              f"symbols, the vocabulary has {len(symbols)}")
    check_shapes(record["model"], seq2seq_parameter_shapes(checked), file)
    try:
        codec = SeqCodec.from_config(config, symbols)
    except (DataError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{file}: {err}") from None
    try:
        model = build_seq2seq(checked)
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
