"""NNI's hyper-parameter tuners [NNI21] over a space's decision vector, in this process.

NNI (Microsoft's Neural Network Intelligence) ships a family of tuners that many NAS and HPO
papers use as baselines; running them as strategies puts them on the same footing as the
suite's own (same budget, clock, store and leaderboard). NNI 3.0 is its last release (the
repository is archived), so the adapters pin it and use its tuners' own ask/tell interface —
``generate_multiple_parameters`` to ask, ``receive_trial_result`` and ``trial_end`` to tell, as
NNI's dispatcher calls them — without an experiment: no ``nnictl``, no node.js manager, no web
UI, no network, and no file written (see :mod:`nni_common`).

The search space is one ``choice`` of the indices 0…k−1 per decision of ``space.decisions()``;
the arch asked is ``space.from_decisions`` of the tuner's vector. No arch is asked twice
(:class:`~nasbench_txf.strategies.proposals.Proposals`): a parameter set
that proposes a known arch is told its stored result; when the tuner is stuck or has no
parameters to give (NNI's ``NoMoreTrialError``: grid search done, or every trial of an
evolution's population running), the ask is a random unseen arch, and its result is given to
the tuner through ``import_data`` (the tuners that take imported data use it; the others
ignore it). A failed evaluation ends its trial as failed (``trial_end(id, False)``)
with no result, as NNI does with a failed trial.

Each tuner is seeded from the strategy's generator: TPE and random search take a seed; NNI seeds
evolution's, GP's and anneal's ``RandomState`` from the operating system, so the adapter reseeds
them after ``update_search_space``; the tuners' draws from Python's and NumPy's global
generators use the strategy's own global states (:class:`~nni_common.GlobalRandom`). The same
seed gives the same trials; grid search has no randomness and gives the same trials for every
seed. NNI's GP tuner passes a two-dimensional ``x0`` to ``scipy.optimize.minimize``, which
current SciPy refuses (``'x0' must only have one dimension``); the adapter gives it a wrapper
that flattens ``x0`` (the only change to NNI's behaviour).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import option
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import Strategy
from nasbench_txf.strategies.nni_common import (
    GlobalRandom,
    calling,
    finite_score,
    import_nni,
    labels,
    positive,
    search_space,
)
from nasbench_txf.strategies.proposals import Proposals

tpe_tuner = import_nni("nni.algorithms.hpo.tpe_tuner")
evolution_tuner = import_nni("nni.algorithms.hpo.evolution_tuner")
random_tuner = import_nni("nni.algorithms.hpo.random_tuner")
gridsearch_tuner = import_nni("nni.algorithms.hpo.gridsearch_tuner")
gp_tuner = import_nni("nni.algorithms.hpo.gp_tuner")


class NNITuner(Strategy):
    """Base of the NNI tuner adapters: :meth:`make_tuner` builds the seeded tuner."""

    def make_tuner(self, seed: int) -> Any:
        """The NNI tuner, maximising, seeded with ``seed`` where its constructor takes a seed."""
        raise NotImplementedError

    def seed_tuner(self, tuner: Any, seed: int) -> None:
        """Seed what NNI seeds from the operating system (called after ``update_search_space``)."""

    def setup(self) -> None:
        seed = int(self.rng.integers(2**31 - 1))
        self.global_random = GlobalRandom(int(self.rng.integers(2**31 - 1)))
        self.labels = labels(self.space)
        with calling(self.global_random):
            self.tuner = self.make_tuner(seed)
            self.tuner.update_search_space(search_space(self.space))
            self.seed_tuner(self.tuner, seed)
        self.proposals: Proposals[int] = Proposals(self.space, self.rng)
        #: parameters of each id; ids the tuner pushed on its own (evolution, after a trial ends)
        self.parameters: dict[int, dict[str, Any]] = {}
        self.pushed: deque[int] = deque()
        self.next_id = 0

    # -- ask/tell ----------------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Arch]:
        with calling(self.global_random):
            return [self._ask_one() for _ in range(n)]

    def tell(self, arch: Arch, result: Result) -> None:
        with calling(self.global_random):
            ids = self.proposals.record(arch, result)
            if ids is None:  # not proposed by the tuner (a random unseen arch): imported
                score = finite_score(self, result)
                if score is not None:
                    self.tuner.import_data([{"parameter": self._parameters_of(arch), "value": score}])
                return
            for parameter_id in ids:
                self._report(parameter_id, result)

    def _ask_one(self) -> Arch:
        return self.proposals.ask(self._proposal, self._report)[0]

    def _proposal(self) -> tuple[tuple[int, ...], int] | None:
        parameter_id = self._propose()
        if parameter_id is None:  # the tuner has nothing to give now
            return None
        return tuple(int(self.parameters[parameter_id][label]) for label in self.labels), parameter_id

    def _propose(self) -> int | None:
        """The id of the tuner's next parameter set, ``None`` when it raises ``NoMoreTrialError``."""
        if self.pushed:
            return self.pushed.popleft()
        parameter_id = self.next_id
        self.next_id += 1
        given = self.tuner.generate_multiple_parameters([parameter_id], st_callback=self._push)
        if not given:
            return None
        self.parameters[parameter_id] = dict(given[0])
        return parameter_id

    def _push(self, parameter_id: int, parameters: dict[str, Any]) -> None:
        """NNI's ``send_trial_callback``: parameters a tuner sends on its own, for an id it once had
        none for; the next ask takes them."""
        self.parameters[parameter_id] = dict(parameters)
        self.pushed.append(parameter_id)

    def _report(self, parameter_id: int, result: Result) -> None:
        """The trial's end as NNI's dispatcher reports it: its final result, then its end."""
        score = finite_score(self, result)
        if score is not None:
            self.tuner.receive_trial_result(parameter_id, self.parameters[parameter_id], score,
                                            customized=False, trial_job_id=str(parameter_id))
        self.tuner.trial_end(parameter_id, score is not None)

    def _parameters_of(self, arch: Arch) -> dict[str, int]:
        return {label: int(i) for label, i in zip(self.labels, self.space.to_decisions(arch), strict=True)}


