"""NNI's Anneal tuner [NNI21] over a space's decision vector: hyperopt's annealing, through NNI.

NNI's ``Anneal`` is its ``HyperoptTuner`` with hyperopt's ``anneal.suggest``: it samples from the
prior at first and then, at a rate that does not adapt, closer and closer to the best trials
seen. It is a module of its own because it needs hyperopt, which NNI's tuner imports but NNI
does not install (its optional ``anneal`` extra pins ``hyperopt==0.1.2``; hyperopt 0.2.7 imports
``pkg_resources``, which current setuptools no longer ships; 0.3.0 imports and works, and is
what ``nasbench-txf[nni]`` installs), so that without hyperopt only ``nni-anneal`` is listed as
not installed. The adaptation (asking,
telling, repeated proposals, failures) is :class:`~nni_tuners.NNITuner`'s. NNI makes the
tuner's ``RandomState`` unseeded; the adapter replaces it with one seeded from the run's seed,
so the same seed gives the same trials.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nasbench_txf.strategies.nni_common import import_nni
from nasbench_txf.strategies.nni_tuners import NNITuner

hyperopt_tuner = import_nni("nni.algorithms.hpo.hyperopt_tuner", needed_by="strategy nni-anneal")


class NNIAnneal(NNITuner):
    """NNI's Anneal tuner [NNI21] (hyperopt's annealing) over the decision vector."""

    name = "nni-anneal"

    def make_tuner(self, seed: int) -> Any:
        return hyperopt_tuner.HyperoptTuner("anneal", optimize_mode="maximize")

    def seed_tuner(self, tuner: Any, seed: int) -> None:
        # update_search_space gives hyperopt's loop an unseeded RandomState; every suggestion's
        # seed is drawn from it
        tuner.rval.rstate = np.random.RandomState(seed)
