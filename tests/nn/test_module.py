import numpy as np
import pytest

import zeronlp as zn
from zeronlp import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
        self.norm = nn.LayerNorm(3)

    def forward(self, ids):
        return self.norm(self.body(self.embed(ids).mean(axis=1)))


def test_parameters_register_by_attribute_with_torch_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["embed.weight", "body.0.weight", "body.0.bias", "body.3.weight", "body.3.bias",
                     "norm.weight", "norm.bias"]
    assert net.body[0].weight.shape == (8, 4)
    assert net.num_parameters() == 40 + 32 + 8 + 24 + 3 + 3 + 3


def test_shared_parameter_listed_once():
    a = nn.Linear(3, 3)
    b = nn.Sequential(a, a)
    assert len(b.parameters()) == 2


def test_train_eval_switches_dropout():
    net = Net()
    ids = np.array([[1, 2, 3]])
    net.eval()
    assert not net.body[2].training
    out1, out2 = net(ids).data, net(ids).data
    np.testing.assert_array_equal(out1, out2)
    net.train()
    assert net.body[2].training


def test_load_state_dict_strict_and_shape_errors():
    net = Net()
    state = net.state_dict()
    net2 = Net()
    net2.load_state_dict(state)
    ids = np.array([[1, 2, 3]])
    net.eval(), net2.eval()
    np.testing.assert_array_equal(net(ids).data, net2(ids).data)
    del state["norm.bias"]
    with pytest.raises(KeyError, match="norm.bias"):
        net2.load_state_dict(state)
    missing, unexpected = net2.load_state_dict(state, strict=False)
    assert missing == ["norm.bias"] and unexpected == []
    state["norm.bias"] = np.zeros(5, dtype=np.float32)
    with pytest.raises(ValueError, match=r"norm.bias has shape \(3,\).*\(5,\)"):
        net2.load_state_dict(state)


def test_inputs_may_be_arrays_or_tensors():
    layer = nn.Linear(3, 2)
    x = np.ones((4, 3), dtype=np.float32)
    np.testing.assert_array_equal(layer(x).data, layer(zn.tensor(x)).data)


def test_embedding_rejects_bad_ids():
    emb = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match="id 7 is out of range for 5 rows"):
        emb(np.array([1, 7]))
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([1.0, 2.0]))


def test_embedding_backward_accumulates_repeated_ids():
    emb = nn.Embedding(5, 2)
    emb(np.array([[1, 1], [1, 4]])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [0, 3, 0, 0, 1])


@pytest.mark.parametrize("initializer, expected_std", [
    (nn.init.xavier_uniform_, np.sqrt(2 / (200 + 300))),
    (nn.init.xavier_normal_, np.sqrt(2 / (200 + 300))),
    (nn.init.kaiming_uniform_, np.sqrt(2 / 300)),
    (nn.init.kaiming_normal_, np.sqrt(2 / 300)),
    (lambda p: nn.init.normal_(p, std=0.05), 0.05),
])
def test_initializer_scales(initializer, expected_std):
    zn.manual_seed(0)
    p = nn.Parameter(np.zeros((200, 300), dtype=np.float32))
    initializer(p)
    assert p.data.std() == pytest.approx(expected_std, rel=0.05)
    assert abs(p.data.mean()) < 0.01 * max(expected_std, 0.01) * 10
