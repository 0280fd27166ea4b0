"""Variational autoencoder (as in pytorch/examples' vae) on random binary "images"."""
import torch
from torch import nn, optim
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset


class Blobs(Dataset):
    def __init__(self, n=256):
        g = torch.Generator().manual_seed(0)
        protos = (torch.rand(4, 64, generator=g) > 0.5).float()
        self.x = protos[torch.randint(0, 4, (n,), generator=g)]

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc21 = nn.Linear(32, 4)
        self.fc22 = nn.Linear(32, 4)
        self.fc3 = nn.Linear(4, 32)
        self.fc4 = nn.Linear(32, 64)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


torch.manual_seed(0)
model = VAE()
optimizer = optim.Adam(model.parameters(), lr=1e-2)
loader = DataLoader(Blobs(), batch_size=32, shuffle=True)
for epoch in range(1, 6):
    model.train()
    train_loss = 0.0
    for data in loader:
        optimizer.zero_grad()
        recon, mu, logvar = model(data)
        loss = loss_function(recon, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
    print(f"epoch {epoch} loss {train_loss / len(loader.dataset):.4f}")
with torch.no_grad():
    sample = model.decode(torch.randn(8, 4))
print("sample shape", tuple(sample.shape))
print("DONE vae")
