"""Model: preset sizes, causal next-token logits, and a starting loss near uniform over bytes."""

from __future__ import annotations

import math

import pytest
import torch


@pytest.mark.parametrize(
    ("size", "low", "high"),
    [
        pytest.param("tiny", 0.05e6, 0.3e6, id="tiny"),
        pytest.param("small", 2e6, 5e6, id="small"),
        pytest.param("base", 20e6, 35e6, id="base"),
    ],
)
def test_preset_sizes_have_the_documented_parameter_counts(size, low, high):
    from fairshare_trainer.model import DecoderLM, parameter_count, shape_for

    with torch.device("meta"):  # no memory, no init time: only the count matters
        model = DecoderLM(shape_for(size, 256))

    assert low < parameter_count(model) < high


def test_logits_at_a_position_ignore_later_tokens():
    from fairshare_trainer.model import DecoderLM, shape_for

    torch.manual_seed(0)
    model = DecoderLM(shape_for("tiny", 256)).eval()
    tokens = torch.randint(0, 256, (2, 16))
    changed = tokens.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % 256

    with torch.no_grad():
        original, altered = model(tokens), model(changed)

    assert original.shape == (2, 16, 256)
    assert torch.allclose(original[:, :10], altered[:, :10], atol=1e-5)
    assert not torch.allclose(original[:, 10:], altered[:, 10:])


def test_untrained_loss_is_close_to_uniform():
    from fairshare_trainer.model import DecoderLM, next_token_loss, shape_for

    torch.manual_seed(0)
    model = DecoderLM(shape_for("tiny", 256))
    tokens = torch.randint(0, 256, (4, 65))

    loss = next_token_loss(model(tokens[:, :-1]), tokens[:, 1:])

    assert loss.item() == pytest.approx(math.log(256), rel=0.05)
