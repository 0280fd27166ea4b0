"""ember.vision: torchvision's essentials (transforms, datasets, utils) on ember tensors.

`ember run` serves this package as `torchvision`. Pillow is needed only where PIL
images are (loading image files, PIL transforms, save_image); importing works without it.
"""
from ember.vision import datasets, transforms, utils

__version__ = "0.28.0"

__all__ = ["datasets", "transforms", "utils"]
