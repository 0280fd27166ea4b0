"""The tensor halves of transforms.functional: images are Tensors shaped (..., C, H, W).

Everything is written with ember ops on the whole batch at once, so a float image
keeps its autograd graph through crop, flip, pad, resize and the color adjustments.
"""
from __future__ import annotations

import numpy as np

import ember
import ember.nn.functional as F
from ember import Tensor


def _assert_image_tensor(img: Tensor) -> None:
    if img.ndim < 2:
        raise TypeError("Tensor is not a torch image.")


def get_dimensions(img: Tensor) -> list[int]:
    """[channels, height, width]; a 2-d (H, W) tensor has one channel."""
    _assert_image_tensor(img)
    channels = 1 if img.ndim == 2 else img.shape[-3]
    height, width = img.shape[-2:]
    return [channels, height, width]


def _assert_channels(img: Tensor, permitted: list[int]) -> None:
    c = get_dimensions(img)[0]
    if c not in permitted:
        raise TypeError(f"Input image tensor permitted channel values are {permitted}, "
                        f"but found {c}")


def _max_value(dtype) -> float:
    """The value white has in `dtype`: 1.0 for floats, the largest integer otherwise."""
    if dtype.is_floating_point:
        return 1.0
    if dtype == ember.bool:
        return 1
    return ember.iinfo(dtype).max


def _blend(img1: Tensor, img2: Tensor, ratio: float) -> Tensor:
    ratio = float(ratio)
    bound = _max_value(img1.dtype)
    return (ratio * img1 + (1.0 - ratio) * img2).clamp(0, bound).to(img1.dtype)


def hflip(img: Tensor) -> Tensor:
    _assert_image_tensor(img)
    return img.flip(-1)


def vflip(img: Tensor) -> Tensor:
    _assert_image_tensor(img)
    return img.flip(-2)


def crop(img: Tensor, top: int, left: int, height: int, width: int) -> Tensor:
    """The box [top, top+height) x [left, left+width); parts outside the image are zeros."""
    _assert_image_tensor(img)
    _, h, w = get_dimensions(img)
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        padding = [max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
                   max(right - max(w, left), 0), max(bottom - max(h, top), 0)]
        return pad(img[..., max(top, 0):bottom, max(left, 0):right], padding, fill=0)
    return img[..., top:bottom, left:right]


def _parse_pad_padding(padding) -> list[int]:
    """torchvision's padding (int, [all], [lr, tb] or [l, t, r, b]) as [l, r, t, b]."""
    if isinstance(padding, int):
        return [padding] * 4
    if len(padding) == 1:
        return [padding[0]] * 4
    if len(padding) == 2:
        return [padding[0], padding[0], padding[1], padding[1]]
    return [padding[0], padding[2], padding[1], padding[3]]


def _symmetric_index(size: int, before: int, after: int) -> np.ndarray:
    """Source index of each output position for symmetric padding (the edge repeats);
    negative amounts crop."""
    idx = np.arange(-before, size + after)
    idx = np.where(idx < 0, -idx - 1, idx)
    return np.where(idx >= size, 2 * size - idx - 1, idx)


