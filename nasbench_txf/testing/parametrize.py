"""Which checks apply to a plugin, and a pytest decorator that runs each as its own test."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from nasbench_txf.core.plugin import Plugin
from nasbench_txf.testing import benchmark_checks, encoding_checks, plugin_checks, space_checks, strategy_checks
from nasbench_txf.testing.subject import Kind, Subject, as_subject

if TYPE_CHECKING:
    import pytest

#: a check: called with a plugin class or a Subject, raises AssertionError saying what is wrong
Check = Callable[..., None]

#: the checks of each kind of plugin, after the ones every plugin gets
CHECKS: dict[Kind, tuple[Check, ...]] = {
    "spaces": space_checks.CHECKS,
    "encodings": encoding_checks.CHECKS,
    "strategies": strategy_checks.CHECKS,
    "benchmarks": benchmark_checks.CHECKS,
}


def checks_for(plugin: type[Plugin] | Subject) -> list[Check]:
    """Every check that applies to ``plugin``: the common ones, then those of its kind."""
    return [*plugin_checks.CHECKS, *CHECKS[as_subject(plugin).kind]]


def checks_with_ids(plugins: Iterable[type[Plugin] | Subject]) -> list[tuple[Subject, Check, str]]:
    """``(subject, check, id)`` for every check of every plugin; ids as ``rs-check_never_asks_twice``."""
    out = []
    for plugin in plugins:
        subject = as_subject(plugin)
        out += [(subject, check, f"{subject.test_id}-{check.__name__}") for check in checks_for(subject)]
    return out


def parametrize_with_checks(plugins: Iterable[type[Plugin] | Subject]) -> pytest.MarkDecorator:
    """A ``pytest.mark.parametrize`` over every ``(plugin, check)`` pair of ``plugins``.

    Decorate a test that takes ``plugin`` and ``check`` and calls ``check(plugin)``; each
    pair is a test of its own, with an id such as ``rs-check_never_asks_twice``. ``plugins``
    are plugin classes, or :class:`~nasbench_txf.testing.subject.Subject`\\ s where a plugin
    needs options, a space or a benchmark of its own. (pytest is imported here only: the
    package does not depend on it.)
    """
    import pytest

    triples = checks_with_ids(plugins)
    values: list[Any] = [(subject, check) for subject, check, _ in triples]
    return pytest.mark.parametrize(("plugin", "check"), values, ids=[i for _, _, i in triples])
