"""The statistics behind verdicts: Student's t, Welch's test, the single-run t-test, Hedges'
g, Holm's correction.

Core: pure Python on floats (``math`` only). Never imports scipy or numpy: ``import
scipy.stats`` alone costs about 0.74 s, more than a whole ``check-results compare``.

The t distribution comes from the regularized incomplete beta function, evaluated with
its continued fraction by the modified Lentz method (Numerical Recipes, 3rd ed., 6.4):
for ``t`` with ``df`` degrees of freedom, ``P(|T| >= |t|) = I_x(df/2, 1/2)`` with
``x = df / (df + t²)``. tests/test_statistics.py checks it against printed t tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "TTest",
    "betainc",
    "hedges_g",
    "holm",
    "single_t",
    "t_cdf",
    "t_quantile",
    "t_two_sided_p",
    "welch",
]

_TINY = 1e-300
_EPS = 1e-15
_MAX_ITERATIONS = 100_000


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), by the modified Lentz method."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS + 1):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            step = d * c
            h *= step
        if abs(step - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge (a={a}, b={b}, x={x})")


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    if a <= 0 or b <= 0 or not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc needs a, b > 0 and 0 <= x <= 1, got {a}, {b}, {x}")
    if x == 0.0 or x == 1.0:
        return x
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):  # the fraction converges fast on this side
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's T with ``df`` (> 0, not necessarily whole) degrees of freedom."""
    if df <= 0 or math.isnan(t) or math.isnan(df):
        raise ValueError(f"t_two_sided_p needs df > 0 and a number t, got t={t}, df={df}")
    if math.isinf(t):
        return 0.0
    if math.isinf(df):  # the normal limit
        return math.erfc(abs(t) / math.sqrt(2.0))
    return min(1.0, betainc(df / 2.0, 0.5, df / (df + t * t)))


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's T with ``df`` degrees of freedom."""
    tail = t_two_sided_p(t, df) / 2.0
    return 1.0 - tail if t > 0 else tail


def _t_pdf(t: float, df: float) -> float:
    log_pdf = (
        math.lgamma((df + 1.0) / 2.0)
        - math.lgamma(df / 2.0)
        - 0.5 * math.log(df * math.pi)
        - (df + 1.0) / 2.0 * math.log1p(t * t / df)
    )
    return math.exp(log_pdf)


def _start(alpha: float, df: float) -> float:
    """A first guess at the two-sided ``alpha`` point of t: the normal one (Abramowitz and
    Stegun 26.2.23) with the Cornish-Fisher terms for ``df``."""
    w = math.sqrt(-2.0 * math.log(alpha / 2.0))
    z = w - (2.515517 + 0.802853 * w + 0.010328 * w * w) / (
        1.0 + 1.432788 * w + 0.189269 * w * w + 0.001308 * w**3
    )
    z2 = z * z
    return (
        z
        + z * (z2 + 1.0) / (4.0 * df)
        + z * (5.0 * z2 * z2 + 16.0 * z2 + 3.0) / (96.0 * df * df)
        + z * (3.0 * z2**3 + 19.0 * z2 * z2 + 17.0 * z2 - 15.0) / (384.0 * df**3)
    )


def t_quantile(level: float, df: float) -> float:
    """The ``t > 0`` with ``P(|T| <= t) = level``: the half-width factor of a ``level`` interval.

    Newton's method on the two-sided tail from a Cornish-Fisher guess, kept inside the
    bracket of points already seen (bisection, or doubling, when a step would leave it).
    """
    if not 0.0 < level < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0 < level < 1 and df > 0, got {level}, {df}")
    alpha = 1.0 - level
    t = max(_start(alpha, df), 1e-6)
    low, high = 0.0, math.inf
    for _ in range(500):
        excess = t_two_sided_p(t, df) - alpha  # decreasing in t
        if excess > 0:
            low = t
        else:
            high = t
        if abs(excess) <= alpha * 1e-13 or (math.isfinite(high) and high - low <= 1e-14 * high):
            break
        newton = t + excess / (2.0 * _t_pdf(t, df))
        if low < newton < high:
            t = newton
        else:
            t = (low + high) / 2.0 if math.isfinite(high) else 2.0 * t
    return t


@dataclass(frozen=True)
class TTest:
    """A t-test of ``candidate - baseline`` (Welch's, or a single run's against a sample).

    ``t`` is None when there is no variance to test against (the difference is exact, not
    an estimate); ``df`` is then None too, and ``p`` is 0 (means differ) or 1 (they are equal).
    """

    t: float | None
    df: float | None
    p: float
    se: float  # standard error of the difference of means


