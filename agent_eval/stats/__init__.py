"""Statistics: pass^k and pass@k, run and case reduction, and the gate's paired test.

Pure functions: nothing here prints or reads the environment, randomness comes in as a seed
or a numpy Generator, and numpy and scipy are imported only by the functions that need them.
"""

from agent_eval.stats.describe import mean, mean_ci, percentile, t_quantile_975
from agent_eval.stats.paired import (
    PairedTest,
    bootstrap_change_ci,
    one_sided_p,
    paired_test,
)
from agent_eval.stats.passk import pass_at_k, pass_hat_k
from agent_eval.stats.reduce import case_stats, run_score, summarize

__all__ = [
    "PairedTest",
    "bootstrap_change_ci",
    "case_stats",
    "mean",
    "mean_ci",
    "one_sided_p",
    "paired_test",
    "pass_at_k",
    "pass_hat_k",
    "percentile",
    "run_score",
    "summarize",
    "t_quantile_975",
]
