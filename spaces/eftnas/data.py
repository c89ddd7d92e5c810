"""The task's tokenized rows as the batches the EFTNAS stages train on.

The stages (:func:`~.importance.fine_tune_and_score`, :class:`~.train.SandwichTrainer`) train step
``t`` on ``batches[t % len(batches)]``. :class:`TrainBatches` makes batch ``t`` when it is asked
for, from the training split of a :class:`~nasbench_txf.training.context.TrainingContext`: a
whole task (SST-2 has 67,349 rows) is never padded into memory at once, and the batches of
epoch ``e`` are a shuffle fixed by ``(seed, e)``, so a training resumed at step ``t`` sees the
very batches it would have seen without the interruption.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import overload

import numpy as np
import torch

from nasbench_txf.core.errors import UserError
from nasbench_txf.spaces.eftnas.base import Batch
from nasbench_txf.training.loop import Encoded, batches

CPU = torch.device("cpu")


class TrainBatches(Sequence[Batch]):
    """``epochs`` shuffled passes over ``data`` in batches of ``batch_size`` rows (the last batch
    of a pass may be smaller), padded to their longest row with ``pad``. ``on_step`` is called
    with each index asked for (a progress bar)."""

    def __init__(self, data: Encoded, batch_size: int, pad: int, seed: int, epochs: int = 1,
                 on_step: Callable[[int], None] | None = None) -> None:
        if not len(data):
            raise UserError("the task's training split has no rows to train on")
        if batch_size < 1 or epochs < 1:
            raise UserError(f"batch_size and epochs must be at least 1, got {batch_size} and {epochs}")
        self.data, self.batch_size, self.pad, self.seed, self.epochs = data, batch_size, pad, seed, epochs
        self.per_epoch = math.ceil(len(data) / batch_size)
        self.on_step = on_step
        self._order = lru_cache(maxsize=2)(self._shuffle)

    def _shuffle(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.data))

    def __len__(self) -> int:
        return self.epochs * self.per_epoch

    @overload
    def __getitem__(self, index: int) -> Batch: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Batch]: ...

    def __getitem__(self, index: int | slice) -> Batch | Sequence[Batch]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        if self.on_step is not None:
            self.on_step(index)
        epoch, position = divmod(index, self.per_epoch)
        rows = self._order(epoch)[position * self.batch_size:(position + 1) * self.batch_size]
        ids, mask, types, labels = next(batches(self.data, [rows], self.pad, CPU))
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels}
