"""The test kit for plugin authors: the contract checks every plugin must pass.

nasbench-txf's own tests run these same checks on every registered space, encoding,
strategy and benchmark (``tests/contract/``); a plugin's repository runs them on its own
plugins with pytest (installed separately: the package does not depend on it).

Running the checks on your plugin
---------------------------------
A test file in your plugin's repository, say ``tests/test_contract.py``::

    from nasbench_txf.testing import parametrize_with_checks
    from my_package import MyStrategy

    @parametrize_with_checks([MyStrategy])
    def test_contract(plugin, check):
        check(plugin)

``pytest`` then runs each check as a test of its own (``local-search-check_never_asks_twice``,
…); a failure says what went wrong and what to change. Each check is also a plain function
(``check_never_asks_twice(MyStrategy)``) that raises :class:`AssertionError`.

The checks run a plugin on small defaults: spaces with their default options; encodings and
benchmarks on the toy space :class:`~nasbench_txf.testing.toy.ToyGrid` (336 cards);
strategies on ToyGrid with the toy benchmark :class:`~nasbench_txf.testing.toy.ToyQuadratic`
(known optimum, a little noise) and, when they model performance, the built-in ``onehot``
encoding. Where that does not fit (options a plugin needs, a benchmark that evaluates only
your space, an encoding to try), pass a :class:`Subject` instead of the class::

    @parametrize_with_checks([
        Subject(MyBenchmark, options={"data_dir": "tests/data"}, space=MySpace),
        Subject(MyEncoding, options={"dims": "16"}, space=MySpace),
        MySpace,
    ])

What the checks verify
----------------------
Every plugin (:func:`check_declares_name_description_and_options`): the class sets its own
``name``, equal to its entry-point name; its docstring's first line describes it; it
implements every abstract method; ``Options`` is a frozen dataclass whose every field has a
help text and an ``int``, ``float``, ``bool``, ``str`` or ``Literal`` type, and the options
parse back from the dict a run store records.

Spaces:

- :func:`check_samples_are_valid_and_round_trip_through_json`: samples are members of the
  space, in normal form, and their cards survive JSON (same arch, id and hash).
- :func:`check_decision_vector_round_trips`: ``from_decisions(to_decisions(arch)) == arch``,
  with one in-range index per decision.
- :func:`check_moves_stay_in_the_space`: ``neighbours``, ``mutate`` and ``crossover`` give
  members; neighbours are distinct and exclude the arch; a mutation changes it.
- :func:`check_same_seed_same_samples`: ``sample(rng)`` draws from ``rng`` only.
- :func:`check_graph_has_labelled_blocks_one_input_one_output`: ``graph(arch)`` is a DAG of
  labelled blocks with one input and one output.
- :func:`check_cardinality_and_enumeration_agree`: ``cardinality()`` is exact (counted by
  ``enumerate()`` up to 20,000 cards).
- :func:`check_invalid_cards_are_refused_with_a_message`: bad cards and archs of another
  space raise :class:`~nasbench_txf.core.errors.InvalidCardError` with a message.
- :func:`check_a_hierarchical_space_spans_child_spaces`: a hierarchical space's child options
  open a space of the same plugin; ``closest`` ranks every candidate but the query.

Encodings: :func:`check_fixed_length_finite_vectors`: after ``fit()``, ``encode`` gives
finite ``float64`` vectors of length ``dim``, the same each time and for each arch alone,
not all alike; and the encoding accepts the space (every encoding works on every space).

Strategies (run by the runner's own loop, :func:`~nasbench_txf.run.trials.cell_trials`):

- :func:`check_never_asks_twice`: 20 trials, 20 distinct archs.
- :func:`check_same_seed_same_trials`: two runs with one seed ask the same archs (a killed run
  resumes by replaying its results through a fresh strategy).
- :func:`check_batch_ask_gives_distinct_valid_archs`: ``ask(4)`` gives 4 distinct members of
  the space; ``ask(2)`` after their results none of them.
- :func:`check_failed_evaluations_are_told_and_the_search_goes_on`: with about half of the
  evaluations failing, the strategy goes on for 20 distinct trials.
- :func:`check_a_score_predictor_ranks_unseen_archs`: a strategy that predicts scores
  (:class:`~nasbench_txf.core.strategy.PredictsScores`, which ``nasbench-txf study encodings``
  studies) gives one finite prediction per test row, the same for the same seed, and ranks
  held-out archs of a linear score of their encodings (Kendall τ above 0.3).

Benchmarks:

- :func:`check_metrics_are_declared`: metrics named once; ``card_metrics`` and
  ``timed_metrics`` give declared metrics (steady and ``timed`` respectively), finite values.
- :func:`check_evaluates_deterministically_per_seed`: sampled archs evaluate with a finite
  objective and every metric; the same seed gives the same metrics (all but timed ones).

Writing a plugin: what the checks expect
----------------------------------------
- **Registration.** One entry point in your ``pyproject.toml``, in the group of its kind
  (``nasbench_txf.spaces``, ``.encodings``, ``.strategies``, ``.benchmarks``)::

      [project.entry-points."nasbench_txf.strategies"]
      local-search = "my_package:LocalSearch"

  The class's ``name`` attribute must be that entry-point name (``name = "local-search"``):
  it is what users type, and the registry refuses a plugin whose name differs.
- **Options.** A frozen dataclass assigned to ``Options``; each field's help is in
  ``field(default=..., metadata={"help": "..."})`` (or
  :func:`nasbench_txf.core.options.option` ``(default, "help")``), shown by ``nasbench-txf
  list``; check ranges in ``__post_init__`` and raise ``ValueError``. Users give options as
  ``--strategy-opt KEY=VALUE``; the plugin reads the parsed values from ``self.options``.
- **setup(), not __init__.** Strategies and encodings build their state in ``setup()``,
  which the base class calls at the end of ``__init__``, once ``self.space``,
  ``self.options`` and (strategies) ``self.objective``, ``self.metrics``, ``self.encoding``,
  ``self.seed`` and ``self.rng`` are set. Spaces and benchmarks have ``self.options`` (and a
  benchmark ``self.space`` and ``self.task``) and rarely need more.
- **A strategy** (:class:`~nasbench_txf.core.strategy.Strategy`) implements ``ask(n)``, the
  next ``n`` archs, and ``tell(arch, result)``. It never asks an arch it asked before (keep a
  set; :func:`nasbench_txf.strategies.unseen.draw_unseen` draws until an unseen one), takes
  every random draw from ``self.rng``, and reads results through ``self.score(result)``: the
  objective as a value to maximise (minimised metrics negated), ``None`` for a failed
  evaluation. It declares what it needs in ``requires``
  (:class:`~nasbench_txf.core.strategy.Requirements`: an encoding, an enumerable space, a
  super-network space, several metrics) and may stop early through ``finished``.
- **The space methods a strategy may call** (:class:`~nasbench_txf.core.space.Space`):
  ``sample(rng)``, ``mutate(arch, rng)``, ``neighbours(arch)``, ``crossover(a, b, rng)``;
  ``decisions()``, ``to_decisions(arch)``, ``from_decisions(index)`` (a fixed-length vector of
  categorical choices); ``cardinality()``, ``enumerable`` and ``enumerate()`` (declare
  ``Requirements(enumerable_space=True)`` to use it); ``arch(card)``, ``check(arch)``,
  ``presets()`` and ``graph(arch)``. With an encoding, ``self.encoding.encode(archs)`` gives
  the feature matrix.

The rest of the kit: :class:`Subject` and :func:`as_subject`; :func:`checks_for` (the checks
of one plugin); :func:`run_strategy` and :func:`strategy_cell` (a strategy run as the runner
runs it, for tests of your own); :func:`sample_archs`, :func:`toy_space`,
:func:`toy_benchmark` and the toy plugins in :mod:`nasbench_txf.testing.toy`.
"""