def pad(img: Tensor, padding, fill=0, padding_mode: str = "constant") -> Tensor:
    """Pad the last two dims. Modes: constant (with `fill`), edge, reflect, symmetric."""
    _assert_image_tensor(img)
    if not isinstance(padding, (int, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if not isinstance(fill, (int, float)):
        raise TypeError("Got inappropriate fill arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, (tuple, list)) and len(padding) not in (1, 2, 4):
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                         f"{len(padding)} element tuple")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    p = _parse_pad_padding(padding)
    if padding_mode == "symmetric":
        h, w = img.shape[-2:]
        rows = ember.from_numpy(_symmetric_index(h, p[2], p[3])).to(img.device)
        cols = ember.from_numpy(_symmetric_index(w, p[0], p[1])).to(img.device)
        return img.index_select(-2, rows).index_select(-1, cols)
    if padding_mode == "constant":
        return F.pad(img, p, mode="constant", value=float(fill))
    # reflect / replicate pad batched float images: add a batch dim, compute in float
    mode = "replicate" if padding_mode == "edge" else "reflect"
    lead = img.shape[:-2]
    x = img.reshape(1, -1, *img.shape[-2:])
    out_dtype = img.dtype
    if out_dtype not in (ember.float32, ember.float64):
        x = x.to(ember.float32)
    x = F.pad(x, p, mode=mode)
    return x.reshape(*lead, *x.shape[-2:]).to(out_dtype)


# ----------------------------------------------------------------------------- resize
def _aa_filter(x: np.ndarray, interpolation: str) -> np.ndarray:
    """The antialiasing kernels torch and Pillow share: a triangle for bilinear and
    Keys' cubic with a = -0.5 for bicubic."""
    x = np.abs(x)
    if interpolation == "bilinear":
        return np.maximum(1.0 - x, 0.0)
    a = -0.5
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def _aa_weights(in_size: int, out_size: int, interpolation: str) -> np.ndarray:
    """(out_size, in_size) matrix: row i holds the normalized filter taps of output i.

    When shrinking, the filter is stretched by the scale so each output averages
    every input pixel it covers (that is the antialiasing)."""
    scale = in_size / out_size
    support = (1.0 if interpolation == "bilinear" else 2.0) * max(scale, 1.0)
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    centers = scale * (np.arange(out_size) + 0.5)
    xmin = np.maximum((centers - support + 0.5).astype(np.int64), 0)
    xmax = np.minimum((centers + support + 0.5).astype(np.int64), in_size)
    j = np.arange(in_size)
    w = _aa_filter((j[None, :] - centers[:, None] + 0.5) * invscale, interpolation)
    w = w * ((j[None, :] >= xmin[:, None]) & (j[None, :] < xmax[:, None]))
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total == 0, 1.0, total)


def _resize_antialias(x: Tensor, size: list[int], interpolation: str) -> Tensor:
    """Separable antialiased resize as two matrix products: rows, then columns."""
    wh = ember.from_numpy(_aa_weights(x.shape[-2], size[0], interpolation))
    ww = ember.from_numpy(np.ascontiguousarray(_aa_weights(x.shape[-1], size[1],
                                                           interpolation).T))
    wh = wh.to(device=x.device, dtype=x.dtype)
    ww = ww.to(device=x.device, dtype=x.dtype)
    return ember.matmul(ember.matmul(wh, x), ww)


def resize(img: Tensor, size: list[int], interpolation: str = "bilinear",
           antialias: bool | None = True) -> Tensor:
    """Resize (..., H, W) to size = [h, w]. Integer images are computed in float32 and
    rounded back, as torchvision does."""
    _assert_image_tensor(img)
    if isinstance(size, tuple):
        size = list(size)
    if antialias is None:
        antialias = False
    if antialias and interpolation not in ("bilinear", "bicubic"):
        antialias = False
    out_dtype = img.dtype
    lead = img.shape[:-2]
    x = img.reshape(-1, 1, *img.shape[-2:])
    if out_dtype not in (ember.float32, ember.float64):
        x = x.to(ember.float32)
    if antialias:
        x = _resize_antialias(x, size, interpolation)
    else:
        align = False if interpolation in ("bilinear", "bicubic") else None
        x = F.interpolate(x, size=size, mode=interpolation, align_corners=align)
    if interpolation == "bicubic" and out_dtype == ember.uint8:
        x = x.clamp(min=0, max=255)
    x = x.reshape(*lead, *size)
    if not out_dtype.is_floating_point:
        x = ember.round(x)
    return x.to(out_dtype)


# ----------------------------------------------------------------------------- color
def rgb_to_grayscale(img: Tensor, num_output_channels: int = 1) -> Tensor:
    """ITU-R 601-2 luma: 0.2989 R + 0.587 G + 0.114 B (truncated for integer images)."""
    if img.ndim < 3:
        raise TypeError(f"Input image tensor should have at least 3 dimensions, but found "
                        f"{img.ndim}")
    _assert_channels(img, [1, 3])
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if img.shape[-3] == 3:
        r, g, b = img.unbind(dim=-3)
        gray = (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype).unsqueeze(dim=-3)
    else:
        gray = img.clone()
    if num_output_channels == 3:
        return gray.expand(img.shape)
    return gray


def adjust_brightness(img: Tensor, brightness_factor: float) -> Tensor:
    if brightness_factor < 0:
        raise ValueError(f"brightness_factor ({brightness_factor}) is not non-negative.")
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    return _blend(img, ember.zeros_like(img), brightness_factor)


def adjust_contrast(img: Tensor, contrast_factor: float) -> Tensor:
    """Blend with the mean gray level of each image."""
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    _assert_image_tensor(img)
    _assert_channels(img, [3, 1])
    dtype = img.dtype if img.is_floating_point() else ember.float32
    gray = rgb_to_grayscale(img) if img.shape[-3] == 3 else img
    mean = ember.mean(gray.to(dtype), dim=(-3, -2, -1), keepdim=True)
    return _blend(img, mean, contrast_factor)


def adjust_saturation(img: Tensor, saturation_factor: float) -> Tensor:
    """Blend with the grayscale image (a no-op for one channel)."""
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    if get_dimensions(img)[0] == 1:
        return img
    return _blend(img, rgb_to_grayscale(img), saturation_factor)


def _rgb2hsv(img: Tensor) -> Tensor:
    r, g, b = img.unbind(dim=-3)
    maxc = ember.amax(img, dim=-3)
    minc = ember.amin(img, dim=-3)
    eqc = maxc == minc  # gray pixels: no hue, and the divisions below must not see 0
    cr = maxc - minc
    ones = ember.ones_like(maxc)
    s = cr / ember.where(eqc, ones, maxc)
    cr_divisor = ember.where(eqc, ones, cr)
    rc = (maxc - r) / cr_divisor
    gc = (maxc - g) / cr_divisor
    bc = (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = ember.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return ember.stack((h, s, maxc), dim=-3)


def _hsv2rgb(img: Tensor) -> Tensor:
    h, s, v = img.unbind(dim=-3)
    i = ember.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(ember.int32) % 6
    p = ember.clamp(v * (1.0 - s), 0.0, 1.0)
    q = ember.clamp(v * (1.0 - s * f), 0.0, 1.0)
    t = ember.clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    # the six sectors of the hue circle pick (r, g, b) from (v, q, p, t) differently
    sectors = ember.arange(6, device=img.device).view(-1, 1, 1)
    mask = (i.unsqueeze(dim=-3) == sectors).to(img.dtype)
    r = ember.stack((v, q, p, p, t, v), dim=-3)
    g = ember.stack((t, v, v, q, p, p), dim=-3)
    b = ember.stack((p, p, t, v, v, q), dim=-3)
    return ember.stack([(mask * c).sum(dim=-3) for c in (r, g, b)], dim=-3)


def adjust_hue(img: Tensor, hue_factor: float) -> Tensor:
    """Shift the hue by `hue_factor` turns (in [-0.5, 0.5]) through HSV."""
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if not isinstance(img, Tensor):
        raise TypeError("Input img should be Tensor image")
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    if get_dimensions(img)[0] == 1:
        return img
    orig_dtype = img.dtype
    hsv = _rgb2hsv(convert_image_dtype(img, ember.float32))
    h, s, v = hsv.unbind(dim=-3)
    h = (h + hue_factor) % 1.0
    rgb = _hsv2rgb(ember.stack((h, s, v), dim=-3))
    return convert_image_dtype(rgb, orig_dtype)


# ----------------------------------------------------------------------------- rotate
def _affine_grid(matrix: list[float], w: int, h: int, ow: int, oh: int, dtype) -> np.ndarray:
    """(oh, ow, 2) source positions in grid_sample's [-1, 1] units for an inverse affine
    `matrix` about the image center; output pixel centers are taken relative to the
    output's center and normalized by the *input* size, so `expand` canvases work."""
    d = 0.5
    xs = np.linspace(-ow * 0.5 + d, ow * 0.5 + d - 1, ow).astype(dtype)
    ys = np.linspace(-oh * 0.5 + d, oh * 0.5 + d - 1, oh).astype(dtype)
    base = np.empty((oh, ow, 3), dtype=dtype)
    base[..., 0] = xs[None, :]
    base[..., 1] = ys[:, None]
    base[..., 2] = 1
    theta = np.asarray(matrix, dtype=dtype).reshape(2, 3)
    rescaled = theta.T / np.asarray([0.5 * w, 0.5 * h], dtype=dtype)
    return (base.reshape(-1, 3) @ rescaled).reshape(oh, ow, 2)


def _grid_sample(img: Tensor, grid: np.ndarray, mode: str) -> Tensor:
    """grid_sample(img, grid, mode, padding_mode='zeros', align_corners=False) for one
    grid shared by every image of the (N, C, H, W) batch: gathers, then weights."""
    h, w = img.shape[-2:]
    dtype = grid.dtype
    x = ((grid[..., 0] + 1) * w - 1) / dtype.type(2)
    y = ((grid[..., 1] + 1) * h - 1) / dtype.type(2)
    if mode == "nearest":
        corners = [(np.rint(x).astype(np.int64), np.rint(y).astype(np.int64), None)]
    else:
        x0, y0 = np.floor(x), np.floor(y)
        fx, fy = x - x0, y - y0
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        corners = [(x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                   (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)]
    out = None
    for ix, iy, weight in corners:
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)  # outside reads as zero
        weight = inside.astype(dtype) if weight is None else weight * inside
        rows = ember.from_numpy(np.clip(iy, 0, h - 1)).to(img.device)
        cols = ember.from_numpy(np.clip(ix, 0, w - 1)).to(img.device)
        term = img[:, :, rows, cols] * ember.from_numpy(weight.astype(dtype)).to(img.device)
        out = term if out is None else out + term
    return out


def _apply_grid_transform(img: Tensor, grid: np.ndarray, mode: str, fill) -> Tensor:
    """Resample through `grid`; with `fill`, a ones channel sampled alongside tells
    which output pixels came from outside the image, and those get the fill color."""
    out_dtype = img.dtype
    channels, h, w = get_dimensions(img)
    x = img.reshape(-1, channels, h, w).to(_work_dtype(img))
    if fill is not None:
        x = ember.cat((x, ember.ones_like(x[:, :1])), dim=1)
    x = _grid_sample(x, grid, mode)
    if fill is not None:
        mask = x[:, -1:].expand_as(x[:, :-1])
        x = x[:, :-1]
        fill_list = list(fill) if isinstance(fill, (tuple, list)) else [float(fill)]
        fill_img = ember.tensor(fill_list, dtype=x.dtype, device=x.device).view(
            1, len(fill_list), 1, 1).expand_as(x)
        if mode == "nearest":
            x = ember.where(mask < 0.5, fill_img, x)
        else:
            x = x * mask + (1.0 - mask) * fill_img
    x = x.reshape(*img.shape[:-2], *grid.shape[:2])
    if not out_dtype.is_floating_point:
        x = ember.round(x)
    return x.to(out_dtype)


def _work_dtype(img: Tensor):
    """The float dtype grid transforms compute in: the image's own, or float32."""
    return img.dtype if img.dtype in (ember.float32, ember.float64) else ember.float32


def _compute_affine_output_size(matrix: list[float], w: int, h: int) -> tuple[int, int]:
    """(w, h) of the canvas holding the whole transformed image, as Pillow sizes it."""
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], dtype=np.float32)
    theta = np.asarray(matrix, dtype=np.float32).reshape(2, 3)
    new_pts = pts @ theta.T
    shift = np.array([w * 0.5, h * 0.5], dtype=np.float32)
    min_vals, max_vals = new_pts.min(axis=0) + shift, new_pts.max(axis=0) + shift
    tol = np.float32(1e-4)  # so a corner at 1e-15 past an integer does not add a column
    cmax = np.ceil(np.trunc(max_vals / tol) * tol)
    cmin = np.floor(np.trunc(min_vals / tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _assert_grid_transform_inputs(img: Tensor, interpolation: str, fill,
                                  supported: list[str]) -> None:
    _assert_image_tensor(img)
    num_channels = get_dimensions(img)[0]
    if isinstance(fill, (tuple, list)) and len(fill) > 1 and len(fill) != num_channels:
        raise ValueError(f"The number of elements in 'fill' cannot broadcast to match the "
                         f"number of channels of the image ({len(fill)} != {num_channels})")
    if interpolation not in supported:
        raise ValueError(f"Interpolation mode '{interpolation}' is unsupported with Tensor "
                         f"input")


def affine(img: Tensor, matrix: list[float], interpolation: str = "nearest",
           fill=None) -> Tensor:
    """Apply the inverse affine `matrix` (output -> input, about the center)."""
    _assert_grid_transform_inputs(img, interpolation, fill, ["nearest", "bilinear"])
    h, w = img.shape[-2:]
    grid = _affine_grid(matrix, w, h, w, h, _NP_FLOAT[_work_dtype(img)])
    return _apply_grid_transform(img, grid, interpolation, fill)


def rotate(img: Tensor, matrix: list[float], interpolation: str = "nearest",
           expand: bool = False, fill=None) -> Tensor:
    """Rotate by the inverse affine `matrix`; expand enlarges the canvas to fit."""
    _assert_grid_transform_inputs(img, interpolation, fill, ["nearest", "bilinear"])
    h, w = img.shape[-2:]
    ow, oh = _compute_affine_output_size(matrix, w, h) if expand else (w, h)
    grid = _affine_grid(matrix, w, h, ow, oh, _NP_FLOAT[_work_dtype(img)])
    return _apply_grid_transform(img, grid, interpolation, fill)


_NP_FLOAT = {ember.float32: np.dtype(np.float32), ember.float64: np.dtype(np.float64)}


# ----------------------------------------------------------------------------- blur, erase
def _gaussian_kernel1d(kernel_size: int, sigma: float, dtype, device) -> Tensor:
    half = (kernel_size - 1) * 0.5
    x = ember.linspace(-half, half, steps=kernel_size, dtype=dtype, device=device)
    pdf = ember.exp(-0.5 * (x / sigma).pow(2))
    return pdf / pdf.sum()


def gaussian_blur(img: Tensor, kernel_size: list[int], sigma: list[float]) -> Tensor:
    """Blur each channel with a (ky, kx) Gaussian; borders reflect. kernel_size and
    sigma are given x (width) first."""
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor. Got {type(img)}")
    _assert_image_tensor(img)
    dtype = img.dtype if img.is_floating_point() else ember.float32
    kx = _gaussian_kernel1d(kernel_size[0], sigma[0], dtype, img.device)
    ky = _gaussian_kernel1d(kernel_size[1], sigma[1], dtype, img.device)
    kernel = ky[:, None] * kx[None, :]
    out_dtype = img.dtype
    lead = img.shape[:-2]
    x = img.reshape(-1, 1, *img.shape[-2:]).to(dtype)
    padding = [kernel_size[0] // 2, kernel_size[0] // 2, kernel_size[1] // 2,
               kernel_size[1] // 2]
    x = F.conv2d(F.pad(x, padding, mode="reflect"), kernel[None, None])
    x = x.reshape(*lead, *x.shape[-2:])
    if not out_dtype.is_floating_point:
        x = ember.round(x)
    return x.to(out_dtype)


def erase(img: Tensor, i: int, j: int, h: int, w: int, v: Tensor,
          inplace: bool = False) -> Tensor:
    """Overwrite the (h, w) box at (i, j) with `v` (broadcast over it)."""
    _assert_image_tensor(img)
    if not inplace:
        img = img.clone()
    img[..., i:i + h, j:j + w] = v
    return img


# ----------------------------------------------------------------------------- dtype, normalize
def convert_image_dtype(image: Tensor, dtype=ember.float32) -> Tensor:
    """Change dtype and rescale so white stays white: [0, 1] for floats, [0, max]
    for integers."""
    if image.dtype == dtype:
        return image
    if image.is_floating_point():
        if dtype.is_floating_point:
            return image.to(dtype)
        if (image.dtype == ember.float32 and dtype in (ember.int32, ember.int64)) or (
                image.dtype == ember.float64 and dtype == ember.int64):
            raise RuntimeError(f"The cast from {image.dtype} to {dtype} cannot be performed "
                               f"safely.")
        eps = 1e-3  # keeps 1.0 from landing one past the integer maximum
        return image.mul(float(_max_value(dtype)) + 1.0 - eps).to(dtype)
    input_max = float(_max_value(image.dtype))
    if dtype.is_floating_point:
        return image.to(dtype) / input_max
    output_max = float(_max_value(dtype))
    if input_max > output_max:
        factor = int((input_max + 1) // (output_max + 1))
        return ember.div(image, factor, rounding_mode="floor").to(dtype)
    factor = int((output_max + 1) // (input_max + 1))
    return image.to(dtype) * factor


def normalize(tensor: Tensor, mean, std, inplace: bool = False) -> Tensor:
    """(tensor - mean) / std per channel of a float (..., C, H, W) image."""
    _assert_image_tensor(tensor)
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tensor.size()}")
    if not inplace:
        tensor = tensor.clone()
    dtype = tensor.dtype
    mean = ember.as_tensor(mean, dtype=dtype, device=tensor.device)
    std = ember.as_tensor(std, dtype=dtype, device=tensor.device)
    if (std == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {dtype}, leading to "
                         f"division by zero.")
    if mean.ndim == 1:
        mean = mean.view(-1, 1, 1)
    if std.ndim == 1:
        std = std.view(-1, 1, 1)
    return tensor.sub_(mean).div_(std)
