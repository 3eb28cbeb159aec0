"""LMLoader and SortishLoader on tiny synthetic ragged corpora."""

import numpy as np
import pytest
import torch

from emberfit.text.loaders import LMLoader, SortishLoader, ragged_take, sortish_batches


def corpus(lengths):
    """Token ids 0..T-1 (each token unique), documents of the given lengths."""
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return np.arange(offsets[-1], dtype=np.int32), offsets


def epoch(dl):
    xs, ys = zip(*list(dl))
    return xs, ys


def test_ragged_take_matches_python_slices():
    ids, offs = corpus([3, 1, 4, 2])
    got_ids, got_offs = ragged_take(ids, offs, np.array([2, 0, 2]))
    want = [list(range(4, 8)), [0, 1, 2], list(range(4, 8))]
    assert [got_ids[a:b].tolist() for a, b in zip(got_offs[:-1], got_offs[1:])] == want


@pytest.mark.parametrize("shuffle", [False, True])
def test_lm_every_token_is_a_target_once_per_epoch(shuffle):
    rng = np.random.default_rng(0)
    ids, offs = corpus(rng.integers(1, 40, size=57))
    bs, bptt = 5, 7
    dl = LMLoader(ids, offs, bs=bs, bptt=bptt, shuffle=shuffle)
    xs, ys = epoch(dl)
    assert len(xs) == len(dl)
    for x, y in zip(xs, ys):
        assert x.dtype == y.dtype == torch.int64 and x.shape == y.shape and x.shape[0] == bs
        assert torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted by one
    for y1, x2 in zip(ys, xs[1:]):
        assert torch.equal(x2[:, 0], y1[:, -1])  # each row continues where the last batch stopped
    targets = torch.cat([y.reshape(-1) for y in ys]).numpy()
    T = len(ids)
    assert len(targets) == bs * ((T - 1) // bs)
    assert len(np.unique(targets)) == len(targets)  # no token is a target twice
    assert T - len(targets) == 1 + (T - 1) % bs  # only the first token and the tail are left out
    # Rows, glued together, are whole documents back to back (in some order).
    stream = torch.cat([torch.cat([x[r] for x in xs]) for r in range(bs)]).numpy()
    starts = set(offs[:-1].tolist())
    breaks = np.nonzero(np.diff(stream) != 1)[0] + 1
    assert all(int(stream[b]) in starts for b in breaks)
    if not shuffle:
        assert xs[0][0, :bptt].tolist() == list(range(bptt))


def test_lm_shuffle_is_reproducible_and_changes_each_epoch():
    ids, offs = corpus([7] * 30)
    dl = LMLoader(ids, offs, bs=3, bptt=5, shuffle=True)
    torch.manual_seed(1)
    a = [x for x, _ in dl]
    b = [x for x, _ in dl]
    torch.manual_seed(1)
    c = [x for x, _ in dl]
    assert all(torch.equal(p, q) for p, q in zip(a, c))
    assert not all(torch.equal(p, q) for p, q in zip(a, b))


def test_lm_backwards_reads_the_stream_reversed():
    ids, offs = corpus([4, 6, 5])
    x, y = next(iter(LMLoader(ids, offs, bs=2, bptt=3, backwards=True)))
    T = len(ids)
    assert x[0].tolist() == [T - 1, T - 2, T - 3]
    assert y[0].tolist() == [T - 2, T - 3, T - 4]


def test_lm_bptt_jitter_keeps_len_and_coverage():
    ids, offs = corpus([50] * 40)
    dl = LMLoader(ids, offs, bs=4, bptt=20, shuffle=True, bptt_jitter=True)
    torch.manual_seed(0)
    xs, ys = epoch(dl)
    lens = [x.shape[1] for x in xs]
    assert len(xs) == len(dl)
    assert sum(lens) == dl.row_len
    assert len(set(lens)) > 1  # the window length does vary
    assert min(lens) >= 1 and max(lens) <= 2 * (20 + 25)
    targets = torch.cat([y.reshape(-1) for y in ys]).numpy()
    assert len(np.unique(targets)) == 4 * dl.row_len


def test_lm_errors_name_the_argument():
    ids, offs = corpus([3])
    with pytest.raises(ValueError, match="bs=8"):
        LMLoader(ids, offs, bs=8)
    with pytest.raises(ValueError, match="bptt"):
        LMLoader(ids, offs, bs=1, bptt=0)
    with pytest.raises(ValueError, match="offsets"):
        LMLoader(ids, np.array([0, 99]), bs=1)


def test_classifier_pads_at_the_start_with_pad_idx():
    ids, offs = corpus([2, 5, 3])
    dl = SortishLoader(ids + 10, offs, torch.tensor([0, 1, 0]), bs=3, pad_idx=1)
    xb, yb = next(iter(dl))
    assert xb.dtype == torch.int64
    assert xb.tolist() == [[12, 13, 14, 15, 16], [1, 1, 17, 18, 19], [1, 1, 1, 10, 11]]
    assert yb.tolist() == [1, 0, 0]
    xb_end, _ = next(iter(dl.new(pad_first=False)))
    assert xb_end[2].tolist() == [10, 11, 1, 1, 1]
    xb_bw, _ = next(iter(dl.new(backwards=True)))
    assert xb_bw[2].tolist() == [1, 1, 1, 11, 10]


def test_classifier_valid_order_restores_dataset_order():
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 30, size=23)
    ids, offs = corpus(lengths)
    y = torch.arange(23)
    dl = SortishLoader(ids, offs, y, bs=4)
    batches = list(dl)
    seen_lens = [int((xb != 1).sum(1).max()) for xb, _ in batches]
    assert seen_lens == sorted(seen_lens, reverse=True)  # longest first
    ys = torch.cat([yb for _, yb in batches])
    order = dl.order
    assert torch.equal(ys, order)
    inv = torch.empty_like(order)
    inv[order] = torch.arange(len(order))
    assert torch.equal(ys[inv], y)  # what Learner.get_preds does


def test_sortish_batches_cover_everything_with_the_longest_first():
    lengths = np.random.default_rng(0).integers(1, 1000, size=530)
    torch.manual_seed(0)
    batches = sortish_batches(lengths, bs=4)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(530))
    assert lengths[batches[0]].max() == lengths.max()
    for b in batches:  # each batch comes from one length-sorted chunk
        assert list(lengths[b]) == sorted(lengths[b], reverse=True)
    torch.manual_seed(0)
    assert all(np.array_equal(a, b) for a, b in zip(batches, sortish_batches(lengths, bs=4)))
    dropped = sortish_batches(lengths, bs=4, drop_last=True)
    assert len(dropped) == 530 // 4 and all(len(b) == 4 for b in dropped)


def test_classifier_max_len_caps_documents():
    ids, offs = corpus([10, 3])
    xb, _ = next(iter(SortishLoader(ids, offs, None, bs=2, max_len=4)))
    assert xb.shape == (2, 4)
    assert xb[0].tolist() == [0, 1, 2, 3]  # the first max_len tokens are kept
    with pytest.raises(ValueError, match="max_len"):
        SortishLoader(ids, offs, None, max_len=0)
