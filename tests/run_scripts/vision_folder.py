"""A small torchvision program: an ImageFolder of PNGs, augmentation, a tiny CNN."""
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
from torchvision.utils import save_image


def make_tree(root, per_class=24, size=28):
    """Two classes told apart by color: reddish and bluish noisy squares."""
    rng = np.random.default_rng(0)
    for label, channel in (("blue", 2), ("red", 0)):
        os.makedirs(os.path.join(root, label))
        for i in range(per_class):
            img = rng.integers(0, 120, (size, size, 3))
            img[..., channel] += 120
            Image.fromarray(img.astype(np.uint8)).save(os.path.join(root, label, f"{i}.png"))


class TinyCNN(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc(x.mean(dim=(2, 3)))


def main():
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as root:
        make_tree(root)
        tf = transforms.Compose([
            transforms.RandomResizedCrop(16, scale=(0.5, 1.0)),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ])
        data = datasets.ImageFolder(root, transform=tf)
        print("classes", data.classes, len(data))
        loader = DataLoader(data, batch_size=8, shuffle=True)
        model = TinyCNN(len(data.classes))
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        for epoch in range(4):
            total, correct, seen = 0.0, 0, 0
            for x, y in loader:
                opt.zero_grad()
                out = model(x)
                loss = F.cross_entropy(out, y)
                loss.backward()
                opt.step()
                total += loss.item() * len(y)
                correct += (out.argmax(1) == y).sum().item()
                seen += len(y)
            print(f"epoch {epoch} loss {total / seen:.4f} acc {correct / seen:.2f}")
        save_image(x * 0.5 + 0.5, os.path.join(root, "batch.png"), nrow=4)
        print("saved", os.path.getsize(os.path.join(root, "batch.png")) > 0)
    print("DONE vision_folder")


if __name__ == "__main__":
    main()
