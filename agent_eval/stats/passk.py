"""pass^k and pass@k: the k runs of one case reduced to a probability."""

from __future__ import annotations

from math import comb

__all__ = ["pass_at_k", "pass_hat_k"]


def pass_hat_k(n: int, c: int, k: int) -> float | None:
    """Probability that k runs drawn without replacement from n (c passed) all pass.

    k is capped at n; None when there is no completed run.
    """
    _check(n, c, k)
    if n == 0:
        return None
    k = min(k, n)
    return comb(c, k) / comb(n, k)


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """Probability that at least one of k runs drawn from n (c passed) passes.

    k is capped at n; None when there is no completed run.
    """
    _check(n, c, k)
    if n == 0:
        return None
    k = min(k, n)
    return 1.0 - comb(n - c, k) / comb(n, k)


def _check(n: int, c: int, k: int) -> None:
    if n < 0 or not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
