"""pass^k and pass@k: the k runs of one case reduced to a probability."""

from __future__ import annotations

from math import comb

__all__ = ["pass_at_k", "pass_hat_curve", "pass_hat_k"]


def pass_hat_k(n: int, c: int, k: int) -> float | None:
    """Probability that k runs drawn without replacement from n (c passed) all pass.

    None with fewer than k completed runs: with n < k it would measure pass^n, not pass^k.
    """
    _check(n, c, k)
    if n < k:
        return None
    return comb(c, k) / comb(n, k)


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """Probability that at least one of k runs drawn from n (c passed) passes; None when n < k."""
    _check(n, c, k)
    if n < k:
        return None
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_curve(n: int, c: int, k: int) -> tuple[float | None, ...]:
    """pass^1 .. pass^k of one case (None from n + 1 on), as tau-bench plots reliability."""
    return tuple(pass_hat_k(n, c, j) for j in range(1, k + 1))


def _check(n: int, c: int, k: int) -> None:
    if n < 0 or not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
