"""torchvision.transforms: image transforms for PIL images and tensor images."""
from ember.vision.transforms import functional
from ember.vision.transforms.transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    ConvertImageDtype,
    GaussianBlur,
    Grayscale,
    InterpolationMode,
    Lambda,
    Normalize,
    Pad,
    PILToTensor,
    RandomApply,
    RandomChoice,
    RandomCrop,
    RandomErasing,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomOrder,
    RandomResizedCrop,
    RandomVerticalFlip,
    Resize,
    ToPILImage,
    ToTensor,
)

__all__ = ["functional", "Compose", "ToTensor", "PILToTensor", "ConvertImageDtype", "ToPILImage",
           "Normalize", "Resize", "CenterCrop", "Pad", "Lambda", "RandomApply", "RandomChoice",
           "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomResizedCrop",
           "ColorJitter", "Grayscale", "RandomGrayscale", "RandomOrder", "GaussianBlur",
           "RandomErasing", "InterpolationMode"]
