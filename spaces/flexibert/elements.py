"""Design elements of FlexiBERT [FLEXIBERT23 Table 2] and one encoder layer's configuration."""

from __future__ import annotations

from dataclasses import dataclass

#: operation type → its parameter values (Table 2: SA: SDP/WMA, LT: DFT/DCT, DSC: kernel 5/9)
OPERATIONS: dict[str, tuple[str | int, ...]] = {
    "SA": ("SDP", "WMA"),
    "LT": ("DFT", "DCT"),
    "DSC": (5, 9),
}
#: (operation, parameter) pairs in a fixed order
OP_PAIRS: tuple[tuple[str, str | int], ...] = tuple((o, p) for o, ps in OPERATIONS.items() for p in ps)
LAYERS = (2, 4)
HEADS = (2, 4)
HIDDEN = (128, 256)
FF_DIMS = (512, 1024)
FF_DEPTHS = (1, 3)


@dataclass(frozen=True, order=True)
class Layer:
    """One encoder layer: operation and its parameter, heads, hidden size, feed-forward stack."""

    op: str
    param: str | int
    heads: int
    hidden: int
    ff: tuple[int, ...]

    @property
    def block_label(self) -> str:
        """Label of this layer's operation-head blocks (App. B.1: e.g. ``h-128/SA-SDP``)."""
        return f"h-{self.hidden}/{self.op}-{self.param}"


def layers_of(card: dict) -> list[Layer]:
    """The layers of a card in normal form."""
    return [
        Layer(o, p, n, h, tuple(f))
        for o, p, n, h, f in zip(card["o"], card["p"], card["n"], card["h"], card["f"], strict=True)
    ]


def card_of(layers: list[Layer]) -> dict:
    """The paper's card dictionary ``{l, o, h, n, f, p}`` for a list of layers."""
    return {
        "l": len(layers),
        "o": [x.op for x in layers],
        "h": [x.hidden for x in layers],
        "n": [x.heads for x in layers],
        "f": [list(x.ff) for x in layers],
        "p": [x.param for x in layers],
    }
