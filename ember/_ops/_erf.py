"""erf, erfc and erfinv as array kernels (NumPy has none, and SciPy is not a dependency).

All three work on float64 NumPy or CuPy arrays with a handful of array operations;
callers cast to and from the tensor's dtype.

- |x| < 1: erf(x) = x * P(x^2), where P is erf's Taylor series (coefficients in
  closed form: 2/sqrt(pi) * (-1)^n / (n! (2n+1))), cut where the terms drop below
  the working precision.
- |x| >= 1: erfc(x) = exp(-x^2) / (x sqrt(pi)) * K(1/x). K(s) is smooth on [0, 1]
  (K -> 1 as s -> 0), so a Chebyshev series in s represents it; its coefficients are
  computed once, on first use, from Laplace's continued fraction for erfc evaluated
  at Chebyshev nodes. exp(-x^2) is formed from a split x = hi + lo so that the
  rounding of x^2 does not cost relative accuracy for large x.
- erfinv(y) starts from Winitzki's closed-form approximation (relative error below
  about 2e-3) and takes Halley steps on erf(z) - y (on erfc near |y| = 1, where
  1 - |y| is exact), each of which roughly cubes the error.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["erf", "erfc", "erfinv"]

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_BIG = 30.0  # erfc(30) underflows float64: beyond it erf is +-1 and erfc is 0 or 2

# Working precision -> (Taylor cut-off, Chebyshev degree). "single" serves float32 and
# narrower dtypes: a shorter series whose error is still far below float32's epsilon.
_PRECISION = {"double": (1e-17, 36), "single": (1e-10, 18)}
_coeffs: dict = {}  # precision -> (Taylor coefficients highest first, Chebyshev coefficients)


def _continued_fraction(x: float, depth: int = 400) -> float:
    """sqrt(pi) * x * exp(x^2) * erfc(x) for x >= 1, evaluated bottom-up."""
    t = x
    for k in range(depth, 0, -1):
        t = x + 0.5 * k / t
    return x / t


def _coefficients(precision: str):
    found = _coeffs.get(precision)
    if found is not None:
        return found
    cutoff, degree = _PRECISION[precision]
    taylor = []
    n = 0
    while True:
        a = _TWO_OVER_SQRT_PI * (-1) ** n / (math.factorial(n) * (2 * n + 1))
        taylor.append(a)
        if abs(a) < cutoff:
            break
        n += 1
    taylor.reverse()  # Horner order
    # Chebyshev interpolation of K on s in [0, 1] at the first-kind nodes.
    # cos(j * theta_k) with theta_k = pi (2k+1) / (2 count): the integer multiple is reduced
    # modulo a full turn before scaling by pi, so large j lose no accuracy.
    count = degree + 1
    turn = 4 * count

    def cos_of(m: int) -> float:
        return math.cos(math.pi * (m % turn) / (2 * count))

    values = [_continued_fraction(2.0 / (1.0 + cos_of(2 * k + 1))) for k in range(count)]
    cheb = [2.0 / count * math.fsum(v * cos_of(j * (2 * k + 1)) for k, v in enumerate(values))
            for j in range(count)]
    cheb[0] *= 0.5
    found = _coeffs[precision] = (taylor, cheb)
    return found


def _exp_minus_square(x):
    """exp(-x*x) without the relative error that rounding x*x would bring for large x."""
    hi = x.astype(np.float32).astype(np.float64)  # 24 bits: hi*hi is exact in float64
    return np.exp(-hi * hi) * np.exp(-(x - hi) * (x + hi))


def _erf_erfc(x, precision: str = "double"):
    """(erf(x), erfc(x)) for a float64 array x of any shape."""
    taylor, cheb = _coefficients(precision)
    shape = x.shape
    x = x.reshape(-1)
    ax = abs(x)
    erf = x.copy()
    erfc = x.copy()
    small = ax < 1.0
    xs = x[small]
    t = xs * xs
    p = taylor[0]
    for a in taylor[1:]:
        p = p * t + a
    e = xs * p
    erf[small] = e
    erfc[small] = 1.0 - e

    large = ~small & (ax == ax)  # NaN stays NaN (it was copied into both outputs)
    xl = x[large]
    z = np.minimum(abs(xl), _BIG)
    s = 1.0 / z
    u2 = 4.0 * s - 2.0  # 2 * (2s - 1): s in [0, 1] mapped to [-1, 1], doubled for Clenshaw
    b1 = b2 = 0.0
    for c in cheb[:0:-1]:
        b1, b2 = c + u2 * b1 - b2, b1
    k = cheb[0] + 0.5 * u2 * b1 - b2
    r = _exp_minus_square(z) * (_INV_SQRT_PI * s) * k  # erfc(|x|)
    neg = xl < 0
    erfc[large] = np.where(neg, 2.0 - r, r)
    erf[large] = np.where(neg, r - 1.0, 1.0 - r)
    return erf.reshape(shape), erfc.reshape(shape)


def erf(x, precision: str = "double"):
    return _erf_erfc(x, precision)[0]


def erfc(x, precision: str = "double"):
    return _erf_erfc(x, precision)[1]


_WINITZKI_A = 0.147


def erfinv(y):
    """The inverse of erf on [-1, 1] (+-inf at +-1, NaN outside), for a float64 array."""
    a = abs(y)
    # ln(1 - a^2), accurate both for tiny a and for a close to 1
    log_1m = np.where(a < 0.5, np.log1p(-a * a), np.log((1.0 - a) * (1.0 + a)))
    b = 2.0 / (math.pi * _WINITZKI_A) + 0.5 * log_1m
    q = -log_1m / _WINITZKI_A
    root = np.sqrt(b * b + q)
    # sqrt(b^2 + q) - b, without cancellation while b > 0
    z = np.sqrt(np.where(b > 0, q / (root + np.where(b > 0, b, 1.0)), root - b))
    near_one = a > 0.5
    one_minus_a = 1.0 - a  # exact for a in [0.5, 1]
    for _ in range(3):
        e, c = _erf_erfc(z)
        f = np.where(near_one, one_minus_a - c, e - a)
        step = f / (_TWO_OVER_SQRT_PI * _exp_minus_square(z))
        z = z - step / (1.0 + z * step)
    z = np.where(a == 1.0, np.inf, z)
    return np.where(y < 0, -z, z)