def welch(baseline: tuple[float, float, int], candidate: tuple[float, float, int]) -> TTest:
    """Welch's t-test from (mean, sample std, n) of each side, both n >= 2.

    Degrees of freedom by Welch-Satterthwaite:
    ``(vb/nb + vc/nc)² / ((vb/nb)²/(nb-1) + (vc/nc)²/(nc-1))``.
    """
    (mean_b, std_b, n_b), (mean_c, std_c, n_c) = baseline, candidate
    if n_b < 2 or n_c < 2:
        raise ValueError(f"welch needs at least 2 values per side, got {n_b} and {n_c}")
    var_b, var_c = std_b * std_b / n_b, std_c * std_c / n_c
    se2 = var_b + var_c
    delta = mean_c - mean_b
    if se2 == 0.0:
        return TTest(t=None, df=None, p=1.0 if delta == 0 else 0.0, se=0.0)
    df = se2 * se2 / (var_b * var_b / (n_b - 1) + var_c * var_c / (n_c - 1))
    t = delta / math.sqrt(se2)
    return TTest(t=t, df=df, p=t_two_sided_p(t, df), se=math.sqrt(se2))


def single_t(
    baseline: tuple[float, float | None, int], candidate: tuple[float, float | None, int]
) -> TTest:
    """A single run against a sample of n >= 2 runs, from (mean, sample std, n) of each side:
    one side has n = 1 (its mean is the run's value x), the other n >= 2 (mean m, std s).

    Under the null hypothesis that x comes from the sample's distribution, x - m has
    variance σ²(1 + 1/n), so ``t = (x - m) / (s √(1 + 1/n))`` follows Student's t with
    n - 1 degrees of freedom (the prediction interval of one new observation). ``t`` keeps
    the sign of ``candidate - baseline`` whichever side is the single run; ``se`` is
    ``s √(1 + 1/n)``. With s = 0 the difference is exact, as in ``welch``.
    """
    (mean_b, std_b, n_b), (mean_c, std_c, n_c) = baseline, candidate
    if n_b == 1 and n_c >= 2:
        std, n = std_c, n_c
    elif n_c == 1 and n_b >= 2:
        std, n = std_b, n_b
    else:
        raise ValueError(
            f"single_t needs 1 value on one side and 2+ on the other, got {n_b}, {n_c}"
        )
    if std is None or not std >= 0.0:
        raise ValueError(f"single_t needs the sample's standard deviation, got {std}")
    delta = mean_c - mean_b
    se = std * math.sqrt(1.0 + 1.0 / n)
    if se == 0.0:
        return TTest(t=None, df=None, p=1.0 if delta == 0 else 0.0, se=0.0)
    t = delta / se
    return TTest(t=t, df=float(n - 1), p=t_two_sided_p(t, n - 1), se=se)


def hedges_g(
    baseline: tuple[float, float | None, int], candidate: tuple[float, float | None, int]
) -> float | None:
    """Hedges' g of ``candidate - baseline``: Cohen's d over the pooled standard deviation,
    times the exact small-sample correction ``J(df) = Γ(df/2) / (√(df/2) Γ((df-1)/2))``
    with ``df = nb + nc - 2``. None when df < 2 or the pooled deviation is 0 (undefined).

    A side with one value adds nothing to the pooled variance, so a single-seed branch
    against several baseline seeds is measured in the baseline's seed spread.
    """
    (mean_b, std_b, n_b), (mean_c, std_c, n_c) = baseline, candidate
    df = n_b + n_c - 2
    if df < 2:
        return None
    pooled2 = ((n_b - 1) * (std_b or 0.0) ** 2 + (n_c - 1) * (std_c or 0.0) ** 2) / df
    if pooled2 <= 0.0:
        return None
    correction = math.exp(
        math.lgamma(df / 2.0) - math.lgamma((df - 1) / 2.0) - 0.5 * math.log(df / 2.0)
    )
    return (mean_c - mean_b) / math.sqrt(pooled2) * correction


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of a family of p-values (None: not in the family).

    Sorted ascending, the i-th smallest of m gets ``max over j <= i of (m - j + 1) p_(j)``,
    capped at 1; rejecting where the adjusted p is below alpha controls the family-wise
    error rate at alpha.
    """
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(present)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted
