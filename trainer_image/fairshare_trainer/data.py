"""Training data: a generated English-like corpus as bytes, and a sample order that depends only on samples seen."""

from __future__ import annotations

import random
from functools import lru_cache

import torch

VOCAB_SIZE = 256  # byte-level tokens: no tokenizer to ship, every string encodes
CORPUS_SEED = 20240611  # fixed, so every run and every rank trains on the same text whatever FAIRSHARE_SEED is
CORPUS_BYTES = 1 << 18

_SUBJECTS = (
    "the scheduler",
    "a tenant",
    "the operator",
    "every job",
    "the trainer",
    "a worker",
    "the cluster",
    "the market",
    "each team",
    "the queue",
    "a borrower",
    "the platform team",
)
_VERBS = (
    "admits",
    "preempts",
    "borrows",
    "lends",
    "measures",
    "prices",
    "checkpoints",
    "resumes",
    "shrinks",
    "grows",
    "reports",
    "waits for",
    "reclaims",
    "pays for",
)
_OBJECTS = (
    "idle gpus",
    "a fair share",
    "the budget",
    "two workers",
    "the a100 class",
    "its throughput",
    "the last checkpoint",
    "eight gpus",
    "a cheaper class",
    "the guarantee",
    "the h100 nodes",
    "more credits",
)
_CLAUSES = (
    "when prices rise",
    "before the deadline",
    "after a preemption",
    "while others wait",
    "because demand is high",
    "at the next cycle",
    "if the bid is too low",
    "once the gang fits",
)


def _sentence(rng: random.Random) -> str:
    # A little structure beyond a bag of words (a clause is optional, numbers follow "step"), so the model
    # has something to learn at several ranges and the loss keeps falling for a while.
    words = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)]
    if rng.random() < 0.5:
        words.append(rng.choice(_CLAUSES))
    if rng.random() < 0.25:
        words.append(f"at step {rng.randrange(10, 1000)}")
    return " ".join(words) + "."


@lru_cache(maxsize=1)
def corpus_tokens() -> torch.Tensor:
    """The whole corpus as a 1-D uint8 tensor of CORPUS_BYTES bytes, identical in every process."""
    rng = random.Random(CORPUS_SEED)
    parts: list[str] = []
    length = 0
    while length < CORPUS_BYTES:
        paragraph = " ".join(_sentence(rng) for _ in range(rng.randrange(2, 6))) + "\n"
        parts.append(paragraph)
        length += len(paragraph)
    text = "".join(parts).encode("ascii")[:CORPUS_BYTES]
    return torch.frombuffer(bytearray(text), dtype=torch.uint8)


class SampleOrder:
    """Maps a global sample number (0, 1, 2, ... over the whole run) to a training window of the corpus.

    Windows are non-overlapping slices of seq_len + 1 bytes; each epoch visits all of them in a permutation
    seeded by (seed, epoch). The order depends on the sample number alone — not on the world size or the
    rank — which is what lets a job resume at any size from its checkpoint's samples_seen.
    """

    def __init__(self, tokens: torch.Tensor, seq_len: int, seed: int) -> None:
        self.tokens = tokens
        self.seq_len = seq_len
        self.seed = seed
        self.num_windows = (len(tokens) - 1) // seq_len
        if self.num_windows < 1:
            raise ValueError(f"corpus of {len(tokens)} tokens is shorter than one window of {seq_len + 1}")
        self._epoch = -1
        self._permutation = torch.empty(0, dtype=torch.long)

    def _permutation_for(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._permutation = torch.randperm(self.num_windows, generator=generator)
            self._epoch = epoch
        return self._permutation

    def window_of(self, sample: int) -> int:
        """The window index that global sample number `sample` trains on."""
        epoch, position = divmod(sample, self.num_windows)
        return int(self._permutation_for(epoch)[position])

    def batch(self, first_sample: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and next-byte targets, both [count, seq_len] int64, for samples first_sample .. +count-1."""
        starts = [self.window_of(first_sample + i) * self.seq_len for i in range(count)]
        windows = torch.stack([self.tokens[s : s + self.seq_len + 1] for s in starts]).long()
        return windows[:, :-1], windows[:, 1:]


def first_sample_of_rank(samples_seen: int, batch_size: int, rank: int) -> int:
    """Where a rank's slice of the next global batch starts: ranks take consecutive slices of batch_size."""
    return samples_seen + rank * batch_size
