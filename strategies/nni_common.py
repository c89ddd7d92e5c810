"""What the NNI adapters share: importing NNI quietly, its global random state, the decision space.

NNI [NNI21] is imported here, and only through :func:`import_nni`, so that every ``nni-*``
strategy is listed as not installed, with the reason, when NNI is missing or does not import.
The import runs with NNI's own environment variables (``NNI_PLATFORM``, ``NNI_OUTPUT_DIR``,
``SDK_PROCESS``, …) cleared, because NNI reads them once at import and, when they are set,
redirects ``sys.stdout`` into a log file or writes logs into the folders they name; NNI's
handler that prints its INFO lines to stdout is removed (``nni.silence_stdout``), so ``--json``
output stays JSON. The adapters use NNI's algorithms in this process only: no experiment, no
``nnictl``, no node.js manager, no web UI, no network, and nothing written to disk (NNI's
experiment folder, ``~/nni-experiments``, is never made; nor is its config folder).

Some of NNI's algorithms draw from Python's, NumPy's or torch's global generator, or from a
``RandomState`` they seed from the operating system. :class:`GlobalRandom` gives each strategy
its own global states, seeded from the strategy's generator and swapped in around every call
into NNI, so that the same seed gives the same trials and the rest of the process does not see
NNI's draws.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import math
import os
import random
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from nasbench_txf.core.errors import MissingDependencyError
from nasbench_txf.core.optional import require
from nasbench_txf.core.result import Result
from nasbench_txf.core.space import Space
from nasbench_txf.core.strategy import Strategy
from nasbench_txf.core.threads import one_thread

#: who needs NNI, as the missing-library message says it
NEEDED_BY = "strategy nni-tpe (and the other nni-* strategies)"
#: the environment variables NNI reads at import (its trial and dispatcher settings)
NNI_ENVIRONMENT = (
    "NNI_PLATFORM", "NNI_EXP_ID", "NNI_TRIAL_JOB_ID", "NNI_SYS_DIR", "NNI_OUTPUT_DIR",
    "NNI_TRIAL_COMMAND_CHANNEL", "NNI_TRIAL_SEQ_ID", "MULTI_PHASE", "REUSE_MODE", "SDK_PROCESS", "NNI_MODE",
    "NNI_CHECKPOINT_DIRECTORY", "NNI_LOG_DIRECTORY", "NNI_LOG_LEVEL", "NNI_INCLUDE_INTERMEDIATE_RESULTS",
    "NNI_TUNER_COMMAND_CHANNEL",
)
#: the first words of the lines of gym's notice at import
GYM_NOTICE = ("Gym has been unmaintained", "Please upgrade to Gymnasium", "Users of this version of Gym",
              "See the migration guide at https://gymnasium")
#: loggers whose INFO lines (one or more per trial) are held back during the adapters' calls
LOGGERS = ("nni", "hyperopt", "tianshou")


@contextmanager
def _without_nni_environment() -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in NNI_ENVIRONMENT if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def import_nni(module: str = "nni", *, needed_by: str = NEEDED_BY) -> ModuleType:
    """``module`` (NNI or one of its submodules) imported with NNI's environment cleared, or a
    :class:`MissingDependencyError` with the reason it does not import here: NNI missing, a
    library that NNI imports without declaring it (pytorch-lightning, tianshou, gym, hyperopt)
    missing, or one that fails at import."""
    install = "install it with pip install 'nasbench-txf[nni]'"
    stderr = io.StringIO()
    try:
        with _without_nni_environment(), warnings.catch_warnings(), contextlib.redirect_stderr(stderr):
            # NNI 3.0 warns at import, once per torch class it does not know, that the torch version
            # "might not be supported" (the strategies adapted here use none of those classes), and
            # that PyTorch Lightning must be installed where it is not (the error below says so)
            warnings.simplefilter("ignore")
            nni = require("nni", extra="nni", needed_by=needed_by)
            imported = importlib.import_module(module)
    except MissingDependencyError:
        raise
    except ImportError as exc:
        missing = (getattr(exc, "name", None) or "").partition(".")[0]
        if missing and missing != "nni":  # a library NNI imports without declaring it
            why = f"NNI's {module} needs {missing}, which is not installed"
        else:
            why = f"NNI's {module} does not import here ({type(exc).__name__}: {' '.join(str(exc).split())})"
        raise MissingDependencyError(f"{needed_by}: {why}; {install}") from None
    except Exception as exc:  # a library that breaks at import (e.g. one using a NumPy 1 name)
        why = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise MissingDependencyError(f"{needed_by}: NNI's {module} does not import here ({why}); {install}") from None
    finally:
        _pass_on(stderr.getvalue())
    nni.silence_stdout()  # NNI prints its log to stdout from import on; its warnings still reach stderr
    return imported


def _pass_on(printed: str) -> None:
    """What an import printed to stderr, less gym's notice (gym 0.26, imported by NNI's RL strategy,
    prints at import that it is unmaintained and does not support NumPy 2; the parts NNI uses,
    ``gym.Env`` and ``gym.spaces``, work with it, as the tests of ``nni-nas-rl`` show)."""
    kept = [line for line in printed.splitlines(keepends=True)
            if not any(line.startswith(head) for head in GYM_NOTICE)]
    if kept:
        sys.stderr.write("".join(kept))


nni = import_nni()


@contextmanager
def quiet() -> Iterator[None]:
    """NNI's (and hyperopt's, tianshou's) INFO lines, warnings and prints off, for this block only."""
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        # print() in NNI is debug output (the GP tuner's "Data point … is not unique"): not on stdout
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def calling(global_random: GlobalRandom) -> Iterator[None]:
    """The setting of every call into NNI: the strategy's global generators, NNI quiet, and one
    thread for torch, BLAS and OpenMP (NNI's models are tiny: on a busy machine more threads only
    wait; measured here, on two busy cores, PolicyBasedRL's five PPO updates of a 20-trajectory
    buffer took 0.4 s on one thread and 14 s on two)."""
    with global_random, quiet(), one_thread():
        yield


