"""A small decoder-only transformer language model (pre-norm GPT blocks) in three preset sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelShape:
    """The hyperparameters that fix a model's architecture; saved in checkpoints to refuse a mismatched resume."""

    vocab_size: int
    seq_len: int
    d_model: int
    n_layers: int
    n_heads: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def shape_for(model_size: str, vocab_size: int) -> ModelShape:
    """The preset for a FAIRSHARE_MODEL_SIZE: tiny keeps CPU tests fast, base is a meaningful GPU load."""
    presets = {
        "tiny": ModelShape(vocab_size, seq_len=64, d_model=64, n_layers=2, n_heads=4),  # ~0.12 M parameters
        "small": ModelShape(vocab_size, seq_len=128, d_model=256, n_layers=4, n_heads=4),  # ~3.3 M
        "base": ModelShape(vocab_size, seq_len=256, d_model=512, n_layers=8, n_heads=8),  # ~25.5 M
    }
    return presets[model_size]


class _Block(nn.Module):
    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        self.n_heads = shape.n_heads
        self.norm_attention = nn.LayerNorm(shape.d_model)
        self.qkv = nn.Linear(shape.d_model, 3 * shape.d_model)
        self.attention_out = nn.Linear(shape.d_model, shape.d_model)
        self.norm_mlp = nn.LayerNorm(shape.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(shape.d_model, 4 * shape.d_model),
            nn.GELU(),
            nn.Linear(4 * shape.d_model, shape.d_model),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, width = x.shape
        q, k, v = self.qkv(self.norm_attention(x)).split(width, dim=-1)
        q, k, v = (t.view(batch, seq, self.n_heads, width // self.n_heads).transpose(1, 2) for t in (q, k, v))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attention_out(attended.transpose(1, 2).reshape(batch, seq, width))
        return x + self.mlp(self.norm_mlp(x))


class DecoderLM(nn.Module):
    """Token + learned position embeddings, pre-norm blocks, and an output head tied to the token embedding."""

    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        if shape.d_model % shape.n_heads:
            raise ValueError(f"d_model {shape.d_model} is not divisible by n_heads {shape.n_heads}")
        self.shape = shape
        self.token_embedding = nn.Embedding(shape.vocab_size, shape.d_model)
        self.position_embedding = nn.Embedding(shape.seq_len, shape.d_model)
        self.blocks = nn.ModuleList(_Block(shape) for _ in range(shape.n_layers))
        self.norm_out = nn.LayerNorm(shape.d_model)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # GPT-2 style: small normal weights keep the initial loss near ln(vocab) and training stable.
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits [batch, seq, vocab] for next-token prediction at every position."""
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        for block in self.blocks:
            x = block(x)
        return self.norm_out(x) @ self.token_embedding.weight.T


def next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in nats per token."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
