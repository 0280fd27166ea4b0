"""Train a small character-level GPT on Python's own standard library, then sample code.

The text is the source of a fixed list of standard-library modules, read with
`inspect.getsource`, so every Python install has it and nothing is downloaded. The
model is nanoGPT's design written against `ember`: token and position embeddings,
pre-LayerNorm blocks of causal self-attention (`F.scaled_dot_product_attention` with
`is_causal=True`) and a GELU MLP, a final LayerNorm and an output layer tied to the
token embedding. Training uses AdamW with weight decay on matrices only, a linear
warmup into a cosine learning-rate decay, and gradient clipping; the checkpoint holds
the weights, the model's configuration and the vocabulary. Sampling draws one
character at a time with a temperature and top-k cut, from a fixed seed.

Run:    python -m ember.examples.chargpt                  (a few minutes on 2 cores)
        python -m ember.examples.chargpt --quick          (a tiny model, for smoke tests)
        python -m ember.examples.chargpt --sample-only chargpt.pt --prompt "def "
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import math
import time
from dataclasses import asdict, dataclass

import ember as torch
import ember.nn.functional as F
from ember import nn

# Plain, self-contained pure-Python modules: a mix of classes, functions, docstrings.
SOURCE_MODULES = (
    "textwrap", "string", "shlex", "fractions", "argparse", "dataclasses", "functools",
    "heapq", "bisect", "json.encoder", "json.decoder", "csv", "difflib", "pprint",
    "statistics", "enum", "tokenize", "ast", "contextlib", "copy", "queue", "glob",
    "fnmatch", "shutil", "tempfile", "calendar", "configparser", "gettext", "sched",
    "cmd", "code", "colorsys", "graphlib", "numbers", "operator", "selectors",
)


def load_text(modules=SOURCE_MODULES) -> str:
    """The modules' source, concatenated; lines with non-ASCII characters are left out
    and tabs become spaces, so the vocabulary is (at most) printable ASCII and newline."""
    parts = []
    for name in modules:
        try:
            source = inspect.getsource(importlib.import_module(name))
        except (ImportError, OSError, TypeError):  # a stripped install without sources
            continue
        lines = (line.replace("\t", "    ") for line in source.splitlines())
        parts.append("\n".join(line for line in lines if line.isascii()) + "\n")
    if not parts:
        raise RuntimeError("no standard-library source found (is this Python install "
                           "stripped of its .py files?)")
    return "\n".join(parts)


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 64  # context length in characters
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        # (B, T, 3C) -> three (B, n_head, T, head_dim) tensors
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).permute(
            2, 0, 3, 1, 4).unbind(0)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(B, T, C)))


class Block(nn.Module):
    """Pre-LN transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.Sequential(*[Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying: one matrix, two uses
        self.apply(self._init_weights)
        # GPT-2's scaled init of the projections that write into the residual stream
        for name, p in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        T = idx.shape[1]
        if T > self.cfg.block_size:
            raise ValueError(f"sequence of length {T} is longer than the block size "
                             f"{self.cfg.block_size}")
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        logits = self.head(self.ln_f(self.blocks(x)))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None):
        """Extend idx (B, T) by max_new_tokens sampled characters, one at a time."""
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.cfg.block_size:])
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
        return idx


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices (linear and embedding weights); leave biases and LayerNorms alone."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def lr_lambda(warmup: int, total: int, floor: float = 0.1):
    """Linear warmup to 1, then cosine decay to `floor` at step `total`."""
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))
    return f


def get_batch(data: torch.Tensor, block_size: int, batch_size: int, device):
    """Random windows of the text and the same windows shifted by one character."""
    start = torch.randint(len(data) - block_size - 1, (batch_size,))
    offsets = torch.arange(block_size + 1)
    chunk = data[start[:, None] + offsets]  # (batch, block + 1)
    return chunk[:, :-1].to(device), chunk[:, 1:].to(device)


@torch.no_grad()
def estimate_loss(model: GPT, data: torch.Tensor, batch_size: int, iters: int, device) -> float:
    model.eval()
    losses = [model(*get_batch(data, model.cfg.block_size, batch_size, device))[1].item()
              for _ in range(iters)]
    model.train()
    return sum(losses) / len(losses)