# -- TPE ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TPEOptions:
    n_startup_jobs: int = option(20, "random parameter sets before TPE starts modelling (NNI's default)")
    n_ei_candidates: int = option(24, "candidates drawn from the good-trial density per decision")
    linear_forgetting: int = option(25, "trials after which older ones weigh less")
    prior_weight: float = option(1.0, "weight of the uniform prior among the trials")
    gamma: float = option(0.25, "the good trials are the best ceil(gamma·sqrt(n)) (at most linear_forgetting)")
    constant_liar: Literal["best", "worst", "mean", "none"] = option(
        "best", "what TPE assumes of trials still running when asked again (parallel asks); none: nothing")

    def __post_init__(self) -> None:
        if self.n_startup_jobs < 0:
            raise ValueError(f"n_startup_jobs must be 0 or more, got {self.n_startup_jobs}")
        positive(n_ei_candidates=self.n_ei_candidates, linear_forgetting=self.linear_forgetting,
                 gamma=self.gamma)
        if self.prior_weight < 0:
            raise ValueError(f"prior_weight must be 0 or more, got {self.prior_weight}")


class NNITPE(NNITuner):
    """NNI's TPE tuner [NNI21] over the decision vector (also what NNI's NAS strategy TPE runs)."""

    name = "nni-tpe"
    Options = TPEOptions

    def make_tuner(self, seed: int) -> Any:
        o = self.options
        args = {"n_startup_jobs": o.n_startup_jobs, "n_ei_candidates": o.n_ei_candidates,
                "linear_forgetting": o.linear_forgetting, "prior_weight": o.prior_weight, "gamma": o.gamma,
                "constant_liar_type": None if o.constant_liar == "none" else o.constant_liar}
        return tpe_tuner.TpeTuner(optimize_mode="maximize", seed=seed, tpe_args=args)


# -- naive evolution ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvolutionOptions:
    population_size: int = option(32, "random individuals first; then each ask mutates one decision of the "
                                      "better of two random members (NNI's default 32)")

    def __post_init__(self) -> None:
        if self.population_size < 2:
            raise ValueError(f"population_size must be 2 or more, got {self.population_size}")