from __future__ import annotations

from nasbench_txf.testing.benchmark_checks import check_evaluates_deterministically_per_seed, check_metrics_are_declared
from nasbench_txf.testing.encoding_checks import check_fixed_length_finite_vectors
from nasbench_txf.testing.parametrize import CHECKS, Check, checks_for, checks_with_ids, parametrize_with_checks
from nasbench_txf.testing.plugin_checks import check_declares_name_description_and_options
from nasbench_txf.testing.space_checks import (
    check_a_hierarchical_space_spans_child_spaces,
    check_cardinality_and_enumeration_agree,
    check_decision_vector_round_trips,
    check_graph_has_labelled_blocks_one_input_one_output,
    check_invalid_cards_are_refused_with_a_message,
    check_moves_stay_in_the_space,
    check_same_seed_same_samples,
    check_samples_are_valid_and_round_trip_through_json,
)
from nasbench_txf.testing.strategy_checks import (
    check_a_score_predictor_ranks_unseen_archs,
    check_batch_ask_gives_distinct_valid_archs,
    check_failed_evaluations_are_told_and_the_search_goes_on,
    check_never_asks_twice,
    check_same_seed_same_trials,
    run_strategy,
    strategy_cell,
)
from nasbench_txf.testing.subject import Subject, as_subject, sample_archs, toy_benchmark, toy_space
from nasbench_txf.testing.toy import ToyGrid, ToyQuadratic, ToyTrainable

__all__ = [
    "CHECKS",
    "Check",
    "Subject",
    "ToyGrid",
    "ToyQuadratic",
    "ToyTrainable",
    "as_subject",
    "check_a_hierarchical_space_spans_child_spaces",
    "check_a_score_predictor_ranks_unseen_archs",
    "check_batch_ask_gives_distinct_valid_archs",
    "check_cardinality_and_enumeration_agree",
    "check_decision_vector_round_trips",
    "check_declares_name_description_and_options",
    "check_evaluates_deterministically_per_seed",
    "check_failed_evaluations_are_told_and_the_search_goes_on",
    "check_fixed_length_finite_vectors",
    "check_graph_has_labelled_blocks_one_input_one_output",
    "check_invalid_cards_are_refused_with_a_message",
    "check_metrics_are_declared",
    "check_moves_stay_in_the_space",
    "check_never_asks_twice",
    "check_same_seed_same_samples",
    "check_same_seed_same_trials",
    "check_samples_are_valid_and_round_trip_through_json",
    "checks_for",
    "checks_with_ids",
    "parametrize_with_checks",
    "run_strategy",
    "sample_archs",
    "strategy_cell",
    "toy_benchmark",
    "toy_space",
]
