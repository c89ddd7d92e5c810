"""NNI's NAS strategy PolicyBasedRL [NNI21] over a space's decision vector, through ask/tell.

A policy network chooses the decisions one after another (an episode per arch) and is trained
with tianshou's PPO on the archs' scores, ``samples_per_update`` trajectories at a time. The
adaptation (a thread-driven NNI strategy loop behind ask/tell) is :mod:`nni_nas`'s. It is a module
of its own because NNI 3.0's RL needs tianshou and gym, which NNI imports without declaring them:
tianshou before 1.0 (1.0 changed the policy classes NNI builds; ``nasbench-txf[nni]`` installs
0.5.1) and the old ``gym`` package, 0.26 (the last, with the five-value ``step`` NNI uses); so that
without them only ``nni-nas-rl`` is listed as not installed.

The policy's initial weights, its sampling (torch) and PPO's minibatches (NumPy) draw from the
global generators, which the adapter gives the strategy its own of, seeded from the run's seed
(:class:`~nni_common.GlobalRandom`): the same seed gives the same trials on one machine (torch on
the CPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nasbench_txf.core.options import option
from nasbench_txf.strategies.nni_common import import_nni, positive
from nasbench_txf.strategies.nni_nas import NNINASStrategy, strategy_module

import_nni("nni.nas.strategy._rl_impl", needed_by="strategy nni-nas-rl")


@dataclass(frozen=True)
class PolicyBasedRLOptions:
    samples_per_update: int = option(20, "trajectories (archs with a result) per PPO update of the policy")
    batch_size: int = option(32, "PPO minibatch size, in steps (one step per decision)")
    repeat: int = option(5, "PPO passes over the replay buffer per update")
    update_times: int = option(5, "PPO updates per update of the policy")

    def __post_init__(self) -> None:
        positive(samples_per_update=self.samples_per_update, batch_size=self.batch_size, repeat=self.repeat,
                 update_times=self.update_times)


class NNIPolicyBasedRL(NNINASStrategy):
    """NNI's NAS strategy PolicyBasedRL (PPO, tianshou) [NNI21]; per seed the same trials on one machine."""

    name = "nni-nas-rl"
    Options = PolicyBasedRLOptions

    def make_strategy(self, seed: int) -> Any:
        o = self.options
        kwargs = {"batch_size": o.batch_size, "repeat": o.repeat, "update_times": o.update_times}
        return strategy_module.PolicyBasedRL(samples_per_update=o.samples_per_update, update_kwargs=kwargs)
