"""erf, erfc and erfinv as array kernels (NumPy has none, and SciPy is not a dependency).

All three work on float64 NumPy or CuPy arrays with a handful of array operations;
callers cast to and from the tensor's dtype.

- |x| < 1: erf(x) = x * P(x^2), P the Chebyshev interpolant of erf(sqrt t)/sqrt t on
  t in [0, 1] (whose values come from the Taylor series), rewritten in powers of t.
- |x| >= 1: erfc(x) = exp(-x^2) / (x sqrt(pi)) * K(1/x). K(s) is smooth on [0, 1]
  (K -> 1 as s -> 0), so two Chebyshev series in s (on [0, 1/2] and [1/2, 1])
  represent it; their coefficients come from Laplace's continued fraction for erfc
  evaluated at the Chebyshev nodes. exp(-x^2) is formed from a split x = hi + lo so
  that the rounding of x^2 does not cost relative accuracy for large x.
- erfinv(y) = y * R(-ln(1 - y^2)), R a pair of Chebyshev series fitted on first use
  to values obtained by Halley's iteration on erf; float64 results take one more Halley
  step on erf(z) - y (on erfc near |y| = 1, where 1 - |y| is exact).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["erf", "erfc", "erfinv"]

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_BIG = 30.0  # erfc(30) underflows float64: beyond it erf is +-1 and erfc is 0 or 2

# Working precision -> degrees of (P, K on [0, 1/2], K on [1/2, 1]), chosen for errors
# near 1e-16 and 1e-9: "single" serves float32 and narrower dtypes, whose resolution is
# far coarser. All coefficients are computed once, on first use.
_DEGREES = {"double": (12, 20, 16), "single": (6, 10, 8)}
_K_SPLIT = 0.5  # in s = 1/|x|: the two series for K meet at |x| = 2
_coeffs: dict = {}  # precision -> (P's coefficients highest power first, K far, K near)


def _continued_fraction(x: float, depth: int = 400) -> float:
    """sqrt(pi) * x * exp(x^2) * erfc(x) for x >= 1, evaluated bottom-up."""
    t = x
    for k in range(depth, 0, -1):
        t = x + 0.5 * k / t
    return x / t


def _small_series(t: float) -> float:
    """erf(sqrt t) / sqrt t for t in [0, 1], summed exactly from its Taylor series."""
    return math.fsum(_TWO_OVER_SQRT_PI * (-t) ** n / (math.factorial(n) * (2 * n + 1))
                     for n in range(40))


def _chebyshev_interpolant(f, lo: float, hi: float, degree: int) -> list:
    """Coefficients of the Chebyshev series interpolating f at first-kind nodes of [lo, hi]."""
    count = degree + 1
    turn = 4 * count

    def cos_of(m: int) -> float:
        # cos(pi m / (2 count)), with m reduced modulo a full turn first so that large
        # multiples lose no accuracy
        return math.cos(math.pi * (m % turn) / (2 * count))

    values = [f((lo + hi) / 2 + (hi - lo) / 2 * cos_of(2 * k + 1)) for k in range(count)]
    cheb = [2.0 / count * math.fsum(v * cos_of(j * (2 * k + 1)) for k, v in enumerate(values))
            for j in range(count)]
    cheb[0] *= 0.5
    return cheb


def _coefficients(precision: str):
    found = _coeffs.get(precision)
    if found is None:
        small, far, near = _DEGREES[precision]
        cheb = np.polynomial.Chebyshev(_chebyshev_interpolant(_small_series, 0.0, 1.0, small),
                                       domain=[0.0, 1.0])
        powers = [float(c) for c in cheb.convert(kind=np.polynomial.Polynomial).coef[::-1]]

        def k_of(s: float) -> float:
            return _continued_fraction(1.0 / s)

        found = _coeffs[precision] = (
            powers, _chebyshev_interpolant(k_of, 0.0, _K_SPLIT, far),
            _chebyshev_interpolant(k_of, _K_SPLIT, 1.0, near))
    return found


def _exp_minus_square(x):
    """exp(-x*x) without the relative error that rounding x*x would bring for large x."""
    hi = x.astype(np.float32).astype(np.float64)  # 24 bits: hi*hi is exact in float64
    lo = x - hi
    lo *= x + hi  # x*x - hi*hi
    lo *= -1.0
    np.exp(lo, out=lo)
    hi *= hi
    hi *= -1.0
    np.exp(hi, out=hi)
    hi *= lo
    return hi


def _clenshaw(c, v, lo: float, hi: float):
    """The Chebyshev series c at points v of [lo, hi] (in place, no temporaries per term)."""
    u2 = v * (4.0 / (hi - lo))  # 2u, with u = (2v - lo - hi) / (hi - lo) in [-1, 1]
    u2 -= 2.0 * (lo + hi) / (hi - lo)
    b1 = np.full_like(u2, c[-1])
    b2 = np.zeros_like(u2)
    t = np.empty_like(u2)
    for cj in c[-2:0:-1]:
        np.multiply(u2, b1, out=t)
        t -= b2
        t += cj
        b1, b2, t = t, b1, b2
    np.multiply(u2, b1, out=t)
    t *= 0.5
    t -= b2
    t += c[0]
    return t


def _erf_erfc(x, precision: str = "double", which: int = 0):
    """erf(x) (which=0) or erfc(x) (which=1) for a float64 array x of any shape.

    Each region's elements are gathered by index (much faster than boolean masks) and
    the results scattered back."""
    powers, far, near = _coefficients(precision)
    shape = x.shape
    x = x.reshape(-1)
    ax = np.absolute(x)
    out = x.copy()  # NaN entries are in neither region below and stay NaN
    small = np.flatnonzero(ax < 1.0)
    if small.size:
        xs = x.take(small)
        t = xs * xs
        p = np.full_like(t, powers[0])
        for a in powers[1:]:
            p *= t
            p += a
        p *= xs  # erf
        if which:
            np.subtract(1.0, p, out=p)
        out[small] = p
    large = np.flatnonzero(ax >= 1.0)
    if large.size:
        out[large] = _erfc_large(x.take(large), ax.take(large), far, near, which)
    return out.reshape(shape)


def _erfc_large(xl, z, far, near, which: int):
    """erf (which=0) or erfc (which=1) of the elements xl with |xl| = z >= 1."""
    np.minimum(z, _BIG, out=z)
    s = np.reciprocal(z)
    r = np.empty_like(s)
    for part, coeffs, lo, hi in ((np.flatnonzero(s >= _K_SPLIT), near, _K_SPLIT, 1.0),
                                 (np.flatnonzero(s < _K_SPLIT), far, 0.0, _K_SPLIT)):
        if part.size:
            r[part] = _clenshaw(coeffs, s.take(part), lo, hi)
    r *= s
    r *= _INV_SQRT_PI
    r *= _exp_minus_square(z)  # erfc(|x|)
    if which:  # erfc(x) = 2 - erfc(-x)
        neg = np.flatnonzero(xl < 0)
        r[neg] = 2.0 - r.take(neg)
    else:  # erf(x) = sign(x) (1 - erfc(|x|))
        np.subtract(1.0, r, out=r)
        np.copysign(r, xl, out=r)
    return r


def erf(x, precision: str = "double"):
    return _erf_erfc(x, precision, 0)


def erfc(x, precision: str = "double"):
    return _erf_erfc(x, precision, 1)


# erfinv(y) = y * R(w) with w = -ln(1 - y^2): R is smooth in w on [0, 5] and in sqrt(w)
# beyond (up to w = 36.04, where 1 - |y| reaches float64's 2^-53). Both Chebyshev series
# are fitted by least squares, on first use, to values from `_erfinv_refined`; their error
# (about 1e-8) is below float32's resolution, and one Halley step takes float64 the rest
# of the way.
_INV_SPLIT = 5.0
_INV_RANGES = ((0.0, _INV_SPLIT), (math.sqrt(_INV_SPLIT), 6.01))
_INV_DEGREES = (10, 14)
_inv_coeffs: list = []


def _log_one_minus_square(a):
    """ln(1 - a^2) for a in [0, 1], accurate both for tiny a and for a close to 1."""
    return np.where(a < 0.5, np.log1p(-a * a), np.log((1.0 - a) * (1.0 + a)))


def _inverse_coefficients():
    if not _inv_coeffs:
        from numpy.polynomial import chebyshev
        for (lo, hi), degree, squared in zip(_INV_RANGES, _INV_DEGREES, (False, True)):
            count = 4 * (degree + 1)
            v = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (np.arange(count) + 0.5) / count)
            y = np.sqrt(-np.expm1(-(v * v if squared else v)))
            w = -_log_one_minus_square(y)  # the w the evaluation will see for this y
            v = np.sqrt(w) if squared else w
            fit = chebyshev.chebfit((2 * v - lo - hi) / (hi - lo), _erfinv_refined(y) / y, degree)
            _inv_coeffs.append([float(c) for c in fit])
    return _inv_coeffs


def erfinv(y, precision: str = "double"):
    """The inverse of erf on [-1, 1] (+-inf at +-1, NaN outside), for a float64 array."""
    shape = y.shape
    y = y.reshape(-1)
    a = np.absolute(y)
    w = _log_one_minus_square(a)
    w *= -1.0
    (lo, hi), (lo2, hi2) = _INV_RANGES
    near, far = _inverse_coefficients()
    tail = np.flatnonzero(w > _INV_SPLIT)
    r = _clenshaw(near, np.minimum(w, _INV_SPLIT), lo, hi)
    if tail.size:
        r[tail] = _clenshaw(far, np.sqrt(w.take(tail)), lo2, hi2)
    r *= a
    if precision == "double":
        r = _halley_step(r, a)
    r[np.flatnonzero(a == 1.0)] = np.inf
    return np.copysign(r, y).reshape(shape)


def _halley_step(z, a):
    """One Halley iteration for erf(z) = a (a >= 0), on erfc where a is near 1."""
    f = np.empty_like(z)
    part = np.flatnonzero(a <= 0.5)
    f[part] = erf(z.take(part)) - a.take(part)
    part = np.flatnonzero(a > 0.5)
    f[part] = (1.0 - a.take(part)) - erfc(z.take(part))  # 1 - a is exact for a >= 0.5
    f /= _exp_minus_square(z)
    f *= 1.0 / _TWO_OVER_SQRT_PI  # the Newton step erf(z) - a over erf'(z)
    step = z * f
    step += 1.0
    np.divide(f, step, out=step)
    return z - step


_WINITZKI_A = 0.147


def _erfinv_refined(y):
    """erfinv for y in [0, 1) to full float64 accuracy: Winitzki's closed form (relative
    error below 2e-3), then three Halley steps. Slow; it only provides fitting data."""
    a = abs(y)
    log_1m = _log_one_minus_square(a)
    b = 2.0 / (math.pi * _WINITZKI_A) + 0.5 * log_1m
    q = -log_1m / _WINITZKI_A
    root = np.sqrt(b * b + q)
    # sqrt(b^2 + q) - b, without cancellation while b > 0
    z = np.sqrt(np.where(b > 0, q / (root + np.where(b > 0, b, 1.0)), root - b))
    for _ in range(3):
        z = _halley_step(z, a)
    return z
