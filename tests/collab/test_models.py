"""EmbeddingDotBias and EmbeddingNN: the maths, the shared MLP, the cold-start fill-in."""

from dataclasses import asdict

import pytest
import torch

from emberfit.collab import MLP, DotBiasConfig, EmbeddingDotBias, EmbeddingNN


def test_dot_bias_matches_a_hand_written_dot_product():
    torch.manual_seed(0)
    m = EmbeddingDotBias(n_factors=5, n_users=7, n_items=9, y_range=(0, 5.5))
    x = torch.tensor([[1, 2], [6, 8], [3, 3]])
    u, i = x[:, 0], x[:, 1]
    raw = (m.u_weight.weight[u] * m.i_weight.weight[i]).sum(1) + m.u_bias.weight[u, 0] + m.i_bias.weight[i, 0]
    torch.testing.assert_close(m(x), torch.sigmoid(raw) * 5.5)
    torch.testing.assert_close(m(u, i), m(x))  # model(users, items) as in the original
    no_range = EmbeddingDotBias(5, 7, 9)
    no_range.load_state_dict(m.state_dict(), strict=False)
    torch.testing.assert_close(no_range(x), raw)


def test_repr_shows_embedding_shapes():
    text = repr(EmbeddingDotBias(40, 944, 1654, y_range=(0, 5.5)))
    for part in (
        "(u_weight): Embedding(944, 40)",
        "(i_weight): Embedding(1654, 40)",
        "(u_bias): Embedding(944, 1)",
    ):
        assert part in text


def test_embedding_nn_uses_the_shared_mlp():
    m = EmbeddingNN(((7, 4), (9, 6)), layers=[8, 3], ps=[0.1, 0.1], y_range=(0, 5.5))
    assert isinstance(m.layers, MLP)
    assert m.layers[0].in_features == 10  # user width + item width
    m.eval()
    out = m(torch.tensor([[1, 2], [6, 8]]))
    assert out.shape == (2,) and bool(((out > 0) & (out < 5.5)).all())


def test_embedding_nn_rejects_bad_emb_szs():
    with pytest.raises(ValueError, match="emb_szs"):
        EmbeddingNN(((7, 4),))


@pytest.mark.parametrize(
    "make",
    [
        lambda: EmbeddingDotBias(3, 4, 5, (0, 5.5)),
        lambda: EmbeddingNN(((4, 3), (5, 3)), [6], y_range=(0, 5.5)),
    ],
)
def test_cold_rows_get_the_baseline_in_eval_only(make):
    m = make()
    x = torch.tensor([[1, 2], [0, 2], [3, 0], [0, 0]])
    m.eval()
    before = m(x)  # baseline not set yet: the #na# rows answer, as in the original
    m.set_baseline(3.5, torch.tensor([0.0, 0.2, -0.1, 0.3]), torch.tensor([0.0, 0.1, 0.4, -0.2, 0.5]))
    out = m(x)
    assert out[0] == before[0]  # known pair: the model
    torch.testing.assert_close(out[1:], torch.tensor([3.5 + 0.4, 3.5 + 0.3, 3.5]))
    m.train()
    if isinstance(m, EmbeddingDotBias):  # (the NN's BatchNorm changes in train mode anyway)
        torch.testing.assert_close(m(x)[1:], before[1:])


def test_baseline_is_clipped_to_y_range_and_saved_with_the_weights():
    m = EmbeddingDotBias(3, 4, 5, (0, 5.5))
    m.set_baseline(5.0, torch.tensor([0.0, 2.0, 0, 0]), torch.zeros(5))
    m.eval()
    assert float(m(torch.tensor([[1, 0]])).detach()) == 5.5
    sd = m.state_dict()
    assert {"global_mean", "user_base", "item_base"} <= set(sd)
    fresh = EmbeddingDotBias.from_config(DotBiasConfig(**asdict(m.config)))
    fresh.load_state_dict(sd)
    fresh.eval()
    assert float(fresh(torch.tensor([[1, 0]])).detach()) == 5.5
