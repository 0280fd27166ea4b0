"""torch.backends.cpu: which SIMD level kernels use (NumPy decides for ember)."""


def get_cpu_capability() -> str:
    """The best SIMD extension NumPy's kernels were dispatched to, in torch's spelling."""
    import numpy as np

    try:
        features = np._core._multiarray_umath.__cpu_features__  # NumPy 2
    except AttributeError:
        return "DEFAULT"
    if features.get("AVX512F"):
        return "AVX512"
    if features.get("AVX2"):
        return "AVX2"
    return "DEFAULT"
