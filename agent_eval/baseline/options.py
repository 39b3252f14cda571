"""The gate's options: drop limits, absolute floors, critical cases and how errors count."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from agent_eval.errors import UsageError

if TYPE_CHECKING:
    from agent_eval.suite.schema import GateSpec

__all__ = ["BASELINE_FLOOR", "TAG_MIN_CASES", "Floors", "GateFlags", "GateOptions", "TagRule", "gate_options"]

# Below this baseline score a relative drop means little (0.0067 -> 0 is -100%): the absolute rule applies.
BASELINE_FLOOR = 0.05
# Tags of at least this many paired cases are tested at gate.max_drop in their own budget; smaller ones are warned.
TAG_MIN_CASES = 5


@dataclass(frozen=True, slots=True)
class Floors:
    """Absolute limits that need no baseline: FAIL when the upper confidence bound is below one."""

    min_score: float | None = None
    min_pass_rate: float | None = None
    min_pass_hat_k: float | None = None

    def items(self) -> Iterator[tuple[str, float]]:
        for name in ("min_score", "min_pass_rate", "min_pass_hat_k"):
            value = getattr(self, name)
            if value is not None:
                yield name, value

    def __post_init__(self) -> None:
        if any(not 0 <= v <= 1 for _, v in self.items()):
            raise UsageError("min_score, min_pass_rate and min_pass_hat_k must be in [0, 1]")


@dataclass(frozen=True, slots=True)
class TagRule:
    """One tag's limits (`gate.tags.<tag>`): a drop against the baseline and absolute floors."""

    max_drop: float | None = None
    floors: Floors = Floors()


@dataclass(frozen=True, slots=True)
class GateOptions:
    """Limits and knobs of the gate; the suite's `gate:` block and `critical:` cases fill most of them."""

    max_drop: float = 0.03  # relative (0.03 = 3%), or score points when absolute
    alpha: float = 0.05  # one-sided level of the whole family of routes to FAIL (Holm)
    strict: bool = False  # fail on the point estimates alone, without the significance requirement
    absolute: bool = False  # limits in score points instead of relative to the baseline
    tag_limits: Mapping[str, float | TagRule] = field(default_factory=dict)
    floors: Floors = Floors()
    critical_min_pass_rate: Mapping[str, float] = field(default_factory=dict)  # case id -> tolerated pass rate
    case_collapse: Literal["fail", "warn", "off"] = "fail"
    errors_as_failures: bool = False  # every errored run scores 0
    baseline_repeat: int | None = None  # runs per case a baseline may have without a k-mismatch warning
    power: float = 0.8  # for the drop that would FAIL and the cases or runs needed
    seed: int = 0  # kept for callers; the gate uses no randomness
    strict_versioning: bool = False  # a patch/minor bump that moved the score significantly exits 2
    accept_unpaired: frozenset[str] = frozenset()  # passing baseline cases allowed to be missing or changed
    suite_cases: frozenset[str] | None = None  # ids the suite still defines (a --filter run leaves some out)

    def __post_init__(self) -> None:
        object.__setattr__(self, "accept_unpaired", frozenset(self.accept_unpaired))
        if self.max_drop < 0:
            raise UsageError("drop limits must be >= 0")
        if not 0 < self.alpha < 1 or not 0 < self.power < 1:
            raise UsageError(f"alpha and power must be in (0, 1), got {self.alpha} and {self.power}")
        rules = {t: (TagRule(max_drop=float(v)) if isinstance(v, int | float) else v) for t, v in self.tag_limits.items()}
        if any(r.max_drop is not None and r.max_drop < 0 for r in rules.values()):
            raise UsageError("drop limits must be >= 0")
        if self.case_collapse not in ("fail", "warn", "off"):
            raise UsageError(f"case_collapse must be fail, warn or off, got {self.case_collapse!r}")
        object.__setattr__(self, "tag_limits", rules)
        object.__setattr__(self, "critical_min_pass_rate", dict(self.critical_min_pass_rate))

    def tag_rule(self, tag: str) -> TagRule | None:
        rule = self.tag_limits.get(tag)
        return rule if isinstance(rule, TagRule) else None


@dataclass(frozen=True, slots=True)
class GateFlags:
    """Gate options given on the command line (or to `agent_eval.run`); None: the suite's `gate:` block decides."""

    max_drop: float | None = None
    alpha: float = 0.05
    strict: bool = False
    absolute: bool = False
    redact: bool = False
    errors_as_failures: bool = False
    require_baseline: bool = False
    new_suites: tuple[str, ...] = ()  # suites exempt from --require-baseline (new in this change)
    strict_versioning: bool = False  # a patch/minor bump that moved the score significantly exits 2
    accept_unpaired: tuple[str, ...] = ()  # baseline case ids allowed to be removed, renamed or edited


def gate_options(flags: GateFlags, gate_spec: GateSpec | None, *, repeat: int,
                 critical_rates: Mapping[str, float] | None = None, seed: int = 0,
                 suite_cases: Collection[str] | None = None) -> GateOptions:
    """The gate's options: the flags over the suite's `gate:` block over the defaults, plus its critical cases."""
    spec = gate_spec
    tags: dict[str, float | TagRule] = {}
    for tag, limit in (spec.tags.items() if spec else ()):
        if isinstance(limit, float | int):
            tags[tag] = float(limit)
        else:
            tags[tag] = TagRule(limit.max_drop, Floors(limit.min_score, limit.min_pass_rate, limit.min_pass_hat_k))
    max_drop = flags.max_drop if flags.max_drop is not None else (
        spec.max_drop if spec and spec.max_drop is not None else 0.03)
    return GateOptions(
        max_drop=max_drop, alpha=flags.alpha, strict=flags.strict, absolute=flags.absolute, tag_limits=tags,
        floors=Floors(spec.min_score, spec.min_pass_rate, spec.min_pass_hat_k) if spec else Floors(),
        critical_min_pass_rate=dict(critical_rates or {}),
        case_collapse=spec.case_collapse if spec else "fail", errors_as_failures=flags.errors_as_failures,
        baseline_repeat=(spec.baseline_repeat if spec and spec.baseline_repeat else 2 * repeat), seed=seed,
        strict_versioning=flags.strict_versioning, accept_unpaired=frozenset(flags.accept_unpaired),
        suite_cases=frozenset(suite_cases) if suite_cases is not None else None,
    )
