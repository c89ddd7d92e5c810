"""Any Optuna sampler [OPTUNA19] over a space's decision vector, through Optuna's ask-and-tell.

Optuna's samplers are the model-free and model-based searches most practitioners already
use (TPE, CMA-ES, GP-BO, NSGA-II, quasi-Monte Carlo, random); running them as a strategy puts
them on the same footing as the suite's own strategies (same budget, clock, store and
leaderboard). Each ask is one Optuna trial over one categorical distribution per decision
of the space (choices: the indices 0…k−1) — except for CMA-ES, which handles no categorical
distribution (Optuna would hand every decision to its independent random sampler) and gets
one integer distribution 0…k−1 per decision instead. The trial's vector is the arch
``space.from_decisions`` makes of it.

The study lives in memory (no storage file, no network) and its sampler is seeded from the
strategy's generator, so the same seed and the same results give the same trials. No arch is
asked twice (:class:`~nasbench_txf.strategies.proposals.Proposals`): a trial that proposes a
known arch is told its stored result; when the sampler is stuck, the ask is a random unseen
arch, enqueued as a
fixed trial so that the sampler still learns from it. A failed evaluation is a failed trial
(samplers leave those out of their models).

Single-objective by default (the benchmark's objective). ``against`` (as ``nsga2``'s: ``auto``
or cost metrics by name) makes the study multi-objective — the objective against those
metrics — for the samplers that support it (all but ``cmaes``); the run then reports the
Pareto set of its trials. The sampler's own options are ``sampler_opts``, a JSON object checked
against the sampler's constructor. Optuna is an optional dependency (``nasbench-txf[optuna]``):
without it the strategy is listed as not installed.
"""

from __future__ import annotations

import difflib
import inspect
import json
import math
import types
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from nasbench_txf.core import safe_json
from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import OptionError
from nasbench_txf.core.optional import require
from nasbench_txf.core.options import option
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.strategy import Strategy
from nasbench_txf.strategies.against import against_metrics
from nasbench_txf.strategies.proposals import Proposals

optuna = require("optuna", extra="optuna", needed_by="strategy optuna")

#: option value → Optuna sampler class (in ``optuna.samplers``)
SAMPLERS = {
    "tpe": "TPESampler",
    "cmaes": "CmaEsSampler",
    "gp": "GPSampler",
    "nsgaii": "NSGAIISampler",
    "qmc": "QMCSampler",
    "random": "RandomSampler",
}
#: samplers that optimise several objectives (Optuna's CMA-ES is single-objective)
MULTI_OBJECTIVE = frozenset({"tpe", "gp", "nsgaii", "qmc", "random"})
#: samplers given integer, not categorical, distributions (they model no categorical one)
INTEGER = frozenset({"cmaes"})
#: the adapter's defaults where Optuna's do not fit a seeded run: an unscrambled Sobol sequence
#: is the same for every seed
DEFAULTS: dict[str, dict[str, Any]] = {"qmc": {"scramble": True}}
#: the longest ``sampler_opts`` text accepted
OPTS_CHARS = 10_000
@contextmanager
def _quiet() -> Iterator[None]:
    """Optuna's per-trial INFO lines and its ExperimentalWarnings off, for this block only."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


# -- the sampler's own options -----------------------------------------------------------------------
#: the names a constructor annotation may use to be settable from JSON
_JSON_TYPES: dict[str, Any] = {"int": int, "float": float, "bool": bool, "str": str, "None": None, "Any": Any,
                               "dict": dict, "list": list, "Sequence": Sequence, "Literal": Literal}


def _annotation(param: inspect.Parameter) -> Any:
    """The parameter's type if JSON can give a value of it, else ``None`` (callables, objects)."""
    tp = param.annotation
    if isinstance(tp, str):
        try:
            tp = eval(tp, {"__builtins__": {}}, dict(_JSON_TYPES))  # Optuna's own annotation text
        except Exception:
            return None
    return None if tp is inspect.Parameter.empty else tp


