"""Data: a deterministic corpus, and a sample order that depends on samples seen, not on the world size."""

from __future__ import annotations

import hashlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st


def test_corpus_is_a_fixed_english_like_text():
    from fairshare_trainer.data import CORPUS_BYTES, corpus_tokens

    tokens = corpus_tokens()
    text = bytes(tokens.tolist())

    assert tokens.dtype == torch.uint8 and len(tokens) == CORPUS_BYTES
    assert text.startswith(b"the trainer reclaims the budget at the next cycle.")
    # Pinned: a changed generator would silently give every existing checkpoint's samples_seen a new meaning.
    assert hashlib.sha256(text).hexdigest() == "ece06f522805f81883d7b1840aa64a5790c7fc1fa282112284e979e1410a4328"


def test_every_window_is_visited_once_per_epoch_in_a_seeded_order():
    from fairshare_trainer.data import SampleOrder

    order = SampleOrder(torch.arange(101, dtype=torch.uint8), seq_len=10, seed=3)
    first_epoch = [order.window_of(i) for i in range(order.num_windows)]
    second_epoch = [order.window_of(order.num_windows + i) for i in range(order.num_windows)]

    assert sorted(first_epoch) == sorted(second_epoch) == list(range(10))
    assert first_epoch != second_epoch
    assert first_epoch == [SampleOrder(order.tokens, 10, seed=3).window_of(i) for i in range(10)]
    assert first_epoch != [SampleOrder(order.tokens, 10, seed=4).window_of(i) for i in range(10)]


def test_targets_are_inputs_shifted_by_one_byte():
    from fairshare_trainer.data import SampleOrder

    order = SampleOrder(torch.arange(200, dtype=torch.uint8), seq_len=8, seed=0)
    inputs, targets = order.batch(first_sample=5, count=3)

    assert inputs.shape == targets.shape == (3, 8)
    assert torch.equal(inputs[:, 1:], targets[:, :-1])
    assert torch.equal(targets[:, -1], inputs[:, -1] + 1)


@settings(max_examples=30, deadline=None)
@given(
    samples_seen=st.integers(min_value=0, max_value=10_000),
    world_size=st.integers(min_value=1, max_value=8),
    per_rank_batch=st.integers(min_value=1, max_value=6),
)
def test_ranks_split_the_global_batch_exactly_as_one_process_would(samples_seen, world_size, per_rank_batch):
    """Elastic resize rests on this: N ranks at samples_seen consume what one rank with N times the batch would."""
    from fairshare_trainer.data import SampleOrder, first_sample_of_rank

    order = SampleOrder(torch.arange(1000, dtype=torch.uint8) % 251, seq_len=9, seed=11)
    per_rank = [
        order.batch(first_sample_of_rank(samples_seen, per_rank_batch, rank), per_rank_batch)[0]
        for rank in range(world_size)
    ]
    single, _ = order.batch(
        first_sample_of_rank(samples_seen, per_rank_batch * world_size, 0), per_rank_batch * world_size
    )

    assert torch.equal(torch.cat(per_rank), single)


def test_corpus_too_short_for_one_window_is_refused():
    from fairshare_trainer.data import SampleOrder

    with pytest.raises(ValueError, match="shorter than one window"):
        SampleOrder(torch.zeros(5, dtype=torch.uint8), seq_len=8, seed=0)
