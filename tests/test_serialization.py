import pickle

import numpy as np
import pytest

import zeronlp as zn


def test_round_trip_nested(tmp_path):
    obj = {
        "model": {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": np.array([1, 2], dtype=np.int64)},
        "optimizer": {"state": {"0": {"step": 3, "m": np.ones(2, dtype=np.float32)}}, "lr": 0.5},
        "vocab": ["a", "b", "<unk>"],
        "name": "run", "flag": True, "nothing": None, "scalar": np.float32(1.5),
    }
    path = tmp_path / "ck.safetensors"
    zn.save(obj, path)
    back = zn.load(path)
    np.testing.assert_array_equal(back["model"]["w"], obj["model"]["w"])
    assert back["model"]["w"].dtype == np.float32 and back["model"]["ids"].dtype == np.int64
    assert back["optimizer"]["state"]["0"]["step"] == 3 and back["optimizer"]["lr"] == 0.5
    assert back["vocab"] == ["a", "b", "<unk>"] and back["flag"] is True and back["nothing"] is None
    assert back["scalar"] == 1.5


def test_missing_truncated_foreign_files_raise_with_path(tmp_path):
    with pytest.raises(zn.CheckpointError, match="no such checkpoint"):
        zn.load(tmp_path / "missing.safetensors")
    path = tmp_path / "ck.safetensors"
    zn.save({"w": np.ones((100, 100), dtype=np.float32)}, path)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(zn.CheckpointError, match="truncated.safetensors"):
        zn.load(truncated)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"hello world, not a checkpoint")
    with pytest.raises(zn.CheckpointError, match="garbage.bin"):
        zn.load(garbage)


def test_pickle_is_rejected_and_never_executed(tmp_path):
    class Boom:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(zn.CheckpointError, match="pickle"):
        zn.load(path)
    assert not (tmp_path / "pwned").exists()


def test_foreign_safetensors_file_is_rejected(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "foreign.safetensors"
    save_file({"x": np.ones(3, dtype=np.float32)}, str(path))
    with pytest.raises(zn.CheckpointError, match="not a zeronlp checkpoint"):
        zn.load(path)


def test_failed_save_keeps_previous_file(tmp_path):
    path = tmp_path / "ck.safetensors"
    zn.save({"w": np.ones(3, dtype=np.float32)}, path)
    with pytest.raises(TypeError, match="cannot store object"):
        zn.save({"w": np.zeros(3, dtype=np.float32), "bad": object()}, path)
    np.testing.assert_array_equal(zn.load(path)["w"], np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ck.safetensors"]


def test_model_and_optimizer_state_round_trip(tmp_path):
    zn.manual_seed(0)
    model = zn.nn.Sequential(zn.nn.Linear(3, 4), zn.nn.Tanh(), zn.nn.Linear(4, 2))
    opt = zn.optim.Adam(model.parameters(), lr=0.01)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    for _ in range(3):
        opt.zero_grad()
        (model(x) ** 2).sum().backward()
        opt.step()
    zn.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "s.safetensors")
    state = zn.load(tmp_path / "s.safetensors")
    model2 = zn.nn.Sequential(zn.nn.Linear(3, 4), zn.nn.Tanh(), zn.nn.Linear(4, 2))
    opt2 = zn.optim.Adam(model2.parameters(), lr=0.5)
    model2.load_state_dict(state["model"])
    opt2.load_state_dict(state["opt"])
    assert opt2.lr == 0.01
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        (m(x) ** 2).sum().backward()
        o.step()
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("obj, match", [
    ({"a/b": np.ones(2), "a": {"b": np.zeros(2)}}, r"under the name '/a/b'"),
    ({1: np.ones(2), "1": np.zeros(2)}, r"key '1' .*same entry"),
    ({"__array__": "x"}, r"reserved"),
], ids=["slash-vs-nested", "int-vs-str", "reserved"])
def test_save_refuses_keys_that_would_collide_and_keeps_the_old_file(tmp_path, obj, match):
    path = tmp_path / "c.safetensors"
    zn.save({"w": np.arange(3.0)}, path)
    with pytest.raises(ValueError, match=match):
        zn.save(obj, path)
    np.testing.assert_array_equal(zn.load(path)["w"], np.arange(3.0))  # nothing lost, nothing half-written