def _fits(value: Any, tp: Any) -> bool:
    """Whether a JSON value is of type ``tp``."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return True
    if tp is None or tp is type(None):
        return value is None
    if origin in (Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if tp is str:
        return isinstance(value, str)
    if tp is dict or origin is dict:
        return isinstance(value, dict) and (not args or all(_fits(v, args[1]) for v in value.values()))
    if tp in (list, Sequence) or origin in (list, Sequence):
        return isinstance(value, list) and (not args or all(_fits(v, args[0]) for v in value))
    return False


def _describe(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "").replace("NoneType", "None")


def parse_sampler_opts(sampler: str, text: str) -> dict[str, Any]:
    """``sampler_opts`` as keyword arguments of the sampler's constructor, each checked against
    its signature; an unknown name, a value of the wrong type, or an option JSON cannot give (a
    callable, an object) is an :class:`OptionError` naming the sampler's options."""
    given = safe_json.parse(text, "optuna: sampler_opts", OptionError, max_chars=OPTS_CHARS)
    if not isinstance(given, dict):
        raise OptionError(f"optuna: sampler_opts must be a JSON object such as '{{\"n_startup_trials\": 5}}', "
                          f"got {safe_json.excerpt(text)}")
    cls = getattr(optuna.samplers, SAMPLERS[sampler])
    params = {name: p for name, p in inspect.signature(cls.__init__).parameters.items()
              if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    settable = {name: tp for name, p in params.items() if name != "seed" and (tp := _annotation(p)) is not None}
    for key, value in given.items():
        if key == "seed":
            raise OptionError("optuna: sampler_opts: the sampler's seed comes from the run's --seed")
        if key not in params:
            close = difflib.get_close_matches(key, list(settable), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise OptionError(f"optuna: sampler_opts: {cls.__name__} has no option {safe_json.shown(key)}{hint}; "
                              f"its options: {', '.join(sorted(settable)) or 'none'}")
        if key not in settable:
            raise OptionError(f"optuna: sampler_opts: {cls.__name__}'s option {key} takes a Python object "
                              f"({params[key].annotation}), which JSON cannot give")
        if not _fits(value, settable[key]):
            raise OptionError(f"optuna: sampler_opts: {cls.__name__}'s option {key} takes "
                              f"{_describe(settable[key])}, got {safe_json.shown(value)}")
    return given


def make_sampler(sampler: str, opts: dict[str, Any], seed: int) -> Any:
    """The seeded Optuna sampler; a value the constructor refuses is an :class:`OptionError`."""
    cls = getattr(optuna.samplers, SAMPLERS[sampler])
    try:
        with _quiet():
            return cls(**{**DEFAULTS.get(sampler, {}), **opts, "seed": seed})
    except (TypeError, ValueError) as exc:
        message = " ".join(str(exc).split())
        raise OptionError(f"optuna: sampler_opts {json.dumps(opts)} refused by {cls.__name__}: {message}") from None


@dataclass(frozen=True)
class OptunaOptions:
    sampler: Literal["tpe", "cmaes", "gp", "nsgaii", "qmc", "random"] = option(
        "tpe", "Optuna sampler: tpe (TPESampler), cmaes, gp, nsgaii, qmc (scrambled Sobol) or random")
    against: str = option("none", "none: optimise the objective alone; else multi-objective (not cmaes), the "
                                  "objective against cost metrics, comma-separated, or auto (as nsga2's: macs if "
                                  "reported, else params, else the benchmark's first other metric)")
    sampler_opts: str = option("{}", "the sampler's own constructor options as a JSON object, e.g. "
                                     "{\"n_startup_trials\": 5} (not seed: that is the run's)")

    def __post_init__(self) -> None:
        # normal form, so that the same options always make the same cell
        opts = parse_sampler_opts(self.sampler, self.sampler_opts)
        object.__setattr__(self, "sampler_opts", json.dumps(opts, sort_keys=True, separators=(",", ":")))
        if self.against.strip().lower() != "none" and self.sampler not in MULTI_OBJECTIVE:
            raise ValueError(f"sampler {self.sampler} optimises one objective: drop against={self.against!r}, "
                             f"or choose one of {', '.join(sorted(MULTI_OBJECTIVE))}")
        make_sampler(self.sampler, opts, 0)  # values the constructor refuses, now rather than after loading


class OptunaSampler(Strategy):
    """An Optuna sampler (tpe, cmaes, gp, nsgaii, qmc, random) over the decision vector."""

    name = "optuna"
    Options = OptunaOptions

    @classmethod
    def several_objectives(cls, options: OptunaOptions) -> bool:
        return options.against.strip().lower() != "none"

    def setup(self) -> None:
        self.objectives = (self.objective, *self._against())
        opts = json.loads(self.options.sampler_opts)
        sampler = make_sampler(self.options.sampler, opts, int(self.rng.integers(2**31)))
        decisions = self.space.decisions()
        names = [d.name for d in decisions]
        if len(set(names)) < len(names):
            names = [f"{i}_{name}" for i, name in enumerate(names)]
        self.names = names
        if self.options.sampler in INTEGER:
            self.distributions = {n: optuna.distributions.IntDistribution(0, len(d.choices) - 1)
                                  for n, d in zip(names, decisions, strict=True)}
        else:
            self.distributions = {n: optuna.distributions.CategoricalDistribution(list(range(len(d.choices))))
                                  for n, d in zip(names, decisions, strict=True)}
        directions = ["maximize" if m.maximize else "minimize" for m in self.objectives]
        with _quiet():
            self.study = optuna.create_study(storage=None, sampler=sampler, directions=directions)
        self.proposals: Proposals[Any] = Proposals(self.space, self.rng)

    def _against(self) -> tuple[Metric, ...]:
        against = self.options.against.strip()
        if against.lower() == "none":
            return ()
        return against_metrics("optuna", against, self.objective, self.metrics, accepted="none, auto or ")

    # -- ask/tell ----------------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Arch]:
        with _quiet():
            return [self._ask_one() for _ in range(n)]

    def tell(self, arch: Arch, result: Result) -> None:
        with _quiet():
            trials = self.proposals.record(arch, result)
            if trials is None:  # not asked through a trial of this study: add it as a finished one
                self.study.add_trial(self._finished_trial(arch, result))
                return
            for trial in trials:
                self._tell(trial, result)

    def _ask_one(self) -> Arch:
        arch, trial = self.proposals.ask(self._propose, self._tell)
        if trial is None:  # a random unseen arch: enqueued as a fixed trial, so the sampler learns from it
            self.study.enqueue_trial(self._params(arch))
            self.proposals.wait(arch, self._trial())
        return arch

    def _propose(self) -> tuple[tuple[int, ...], Any]:
        trial = self._trial()
        return tuple(int(trial.params[n]) for n in self.names), trial

    def _trial(self) -> Any:
        """The sampler's next trial; a sampler option that fails only when sampling is an OptionError."""
        try:
            return self.study.ask(self.distributions)
        except (ValueError, TypeError, AssertionError, ArithmeticError, LookupError) as exc:
            if self.options.sampler_opts == "{}":
                raise  # with Optuna's defaults, a bug
            # a value the constructor accepted but sampling cannot use (n_ei_candidates=0, popsize=1, …)
            message = " ".join(str(exc).split()) or type(exc).__name__
            raise OptionError(f"optuna: {type(self.study.sampler).__name__} failed after "
                              f"{len(self.proposals.seen)} archs with sampler_opts {self.options.sampler_opts}: "
                              f"{message}") from None

    def _params(self, arch: Arch) -> dict[str, int]:
        return {n: int(i) for n, i in zip(self.names, self.space.to_decisions(arch), strict=True)}

    def _values(self, result: Result) -> list[float] | None:
        """The result's objectives, ``None`` for a failure (or a metric missing or not finite)."""
        values = [result.value(m.name) for m in self.objectives]
        if any(v is None or not math.isfinite(v) for v in values):
            return None
        return [float(v) for v in values]  # type: ignore[arg-type]

    def _tell(self, trial: Any, result: Result) -> None:
        values = self._values(result)
        if values is None:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, values)

    def _finished_trial(self, arch: Arch, result: Result) -> Any:
        values = self._values(result)
        state = optuna.trial.TrialState
        return optuna.trial.create_trial(
            state=state.FAIL if values is None else state.COMPLETE, values=values,
            params=self._params(arch), distributions=self.distributions)
