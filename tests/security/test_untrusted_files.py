"""What zeronlp promises about files it did not write itself (a run directory from someone else,
a downloaded checkpoint, a vectors file):

* **Loading never executes code**: checkpoints are safetensors + JSON; pickle is refused unread.
* **A file is data, never a program**: no path stored in a file is opened (a classifier's vectors
  are the fixed ``vectors.bin`` of its own run directory; a link out of it is refused).
* **Validated before use**: a stored config's types and ranges, and its agreement with the shapes
  of the stored tensors, are checked *before* a model is built, so no allocation exceeds what the
  file itself holds (a 10 kB file cannot make a loader ask for gigabytes).
* **Bounded and non-blocking**: only regular files are opened (a FIFO would block, ``/dev/zero``
  never ends); nothing is read beyond the file's actual size.
* **Errors name the file and the field**: a corrupt tree, a dangling tensor reference, nesting
  1,000 deep, a wrong type is a :class:`~zeronlp.errors.CheckpointError` (or a ``DataError`` for
  data files) saying which file and which field, never a bare ``KeyError``/``RecursionError``/
  ``TypeError``/``MemoryError``.

Hostile files are loaded in a subprocess under ``resource`` limits (address space, CPU seconds),
so a regression fails the test instead of exhausting the machine.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from safetensors.numpy import save_file

from zeronlp import nn, optim
from zeronlp.data.vocab import Vocabulary
from zeronlp.errors import CheckpointError, DataError
from zeronlp.models.classifier import (
    build_model,
    check_classifier_config,
    classifier_parameter_shapes,
    load_classifier,
    save_classifier,
)
from zeronlp.models.rnnlm import MODELS, build_lm, lm_parameter_shapes, load_lm
from zeronlp.models.seq2seq import build_seq2seq
from zeronlp.models.seq2seq_io import load_seq2seq, seq2seq_parameter_shapes
from zeronlp.serialization import load, save
from zeronlp.train import Trainer
from zeronlp.train.checkpoint import check_record

FORMAT = "zeronlp-checkpoint/1"
LIMIT_BYTES = 1536 << 20  # address space of the subprocess that loads a hostile file


def raw_checkpoint(path, tree, tensors=None):
    """A file in zeronlp's format with any tree and tensor table (what a hostile writer can make)."""
    save_file(tensors if tensors is not None else {"a": np.zeros(2, np.float32)}, str(path),
              metadata={"format": FORMAT, "tree": tree if isinstance(tree, str) else json.dumps(tree)})
    return path