class NNIEvolution(NNITuner):
    """NNI's Evolution tuner (naive evolution) [NNI21] over the decision vector."""

    name = "nni-evolution"
    Options = EvolutionOptions

    def make_tuner(self, seed: int) -> Any:
        return evolution_tuner.EvolutionTuner(optimize_mode="maximize", population_size=self.options.population_size)

    def seed_tuner(self, tuner: Any, seed: int) -> None:
        # update_search_space drew the first population from an OS-seeded RandomState: draw it again
        tuner.random_state = np.random.RandomState(seed)
        tuner.population = []
        for _ in range(tuner.population_size):
            tuner._random_generate_individual()


# -- random search and grid search -------------------------------------------------------------------
class NNIRandom(NNITuner):
    """NNI's Random tuner [NNI21]: uniform over the decision vector."""

    name = "nni-random"

    def make_tuner(self, seed: int) -> Any:
        return random_tuner.RandomTuner(seed=seed)


class NNIGridSearch(NNITuner):
    """NNI's GridSearch tuner [NNI21]: every decision vector in order; the same trials for every seed."""

    name = "nni-gridsearch"

    def make_tuner(self, seed: int) -> Any:
        return gridsearch_tuner.GridSearchTuner()


# -- GP ----------------------------------------------------------------------------------------------
def _flat_minimize(minimize: Callable[..., Any]) -> Callable[..., Any]:
    """``scipy.optimize.minimize`` as NNI 3.0's GP tuner expects it from older SciPy: ``x0`` may be a
    1×d row, and ``res.fun`` is then an array of one value."""

    def flat(fun: Callable[..., Any], x0: Any, *args: Any, **kwargs: Any) -> Any:
        row = np.ndim(x0) == 2
        res = minimize(lambda x, *a: float(np.squeeze(fun(x, *a))), np.ravel(x0), *args, **kwargs)
        if row:
            res.fun = np.atleast_1d(res.fun)
        return res

    flat.__wrapped__ = minimize  # type: ignore[attr-defined]
    return flat


_gp_util = import_nni("nni.algorithms.hpo.gp_tuner.util")
if not hasattr(_gp_util.minimize, "__wrapped__"):
    _gp_util.minimize = _flat_minimize(_gp_util.minimize)


@dataclass(frozen=True)
class GPOptions:
    utility: Literal["ei", "ucb", "poi"] = option("ei", "acquisition: expected improvement, upper confidence "
                                                        "bound or probability of improvement")
    kappa: float = option(5.0, "ucb's exploration weight")
    xi: float = option(0.0, "ei's and poi's improvement margin")
    nu: float = option(2.5, "smoothness of the Matérn kernel (0.5, 1.5, 2.5, …)")
    alpha: float = option(1e-6, "noise added to the kernel's diagonal")
    cold_start_num: int = option(10, "random parameter sets before the GP")
    warm_up: int = option(1000, "random points scored by the acquisition per ask (NNI's default: 100000)")
    starting_points: int = option(5, "L-BFGS-B runs per ask from random points (NNI's default: 250, about 25 s "
                                     "per ask on a 5-decision space)")

    def __post_init__(self) -> None:
        positive(nu=self.nu, alpha=self.alpha, warm_up=self.warm_up)
        if self.kappa < 0 or self.xi < 0 or self.cold_start_num < 1 or self.starting_points < 0:
            raise ValueError("kappa and xi must be 0 or more, cold_start_num 1 or more, starting_points 0 or "
                             f"more; got kappa={self.kappa}, xi={self.xi}, cold_start_num={self.cold_start_num}, "
                             f"starting_points={self.starting_points}")


class NNIGP(NNITuner):
    """NNI's GP tuner [NNI21] (scikit-learn GP, Matérn kernel) over the decision indices as numbers."""

    name = "nni-gp"
    Options = GPOptions

    def make_tuner(self, seed: int) -> Any:
        o = self.options
        return gp_tuner.GPTuner(optimize_mode="maximize", utility=o.utility, kappa=o.kappa, xi=o.xi, nu=o.nu,
                                alpha=o.alpha, cold_start_num=o.cold_start_num, selection_num_warm_up=o.warm_up,
                                selection_num_starting_points=o.starting_points)

    def seed_tuner(self, tuner: Any, seed: int) -> None:
        # one RandomState, made unseeded in __init__, is shared by the GP and its target space
        tuner._random_state.seed(seed)

