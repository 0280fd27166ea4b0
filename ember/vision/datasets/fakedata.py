"""FakeData: random images whose content depends only on the index."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ember
from ember.vision import transforms
from ember.vision.datasets.vision import VisionDataset


class FakeData(VisionDataset):
    """`size` random PIL images of `image_size` (C, H, W) with random targets; item i
    is drawn from a generator seeded with i + random_offset, so it is the same on
    every access, and the global random state is left untouched."""

    def __init__(self, size: int = 1000, image_size: tuple[int, int, int] = (3, 224, 224),
                 num_classes: int = 10, transform: Callable | None = None,
                 target_transform: Callable | None = None, random_offset: int = 0) -> None:
        super().__init__(transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        gen = ember.Generator().manual_seed(index + self.random_offset)
        img = ember.randn(*self.image_size, generator=gen)
        target = ember.randint(0, self.num_classes, size=(1,), dtype=ember.long, generator=gen)[0]
        img = transforms.ToPILImage()(img)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target.item()

    def __len__(self) -> int:
        return self.size
