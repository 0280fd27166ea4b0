"""A small GPT training step (nanoGPT's shape), ember vs torch in the same process.

Model: character-level GPT with vocabulary 65, context 64, 4 pre-norm blocks of
d_model 128 with 4 heads (causal F.scaled_dot_product_attention) and a 4x GELU MLP,
token and learned position embeddings, final LayerNorm and a head tied to the token
embedding; no dropout, so both libraries compute the same loss. One step is forward,
cross-entropy, backward and AdamW (weight decay on the matrices only, as nanoGPT
groups them) at batch 16. Both libraries start from the same weights.
Run: python benchmarks/gpt.py [threads]   (default: common.THREADS)
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np
from common import Pair, measure, pin_threads, report

# this checkout's ember, whatever else the environment has installed under that name
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    batch: int = 16


def make_gpt(lib, cfg: GPTConfig):
    """A GPT built from `lib`'s nn modules (lib is ember or torch)."""
    nn, F = lib.nn, lib.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
            self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.c_attn(x).split(cfg.n_embd, dim=2)
            q, k, v = (z.view(b, t, cfg.n_head, c // cfg.n_head).transpose(1, 2)
                       for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(cfg.n_embd)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(cfg.n_embd)
            self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                     nn.Linear(4 * cfg.n_embd, cfg.n_embd))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
            self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
            self.h = nn.ModuleList(Block() for _ in range(cfg.n_layer))
            self.ln_f = nn.LayerNorm(cfg.n_embd)
            self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
            self.lm_head.weight = self.wte.weight  # weight tying, as in nanoGPT

        def forward(self, idx, targets):
            pos = lib.arange(idx.shape[1])
            x = self.wte(idx) + self.wpe(pos)
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))

    model = GPT()
    for m in model.modules():  # nanoGPT's initialisation: N(0, 0.02) weights, zero biases
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
    return model


def make_optimizer(lib, model, lr: float = 1e-3, weight_decay: float = 0.1):
    """AdamW with nanoGPT's two groups: decay on 2-D weights, none on biases and norms."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return lib.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


def make_step(lib, model, idx, targets):
    """One training step as a closure; returns the loss tensor."""
    opt = make_optimizer(lib, model)
    model.train()

    def step():
        loss = model(idx, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss
    return step


def batch(cfg: GPTConfig, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random (input, next-token target) windows over a random character stream."""
    rng = np.random.default_rng(seed)
    text = rng.integers(0, cfg.vocab_size, 4096)
    starts = rng.integers(0, len(text) - cfg.block_size - 1, cfg.batch)
    x = np.stack([text[s:s + cfg.block_size] for s in starts])
    y = np.stack([text[s + 1:s + 1 + cfg.block_size] for s in starts])
    return x, y


def gpt_pair(cfg: GPTConfig | None = None) -> Pair:
    """The GPT training step for both libraries from torch's initial weights; their first
    losses must agree."""
    # imported here, not at the top, so peak_memory.py can build the model with one library
    import torch

    import ember
    cfg = cfg or GPTConfig()
    torch.manual_seed(0)
    tmodel = make_gpt(torch, cfg)
    emodel = make_gpt(ember, cfg)
    emodel.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                            for k, v in tmodel.state_dict().items()})
    x, y = batch(cfg)
    tstep = make_step(torch, tmodel, torch.tensor(x), torch.tensor(y))
    estep = make_step(ember, emodel, ember.tensor(x), ember.tensor(y))
    lt, le = tstep().item(), estep().item()
    assert abs(lt - le) < 1e-3 * max(1.0, abs(lt)), (lt, le)
    name = (f"GPT step b{cfg.batch} s{cfg.block_size} d{cfg.n_embd} x{cfg.n_layer}, "
            "AdamW")
    return Pair(name, estep, tstep, number=3)


def main() -> None:
    threads = pin_threads(*(int(a) for a in sys.argv[1:2]))
    report(measure([gpt_pair()]), threads)


if __name__ == "__main__":
    main()
