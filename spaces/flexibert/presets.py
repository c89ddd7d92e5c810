"""Named FlexiBERT cards: the twelve initial models of [FLEXIBERT23 §4.2] and the models of
[FLEXIBERT23 App. B.6].

BERT-Tiny/Mini, -2/256 and -4/128 follow Turc et al. (2019); FNet variants use LT with DFT and
ConvBERT variants DSC with kernel 9 (§4.2: "p = DFT for FNets and p = 9 for ConvBERTs");
heads follow BERT (2 for hidden 128, 4 for hidden 256); feed-forward size is 4x hidden.
"""

from __future__ import annotations

from typing import Any


def homogeneous(layers: int, hidden: int, op: str, param: str | int) -> dict[str, Any]:
    heads = hidden // 64
    return {
        "l": layers, "o": [op] * layers, "h": [hidden] * layers, "n": [heads] * layers,
        "f": [[4 * hidden]] * layers, "p": [param] * layers,
    }


_SIZES = {"tiny": (2, 128), "2-256": (2, 256), "4-128": (4, 128), "mini": (4, 256)}
_FAMILIES = {"bert": ("SA", "SDP"), "fnet": ("LT", "DFT"), "convbert": ("DSC", 9)}

PRESETS: dict[str, dict[str, Any]] = {
    f"{family}-{size}": homogeneous(layers, hidden, op, param)
    for family, (op, param) in _FAMILIES.items()
    for size, (layers, hidden) in _SIZES.items()
}
#: the twelve models that start BOSHNAS on flexibert [FLEXIBERT23 §4.2]
INITIAL_MODELS = tuple(PRESETS)

PRESETS |= {
    # best model of level 1 (s=2), App. B.6
    "flexibert-s2-best": {
        "l": 4, "o": ["LT", "LT", "LT", "LT"], "h": [256, 256, 256, 256], "n": [4, 4, 2, 2],
        "f": [[1024], [1024], [512, 512, 512], [512, 512, 512]], "p": ["DCT", "DCT", "DCT", "DCT"],
    },
    # FlexiBERT-Mini: best model of levels 2 and 3 (s=1, s=1*), App. B.6
    "flexibert-mini": {
        "l": 4, "o": ["SA", "SA", "LT", "LT"], "h": [256, 256, 128, 128], "n": [2, 2, 4, 4],
        "f": [[512, 512, 512], [512, 512, 512], [1024], [1024]], "p": ["SDP", "SDP", "DCT", "DCT"],
    },
    # Table 3 ablations of FlexiBERT-Mini, App. B.6: without search (w/o S.), without
    # heterogeneity (w/o H.)
    "flexibert-mini-wo-s": {
        "l": 2, "o": ["SA", "SA"], "h": [128, 128], "n": [4, 4], "f": [[1024], [1024]], "p": ["SDP", "WMA"],
    },
    "flexibert-mini-wo-h": {
        "l": 4, "o": ["LT", "LT", "SA", "SA"], "h": [256, 256, 128, 128], "n": [4, 4, 4, 4],
        "f": [[1024, 1024, 1024], [1024, 1024, 1024], [512, 512, 512], [512, 512, 512]],
        "p": ["DCT", "DCT", "SDP", "SDP"],
    },
}
