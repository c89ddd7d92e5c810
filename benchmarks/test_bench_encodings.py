"""Speed of the encodings on the 9,312 level-1 FlexiBERT archs (``tox -e bench``).

Goals: onehot, path and wl fit and encode every level-1 arch in at most 30 s each;
t2v fits in at most 10 minutes on 2 cores, and its held-out Spearman ρ is at least 0.9.
"""

from __future__ import annotations

import pytest

from nasbench_txf.core.registry import get_encoding, get_space


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NASBENCH_TXF_CACHE", str(tmp_path))


@pytest.mark.parametrize("name", ["onehot", "path", "wl"])
def test_fit_and_encode_level_1(benchmark, name: str) -> None:  # type: ignore[no-untyped-def]
    space = get_space("flexibert")()
    archs = list(space.enumerate())
    cls = get_encoding(name)

    def run():  # type: ignore[no-untyped-def]
        encoding = cls(space, cls.make_options())
        encoding.fit()
        return encoding.encode(archs)

    assert benchmark.pedantic(run, rounds=1, iterations=1).shape[0] == 9312


def test_t2v_fit_level_1(benchmark) -> None:  # type: ignore[no-untyped-def]
    space = get_space("flexibert")()
    cls = get_encoding("t2v")

    def run():  # type: ignore[no-untyped-def]
        encoding = cls(space, cls.make_options())
        encoding.fit()
        return encoding.fit_info()

    report = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(report)
    assert report["archs"] == 9312 and report["held_out_pairs"] == 5000 and report["spearman"] >= 0.9