def load_bounded(code, *paths, seconds=30):
    """Run ``code`` (with ``PATH0``, ``PATH1`` ... defined) in a subprocess under memory/CPU limits;
    returns its stdout. The code prints the error type and message it got."""
    prelude = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({LIMIT_BYTES}, {LIMIT_BYTES}))
        resource.setrlimit(resource.RLIMIT_CPU, ({seconds}, {seconds}))
    """)
    paths_code = "".join(f"PATH{i} = {os.fspath(p)!r}\n" for i, p in enumerate(paths))
    body = textwrap.dedent(code)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", prelude + paths_code + body], capture_output=True, text=True,
                          timeout=seconds * 3, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# ------------------------------------------------------------------------------ the container


@pytest.mark.parametrize("tree, tensors, field", [
    ({"x": {"__array__": "missing"}}, None, "field /x: refers to tensor 'missing'"),
    ({"x": {"__array__": ["a"]}}, None, "field /x: a malformed tensor reference"),
    ({"x": {"__array__": "a"}, "y": {"__array__": "a"}}, None, "referenced twice"),
    ({"x": 1}, None, "tensor table holds 1 tensor"),
    ("[" * 1000 + "]" * 1000, None, "nested"),
    ("{", None, "field tree (the file's metadata): not valid JSON"),
])
def test_corrupt_tree_is_a_checkpoint_error_naming_path_and_field(tmp_path, tree, tensors, field):
    path = raw_checkpoint(tmp_path / "bad.safetensors", tree, tensors)
    with pytest.raises(CheckpointError, match=str(path)) as err:
        load(path)
    assert field in str(err.value)


def test_deep_nesting_that_json_accepts_is_refused_by_depth(tmp_path):
    path = raw_checkpoint(tmp_path / "deep.safetensors", "[" * 200 + "]" * 200)
    with pytest.raises(CheckpointError, match="nested more than 64 levels"):
        load(path)


def test_non_regular_files_are_refused_before_opening(tmp_path):
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)  # opening it for reading would block forever
    with pytest.raises(CheckpointError, match="FIFO"):
        load(fifo)
    (tmp_path / "zero.safetensors").symlink_to("/dev/zero")
    with pytest.raises(CheckpointError, match="character device"):
        load(tmp_path / "zero.safetensors")
    with pytest.raises(CheckpointError, match="FIFO"):
        load_lm(fifo)


def test_header_length_bomb_is_refused_fast(tmp_path):
    path = tmp_path / "bomb.safetensors"
    path.write_bytes((1 << 62).to_bytes(8, "little") + b'{"__metadata__":{}}')
    with pytest.raises(CheckpointError, match=str(path)):
        load(path)


# ------------------------------------------------------------------------------ language models


def tiny_lm_record(**config_changes):
    model = build_lm({"name": "rnnlm", "vocab_size": 6, "wordvec_size": 4, "hidden_size": 4})
    vocab = Vocabulary(["a", "b", "c", "d", "<eos>", "<unk>"], unk_token="<unk>")
    return {"model": dict(model.state_dict()), "config": {**model.config(), **config_changes},
            "vocab": vocab.to_dict(), "text": {"tokenizer": "whitespace"}}


@pytest.mark.parametrize("change, field", [
    ({"hidden_size": 10**6}, "field model/lstm.weight_ih_l0: shape (16, 4) does not match (4000000, 4)"),
    ({"vocab_size": 4_000_000}, "field model/embed.weight"),
    ({"hidden_size": 10**12}, "field config/hidden_size: 1000000000000 is out of range"),
    ({"hidden_size": "4"}, "field config/hidden_size: expected an integer"),
    ({"hidden_size": 4.0}, "field config/hidden_size: expected an integer"),
    ({"name": "os.system"}, "field config/name"),
    ({"name": "better", "num_layers": 1, "dropout": float("nan"), "tie_weights": False}, "field config/dropout"),
    ({"name": "better", "num_layers": 10**9, "dropout": 0.0, "tie_weights": False}, "field config/num_layers"),
])
def test_lm_config_is_checked_against_the_tensors_before_building(tmp_path, change, field):
    path = tmp_path / "model.safetensors"
    save(tiny_lm_record(**change), path)
    out = load_bounded("""
        from zeronlp.models.rnnlm import load_lm
        try:
            load_lm(PATH0)
        except Exception as err:
            print(type(err).__name__, err)
    """, path)
    assert out.startswith("CheckpointError") and str(path) in out and field in out, out


def test_lm_vocabulary_must_agree_with_the_config(tmp_path):
    record = tiny_lm_record()
    record["vocab"] = {"words": ["x"]}
    save(record, tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match="field config/vocab_size: the model config says 6 words"):
        load_lm(tmp_path / "m.safetensors")
    record["vocab"] = 5
    save(record, tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match="field vocab"):
        load_lm(tmp_path / "m.safetensors")


@pytest.mark.parametrize("config", [
    {"name": "rnnlm", "vocab_size": 7, "wordvec_size": 3, "hidden_size": 5},
    {"name": "better", "vocab_size": 7, "wordvec_size": 5, "hidden_size": 5, "num_layers": 3, "dropout": 0.5,
     "tie_weights": True},
    {"name": "better", "vocab_size": 7, "wordvec_size": 3, "hidden_size": 5, "num_layers": 2, "dropout": 0.0,
     "tie_weights": False},
])
def test_lm_shape_formula_matches_the_built_model(config):
    built = {k: v.shape for k, v in MODELS[config["name"]](**{k: v for k, v in config.items() if k != "name"})
             .state_dict().items()} if config["name"] == "better" else \
        {k: v.shape for k, v in build_lm(config).state_dict().items()}
    assert lm_parameter_shapes(config) == built


# ------------------------------------------------------------------------------ seq2seq


@pytest.mark.parametrize("kind", ["base", "peeky", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_seq2seq_shape_formula_matches_the_built_model(kind, bidirectional):
    config = {"model": kind, "vocab_size": 13, "wordvec_size": 5, "hidden_size": 6, "bidirectional": bidirectional,
              "init": "pytorch"}
    built = {k: v.shape for k, v in build_seq2seq(config).state_dict().items()}
    assert seq2seq_parameter_shapes(config) == built


def seq2seq_record(**changes):
    model = build_seq2seq({"model": "attention", "vocab_size": 5, "wordvec_size": 3, "hidden_size": 4})
    config = model.config() | {"level": "char", "src_length": 3, "tgt_length": 3, "pad": " ", "start": "_",
                               "end": None, "unk": None, "reverse": False, "tokenizer": "whitespace"}
    return {"model": dict(model.state_dict()), "config": config | changes, "vocab": [" ", "_", "1", "2", "+"]}


@pytest.mark.parametrize("change, field", [
    ({"hidden_size": 1 << 22}, "field model/"),
    ({"vocab_size": 10**6}, "field config/vocab_size"),
    ({"model": "__import__"}, "field config/model"),
    ({"src_length": 10**9}, "field config/src_length"),
    ({"src_length": 60000, "tgt_length": 60000}, "config/src_length and config/tgt_length"),
    ({"reverse": "yes"}, "field config/reverse"),
    ({"level": "byte"}, "field config/level"),
])
def test_seq2seq_config_is_checked_before_building(tmp_path, change, field):
    path = tmp_path / "model.safetensors"
    save(seq2seq_record(**change), path)
    out = load_bounded("""
        from zeronlp.models.seq2seq_io import load_seq2seq
        try:
            load_seq2seq(PATH0)
        except Exception as err:
            print(type(err).__name__, err)
    """, path)
    assert out.startswith("CheckpointError") and str(path) in out and field in out, out


def test_seq2seq_good_file_still_loads(tmp_path):
    save(seq2seq_record(), tmp_path / "model.safetensors")
    model, codec = load_seq2seq(tmp_path)
    assert len(codec) == 5 and model.vocab_size == 5


# ------------------------------------------------------------------------------ classifiers

CLASSIFIER_CONFIGS = [
    {"kind": "linear", "num_classes": 3, "in_features": 5},
    {"kind": "mlp", "num_classes": 3, "in_features": 5, "hidden_size": 7, "depth": 2, "dropout": 0.5},
    {"kind": "mean", "num_classes": 3, "vocab_size": 11, "embedding_dim": 5},
    {"kind": "bigru", "num_classes": 3, "vocab_size": 11, "embedding_dim": 5, "hidden_size": 7},
    {"kind": "cnn", "num_classes": 3, "vocab_size": 11, "embedding_dim": 5, "num_filters": 4, "kernel_sizes": [2, 3]},
]


@pytest.mark.parametrize("config", CLASSIFIER_CONFIGS, ids=lambda c: c["kind"])
def test_classifier_shape_formula_matches_the_built_model(config):
    checked = check_classifier_config(config)
    assert classifier_parameter_shapes(checked) == {k: v.shape for k, v in build_model(config).state_dict().items()}


def text_classifier_file(tmp_path, **changes):
    config = {"kind": "mean", "num_classes": 2, "vocab_size": 4, "embedding_dim": 3}
    vocab = Vocabulary(["<pad>", "<unk>", "good", "bad"], unk_token="<unk>")
    path = tmp_path / "model.safetensors"
    save_classifier(path, build_model(config), config, ["neg", "pos"], vocab)
    record = load(path)
    record["config"] = record["config"] | changes
    save(record, path)
    return path


@pytest.mark.parametrize("change, field", [
    ({"embedding_dim": 1 << 23}, "field model/embedding.weight"),
    ({"vocab_size": True}, "field config/vocab_size: expected an integer"),
    ({"max_length": 10**12}, "field config/max_length"),
    ({"kind": "mlp", "in_features": 3, "hidden_size": 1 << 24, "depth": 1, "dropout": 0.0}, "field model"),
])
def test_classifier_config_is_checked_before_building(tmp_path, change, field):
    path = text_classifier_file(tmp_path, **change)
    out = load_bounded("""
        from zeronlp.models.classifier import load_classifier
        try:
            load_classifier(PATH0)
        except Exception as err:
            print(type(err).__name__, err)
    """, path)
    assert out.startswith("CheckpointError") and str(path) in out and field in out, out


def test_classifier_vectors_link_out_of_the_run_directory_is_refused(tmp_path):
    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    elsewhere.mkdir()
    config = {"kind": "linear", "num_classes": 2, "in_features": 3}
    save_classifier(run / "model.safetensors", build_model(config), config, ["neg", "pos"])
    (elsewhere / "secret.txt").write_text("1 3\nword 1 2 3\n")
    (run / "vectors.bin").symlink_to(elsewhere / "secret.txt")
    with pytest.raises(CheckpointError, match="outside the run directory"):
        load_classifier(run)
    (run / "vectors.bin").unlink()
    os.mkfifo(run / "vectors.bin")
    with pytest.raises(CheckpointError, match="missing"):  # not a regular file: never opened
        load_classifier(run)


# ------------------------------------------------------------------------------ training checkpoints


@pytest.mark.parametrize("change, field", [
    ({"epoch": -5}, "field epoch: -5 is out of range"),
    ({"epoch": "x"}, "field epoch: expected an integer"),
    ({"position": 1.5}, "field position: expected an integer"),
    ({"history": {"a": 1}}, "field history"),
    ({"best": float("nan")}, "field best"),
    ({"epoch_sums": [1, 2]}, "field epoch_sums"),
    ({"rng": {"host": 5}}, "field rng"),
    ({"rng": {"host": {"bit_generator": "MT19937", "state": {}}}}, "field rng/host/bit_generator"),
    ({"callbacks": "x"}, "field callbacks"),
])
def test_resume_refuses_a_tampered_training_checkpoint(tmp_path, change, field):
    net = nn.Linear(3, 2)
    data = (np.random.default_rng(0).random((10, 3)).astype(np.float32), np.arange(10) % 2)
    Trainer(net, optim.SGD(net.parameters(), lr=0.1), out_dir=tmp_path, quiet=True, batch_size=5).fit(data)
    record = load(tmp_path / "checkpoint.safetensors")
    save(record | change, tmp_path / "checkpoint.safetensors")
    before = {k: v.copy() for k, v in net.state_dict().items()}
    trainer = Trainer(net, optim.SGD(net.parameters(), lr=0.1), out_dir=tmp_path, quiet=True, batch_size=5)
    with pytest.raises(CheckpointError, match=str(tmp_path)) as err:
        trainer.fit(data, epochs=3, resume=True)
    assert field in str(err.value)
    assert all(np.array_equal(before[k], v) for k, v in net.state_dict().items())  # checked before applied


def test_optimizer_state_that_does_not_fit_is_a_checkpoint_error(tmp_path):
    net = nn.Linear(3, 2)
    data = (np.ones((4, 3), np.float32), np.array([0, 1, 0, 1]))
    Trainer(net, optim.Adam(net.parameters()), out_dir=tmp_path, quiet=True, batch_size=2).fit(data)
    record = load(tmp_path / "checkpoint.safetensors")
    record["optimizer"] = {"state": "nonsense"}
    save(record, tmp_path / "checkpoint.safetensors")
    with pytest.raises(CheckpointError, match="field optimizer"):
        Trainer(net, optim.Adam(net.parameters()), out_dir=tmp_path, quiet=True, batch_size=2).fit(
            data, epochs=2, resume=True)


def test_check_record_accepts_what_the_trainer_writes(tmp_path):
    net = nn.Linear(2, 2)
    Trainer(net, optim.SGD(net.parameters(), lr=0.1), out_dir=tmp_path, quiet=True).fit(
        (np.ones((4, 2), np.float32), np.array([0, 1, 0, 1])), valid=(np.ones((2, 2), np.float32), np.array([0, 1])))
    for name in ("checkpoint.safetensors", "model.safetensors"):
        check_record(load(tmp_path / name), tmp_path / name)


def test_word2vec_binary_header_bomb_is_bounded(tmp_path):
    path = tmp_path / "v.bin"
    path.write_bytes(b"3000000000 300\n" + b"w " + np.ones(300, np.float32).tobytes())
    out = load_bounded("""
        from zeronlp.models.classifier import load_word_vectors
        try:
            load_word_vectors(PATH0)
        except Exception as err:
            print(type(err).__name__, err)
    """, path)
    assert out.startswith("DataError") and str(path) in out, out


def test_nan_vectors_are_a_data_error_naming_the_file(tmp_path):
    from zeronlp.models.classifier import load_word_vectors

    path = tmp_path / "v.txt"
    path.write_text("2 2\ngood 1 nan\nbad 0 1\n")
    with pytest.raises(DataError, match=f"{path}.*non-finite"):
        load_word_vectors(path)