class GlobalRandom:
    """Python's, NumPy's and torch's global generator states of one strategy, seeded from ``seed``;
    ``with self:`` swaps them in, and the process's back at the end."""

    def __init__(self, seed: int) -> None:
        self.python = random.Random(seed).getstate()
        self.numpy = np.random.RandomState(seed).get_state()
        self.torch: Any = None
        self.seed = seed
        self._saved: list[Any] = []

    def __enter__(self) -> GlobalRandom:
        torch = sys.modules.get("torch")
        saved = (random.getstate(), np.random.get_state(), torch.get_rng_state() if torch is not None else None)
        self._saved.append(saved)
        random.setstate(self.python)
        np.random.set_state(self.numpy)
        if torch is not None:
            if self.torch is None:
                self.torch = torch.Generator().manual_seed(self.seed).get_state()
            torch.set_rng_state(self.torch)
        return self

    def __exit__(self, *exc: object) -> None:
        python, numpy, torch_state = self._saved.pop()
        self.python = random.getstate()
        self.numpy = np.random.get_state()
        random.setstate(python)
        np.random.set_state(numpy)
        torch = sys.modules.get("torch")
        if torch is not None:
            if self.torch is not None:
                self.torch = torch.get_rng_state()
            if torch_state is not None:
                torch.set_rng_state(torch_state)


def labels(space: Space) -> list[str]:
    """NNI's name for each decision of the space: ``d0``, ``d1``, … (decision names may hold
    characters NNI's labels reserve)."""
    return [f"d{i}" for i in range(len(space.decisions()))]


def search_space(space: Space) -> dict[str, dict[str, Any]]:
    """The space's decision vector as NNI's search space: one ``choice`` of 0…k−1 per decision."""
    return {label: {"_type": "choice", "_value": list(range(len(d.choices)))}
            for label, d in zip(labels(space), space.decisions(), strict=True)}


def finite_score(strategy: Strategy, result: Result) -> float | None:
    """:meth:`Strategy.score <nasbench_txf.core.strategy.Strategy.score>`, and ``None`` also for a
    value that is not finite (NNI's tuners take no NaN)."""
    score = strategy.score(result)
    return score if score is not None and math.isfinite(score) else None


def positive(**values: float) -> None:
    """A ``ValueError`` naming the first of ``values`` that is not positive."""
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value}")


def fraction(name: str, value: float, *, closed: bool = True) -> None:
    """A ``ValueError`` unless ``value`` lies in [0, 1] (``closed``) or (0, 1]."""
    if not (0 <= value <= 1 if closed else 0 < value <= 1):
        raise ValueError(f"{name} must lie in {'[0, 1]' if closed else '(0, 1]'}, got {value}")
