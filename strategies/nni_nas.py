"""NNI's multi-trial NAS strategies [NNI21] over a space's decision vector, through ask/tell.

NNI 3.0's NAS strategies (``nni.nas.strategy``) are not ask/tell: each runs its own loop,
``strategy.run()``, against an execution engine — it checks ``engine.idle_worker_available()``
and ``budget_available()``, hands frozen models to ``engine.submit_models``, waits in
``engine.wait_models``, and learns from the events the engine dispatches when a model ends. The
adapter turns that loop inside out without changing it. The model space is NNI's
``RawFormatModelSpace`` over one ``nni.mutable.Categorical`` of the indices 0…k−1 per decision;
the engine, :class:`Bridge`, is the suite's: the strategy's loop runs in a thread of its own that
runs only while the suite's thread waits for it, one at a time (so the interleaving, and the run,
is the same every time). ``ask`` lets the loop run until it has submitted a model and calls
``idle_worker_available`` again, which parks it; the model's sample is the decision vector of
the arch asked. ``tell`` keeps the result until the loop next runs, when the engine dispatches
it (a final-metric event with the score, then a training-end event, as NNI's engines do; a
failed evaluation is a training end with status ``Failed`` and no metric).

No arch is asked twice (:class:`~nasbench_txf.strategies.proposals.Proposals`): a model
whose arch is known gets the stored result; when the strategy is stuck or cannot propose (it
waits in ``wait_models`` for results not yet told, as the RL strategy does at the end of an
update batch, or its loop has ended), the ask is a random unseen arch, whose result NNI's
strategy never sees (its interface has no way to import one).

NNI's ``Random``, ``GridSearch`` and ``TPE`` NAS strategies are not adapted: TPE is
``HPOTunerStrategy(TpeTuner)``, the tuner ``nni-tpe`` runs (the strategy only adds a one-second
poll per model), and random and grid search are ``nni-random`` and ``nni-gridsearch``. The
one-shot strategies (DARTS, ENAS, Proxyless, …) train a super-network through PyTorch Lightning
and need an NNI model space of modules, not a decision vector.

Importing ``nni.nas`` imports PyTorch Lightning, which NNI 3.0 needs but does not declare
(``nasbench-txf[nni]`` installs it), and Lightning imports matplotlib, whose folders are kept out
of the home directory (:func:`_matplotlib_beside_the_run`).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import option
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import Strategy
from nasbench_txf.strategies.nni_common import (
    GlobalRandom,
    calling,
    finite_score,
    fraction,
    import_nni,
    labels,
)
from nasbench_txf.strategies.proposals import Proposals

NEEDED_BY = "strategy nni-nas-evolution (and nni-nas-rl)"


@contextmanager
def _matplotlib_beside_the_run() -> Iterator[None]:
    """``nni.nas`` imports PyTorch Lightning, which imports ``matplotlib.pyplot``; matplotlib then
    makes its config folder and writes its font cache under the home directory. Where this import
    is matplotlib's first and ``MPLCONFIGDIR`` is not set, both go to a temporary folder instead,
    removed at exit (matplotlib keeps the folder it found at import for the whole process)."""
    if "matplotlib" in sys.modules or "MPLCONFIGDIR" in os.environ:
        yield
        return
    folder = tempfile.mkdtemp(prefix="nasbench-txf-matplotlib-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["MPLCONFIGDIR"] = folder
    try:
        yield
    finally:
        os.environ.pop("MPLCONFIGDIR", None)


with _matplotlib_beside_the_run():
    strategy_module = import_nni("nni.nas.strategy", needed_by=NEEDED_BY)
nas_space = import_nni("nni.nas.space", needed_by=NEEDED_BY)
nas_execution = import_nni("nni.nas.execution", needed_by=NEEDED_BY)
nas_event = import_nni("nni.nas.execution.event", needed_by=NEEDED_BY)
mutable = import_nni("nni.mutable", needed_by=NEEDED_BY)


class _Stopped(BaseException):
    """Raised in a strategy's thread when its adapter is gone, to end the loop where it waits."""


