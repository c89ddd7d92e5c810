"""The predictors a study compares: every installed strategy that predicts scores from an
encoding (:class:`~nasbench_txf.core.strategy.PredictsScores`: GP-BO's GP, the BANANAS
ensemble, the BOSHNAS networks, a plugin's own), reached through the registry and fitted
exactly as its asks fit it, and two plain regressors as baselines.

The baselines say how much of a predictor's ranking any regressor on the same features would
give: ``ridge`` (scikit-learn's ``RidgeCV`` on standardised features, the penalty chosen by
leave-one-out), ``lightgbm`` (gradient-boosted trees, leaves allowed down to two archs so
that small training sets still split) and ``knn`` (the mean score of the 5 training archs
nearest in the encoding's own Euclidean distance, weighted by inverse distance: what an
encoding built to embed a distance, such as t2v, should be best at).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from nasbench_txf.core.encoding import Encoding
from nasbench_txf.core.errors import IncompatibleError
from nasbench_txf.core.registry import get_strategy, registry
from nasbench_txf.core.result import Metric
from nasbench_txf.core.space import Space
from nasbench_txf.core.strategy import PredictsScores
from nasbench_txf.core.threads import one_thread

#: fit on (train_x, train_y), predict test_x: scores to maximise
Predict = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def ridge(seed: int) -> Predict:
    def predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        return model.fit(train_x, train_y).predict(test_x)

    return predict


def lightgbm(seed: int) -> Predict:
    def predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
        import lightgbm as lgb

        model = lgb.LGBMRegressor(n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=2,
                                  subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=seed,
                                  n_jobs=1, verbose=-1)
        with one_thread():
            return model.fit(train_x, train_y).predict(test_x)

    return predict


def knn(seed: int) -> Predict:
    def predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
        from sklearn.neighbors import KNeighborsRegressor

        model = KNeighborsRegressor(n_neighbors=min(5, len(train_x)), weights="distance")
        return model.fit(train_x, train_y).predict(test_x)

    return predict


BASELINES: Mapping[str, Callable[[int], Predict]] = {"ridge": ridge, "lightgbm": lightgbm, "knn": knn}


def predictor_names() -> list[str]:
    """The strategies installed here that predict scores, then the baselines."""
    strategies = registry("strategies")
    return [info.name for info in strategies.infos() if isinstance(info.cls, PredictsScores)] + list(BASELINES)


def check_predictor(name: str, options: Mapping[str, str]) -> None:
    """Refuse a model that is neither a baseline nor a strategy that predicts scores, and
    options the model does not take."""
    if name in BASELINES:
        if options:
            raise IncompatibleError(f"model {name} takes no options")
        return
    cls = get_strategy(name)  # an unknown name: the registry's message, with the names it knows
    if not isinstance(cls, PredictsScores):
        raise IncompatibleError(f"strategy {name} has no score predictor to study; models: "
                                f"{', '.join(predictor_names())}")
    cls.make_options(dict(options))


def make_predictor(name: str, options: Mapping[str, str], space: Space, encoding: Encoding, seed: int) -> Predict:
    """Model ``name`` with ``options`` (a strategy's options), seeded with ``seed``."""
    check_predictor(name, options)
    if name in BASELINES:
        return BASELINES[name](seed)
    cls = get_strategy(name)
    strategy = cls(space, objective=Metric("score", maximize=True), seed=seed, encoding=encoding,
                   options=cls.make_options(dict(options)))
    assert isinstance(strategy, PredictsScores)
    return strategy.predict