def sample(model: GPT, chars: str, prompt: str, length: int, temperature: float,
           top_k: int | None, seed: int, device) -> str:
    """`length` new characters after `prompt` (unknown prompt characters are dropped)."""
    stoi = {c: i for i, c in enumerate(chars)}
    ids = [stoi[c] for c in prompt if c in stoi] or [stoi.get("\n", 0)]
    gen = torch.Generator(device=device).manual_seed(seed)
    model.eval()
    out = model.generate(torch.tensor([ids], device=device), length, temperature, top_k, gen)
    return "".join(chars[i] for i in out[0, len(ids):].tolist())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m ember.examples.chargpt",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--eval-iters", type=int, default=10)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="chargpt.pt", help="checkpoint file to write")
    parser.add_argument("--sample-only", metavar="CKPT", default=None,
                        help="skip training: load this checkpoint and sample from it")
    parser.add_argument("--prompt", default="def ")
    parser.add_argument("--length", type=int, default=500, help="characters to sample")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--quick", action="store_true",
                        help="a tiny model and a few steps, for smoke tests")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)

    if args.sample_only:
        ckpt = torch.load(args.sample_only, map_location=device)
        model = GPT(GPTConfig(**ckpt["config"])).to(device)
        model.load_state_dict(ckpt["model"])
        text = sample(model, ckpt["chars"], args.prompt, args.length, args.temperature,
                      args.top_k, args.seed, device)
        print(args.prompt + text)
        return {"sample": text, "chars": ckpt["chars"]}

    modules = SOURCE_MODULES
    if args.quick:
        modules = SOURCE_MODULES[:4]
        args.steps, args.batch_size, args.block_size = 40, 16, 32
        args.n_layer, args.n_head, args.n_embd, args.warmup = 1, 2, 32, 5
        args.eval_every, args.eval_iters, args.length, args.lr = 20, 2, 80, 1e-2
    text = load_text(modules)
    chars = "".join(sorted(set(text)))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.int64)
    n_val = len(data) // 10
    train_data, val_data = data[:-n_val], data[-n_val:]
    print(f"text: {len(text):,} characters of standard-library source from {len(modules)} "
          f"modules, vocabulary of {len(chars)}")

    cfg = GPTConfig(len(chars), args.block_size, args.n_layer, args.n_head, args.n_embd,
                    args.dropout)
    model = GPT(cfg).to(device)
    print(f"model: {sum(p.numel() for p in model.parameters()):,} parameters "
          f"({cfg.n_layer} layers, {cfg.n_head} heads, {cfg.n_embd} wide, context "
          f"{cfg.block_size}) on {device}")
    optimizer = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr,
                                  betas=(0.9, 0.95))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                  lr_lambda(args.warmup, args.steps))

    initial_val_loss = estimate_loss(model, val_data, args.batch_size, args.eval_iters, device)
    print(f"step     0  val loss {initial_val_loss:.3f}  (uniform guessing: "
          f"{math.log(len(chars)):.3f})")
    history = []  # (step, mean train loss since the last report, val loss)
    tokens_per_step = args.batch_size * args.block_size
    running, window_start = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        xb, yb = get_batch(train_data, cfg.block_size, args.batch_size, device)
        _, loss = model(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        running.append(loss.item())
        if step % args.eval_every == 0 or step == args.steps:
            elapsed = time.perf_counter() - window_start
            train_loss = sum(running) / len(running)
            val_loss = estimate_loss(model, val_data, args.batch_size, args.eval_iters, device)
            history.append((step, train_loss, val_loss))
            print(f"step {step:5d}  train loss {train_loss:.3f}  val loss {val_loss:.3f}  "
                  f"lr {scheduler.get_last_lr()[0]:.2e}  "
                  f"{len(running) * tokens_per_step / elapsed:,.0f} tokens/s", flush=True)
            running, window_start = [], time.perf_counter()

    torch.save({"model": model.state_dict(), "config": asdict(cfg), "chars": chars,
                "step": args.steps}, args.out)
    print(f"saved checkpoint to {args.out}; sample from it again with:\n"
          f"    python -m ember.examples.chargpt --sample-only {args.out}")
    text = sample(model, chars, args.prompt, args.length, args.temperature, args.top_k,
                  args.seed, device)
    print(f"--- sample (temperature {args.temperature}, top-k {args.top_k}, "
          f"seed {args.seed}) ---\n{args.prompt}{text}")
    return {"history": history, "sample": text, "chars": chars,
            "initial_val_loss": initial_val_loss, "final_val_loss": history[-1][2]}


if __name__ == "__main__":
    main()