class _QuietWhenStopped(logging.Filter):
    """Drops NNI's "Strategy failed to execute" when the failure is the adapter stopping it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(threading.current_thread(), "nbt_stopping", False)


logging.getLogger("nni.nas.strategy.base").addFilter(_QuietWhenStopped())


class Bridge(nas_execution.ExecutionEngine):  # type: ignore[misc, name-defined]
    """An NNI execution engine that hands the models a strategy submits to the suite's thread.

    The strategy runs in its own thread, and only while the suite's thread waits in
    :meth:`run_strategy`; it parks (:meth:`_park`) when it asks for a free worker with a model
    already submitted, or waits for results not yet told. Results reach it only while it runs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cv = threading.Condition()
        self.turn = "suite"
        self.stopping = False
        self.done = False
        self.error: BaseException | None = None
        #: models submitted and not yet taken by an ask; results to dispatch; every model submitted
        self.submitted: deque[Any] = deque()
        self.finished: deque[tuple[Any, float | None]] = deque()
        self.history: list[Any] = []

    # -- the suite's side ----------------------------------------------------------------------------
    def run_strategy(self) -> None:
        """Let the strategy's loop run until it parks or ends."""
        with self.cv:
            if self.done:
                return
            self.turn = "strategy"
            self.cv.notify_all()
            while self.turn != "suite":
                self.cv.wait()

    def stop(self) -> None:
        """End the strategy's loop (its thread raises where it waits); called when the adapter goes."""
        with self.cv:
            self.stopping = True
            self.cv.notify_all()

    # -- the strategy's side -------------------------------------------------------------------------
    def _park(self) -> None:
        with self.cv:
            self.turn = "suite"
            self.cv.notify_all()
            while self.turn != "strategy" and not self.stopping:
                self.cv.wait()
        if self.stopping:
            threading.current_thread().nbt_stopping = True  # type: ignore[attr-defined]
            raise _Stopped

    def _dispatch(self) -> None:
        """Results told since the strategy last ran, as NNI's engines report a model's end."""
        while self.finished:
            model, score = self.finished.popleft()
            if score is not None:
                self.dispatch_model_event(nas_event.FinalMetricEvent(model, score))
            status = nas_space.ModelStatus.Trained if score is not None else nas_space.ModelStatus.Failed
            self.dispatch_model_event(nas_event.TrainingEndEvent(model, status))

    def idle_worker_available(self) -> bool:
        self._dispatch()
        while self.submitted:  # the ask has its model: wait for the next ask
            self._park()
            self._dispatch()
        return True

    def budget_available(self) -> bool:
        return not self.stopping

    def submit_models(self, *models: Any) -> None:
        for model in models:
            model.status = nas_space.ModelStatus.Training
            self.submitted.append(model)
            self.history.append(model)

    def wait_models(self, *models: Any) -> None:
        self._dispatch()
        waited = models or tuple(self.history)
        while not all(model.status.completed() for model in waited):
            self._park()
            self._dispatch()

    def list_models(self, status: Any = None) -> list[Any]:
        return [m for m in self.history if status is None or m.status == status]

    def shutdown(self) -> None:
        self.stop()

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Nothing to restore: a resumed run replays its results through a fresh strategy."""


def _thread_main(bridge: Bridge, strategy: Any, model_space: Any) -> None:
    with bridge.cv:
        while bridge.turn != "strategy" and not bridge.stopping:
            bridge.cv.wait()
    try:
        if not bridge.stopping:
            strategy(model_space, bridge)
    except _Stopped:
        pass
    except BaseException as exc:  # handed to the suite's thread, which raises it
        bridge.error = exc
    finally:
        with bridge.cv:
            bridge.done = True
            bridge.turn = "suite"
            bridge.cv.notify_all()


class NNINASStrategy(Strategy):
    """Base of the adapters of NNI's NAS strategies: :meth:`make_strategy` builds the seeded one."""

    def make_strategy(self, seed: int) -> Any:
        raise NotImplementedError

    def setup(self) -> None:
        seed = int(self.rng.integers(2**31 - 1))
        self.global_random = GlobalRandom(int(self.rng.integers(2**31 - 1)))
        self.labels = labels(self.space)
        with calling(self.global_random):
            space = mutable.MutableDict({label: mutable.Categorical(list(range(len(d.choices))), label=label)
                                         for label, d in zip(self.labels, self.space.decisions(), strict=True)})
            model_space = nas_space.RawFormatModelSpace(space, None)
            strategy = self.make_strategy(seed)
        self.bridge = Bridge()
        self.model_space = model_space
        #: NNI's loop, started at the first ask: a sweep opens every cell before it runs them
        self.thread: threading.Thread | None = None
        self.nni_strategy = strategy
        self.proposals: Proposals[Any] = Proposals(self.space, self.rng)

    def _start(self) -> None:
        self.thread = threading.Thread(target=_thread_main, args=(self.bridge, self.nni_strategy, self.model_space),
                                       name=f"nasbench-txf {self.name}", daemon=True)
        self.thread.start()
        stop = weakref.finalize(self, self.bridge.stop)
        stop.atexit = False  # a daemon thread: nothing to end at exit

    # -- ask/tell ------------------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Arch]:
        with calling(self.global_random):
            return [self._ask_one() for _ in range(n)]

    def tell(self, arch: Arch, result: Result) -> None:
        for model in self.proposals.record(arch, result) or ():  # none for an arch NNI did not propose
            self._finish(model, result)

    def _finish(self, model: Any, result: Result) -> None:
        self.bridge.finished.append((model, finite_score(self, result)))

    def _next_model(self) -> Any:
        if self.thread is None:
            self._start()
        if not self.bridge.submitted:
            self.bridge.run_strategy()
            if self.bridge.error is not None:
                error, self.bridge.error = self.bridge.error, None
                raise error
        return self.bridge.submitted.popleft() if self.bridge.submitted else None

    def _ask_one(self) -> Arch:
        return self.proposals.ask(self._proposal, self._finish)[0]

    def _proposal(self) -> tuple[tuple[int, ...], Any] | None:
        model = self._next_model()
        if model is None:  # the strategy waits for results, or its loop has ended
            return None
        return tuple(int(model.sample[label]) for label in self.labels), model


@dataclass(frozen=True)
class RegularizedEvolutionOptions:
    population_size: int = option(100, "individuals kept (the first ones random); the oldest leaves when one joins")
    sample_size: int = option(25, "tournament size: the parent is the best of this many random members")
    mutation_prob: float = option(0.05, "probability that each decision of the child is drawn anew")
    crossover: bool = option(False, "the child takes each decision from one of two tournament winners")

    def __post_init__(self) -> None:
        if not 1 <= self.sample_size <= self.population_size:
            raise ValueError(f"sample_size must be between 1 and population_size ({self.population_size}), "
                             f"got {self.sample_size}")
        fraction("mutation_prob", self.mutation_prob)


class NNIRegularizedEvolution(NNINASStrategy):
    """NNI's NAS strategy RegularizedEvolution (ageing evolution) [NNI21] over the decision vector."""

    name = "nni-nas-evolution"
    Options = RegularizedEvolutionOptions

    def make_strategy(self, seed: int) -> Any:
        o = self.options
        return strategy_module.RegularizedEvolution(population_size=o.population_size, sample_size=o.sample_size,
                                                    mutation_prob=o.mutation_prob, crossover=o.crossover,
                                                    dedup=True, seed=seed)
