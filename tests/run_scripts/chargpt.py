"""Char-level GPT training loop in the style of nanoGPT's train.py, on a text made here."""
import sys

import torch
from gpt_model import GPT, GPTConfig

max_iters = int(sys.argv[1]) if len(sys.argv) > 1 else 40
torch.manual_seed(1337)
text = "the quick brown fox jumps over the lazy dog. " * 40
chars = sorted(set(text))
stoi = {ch: i for i, ch in enumerate(chars)}
itos = {i: ch for ch, i in stoi.items()}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
config = GPTConfig(vocab_size=len(chars))


def get_batch(batch_size=16):
    ix = torch.randint(len(data) - config.block_size, (batch_size,))
    x = torch.stack([data[i:i + config.block_size] for i in ix])
    y = torch.stack([data[i + 1:i + 1 + config.block_size] for i in ix])
    return x, y


model = GPT(config)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1, betas=(0.9, 0.95))
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_iters)
print(f"number of parameters: {sum(p.numel() for p in model.parameters())}")
for it in range(max_iters):
    xb, yb = get_batch()
    _, loss = model(xb, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()
    if it % 10 == 0 or it == max_iters - 1:
        print(f"iter {it} loss {loss.item():.4f}")

model.eval()
out = model.generate(torch.zeros((1, 1), dtype=torch.long), max_new_tokens=20)
print("sample:", "".join(itos[i] for i in out[0].tolist()))
print("DONE chargpt")
