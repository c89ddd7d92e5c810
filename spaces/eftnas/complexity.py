"""The computational complexity of a subnetwork: multiply-accumulates or parameters.

Algorithm 1 places its configurations at target complexities [EFTNAS24 §3.2], in GFLOPs or
another metric. The paper's GFLOPs count one multiply-accumulate as one operation: Table 1 gives
BERT-base 11.2 GFLOPs, its MACs at 128 tokens by :func:`encoder_macs`. Both measures here count
the encoder layers only; the embeddings, the pooler and the classifier are the same in every
subnetwork and would only shift every value by the same amount.
"""

from __future__ import annotations

from typing import Literal

from nasbench_txf.spaces.eftnas.config import Shape, SubnetConfig

Measure = Literal["macs", "params"]

#: the sequence length MACs are counted at by default: BERT's GLUE length, that of Table 1's 11.2 GFLOPs
SEQ_LEN = 128


def encoder_macs(shape: Shape, config: SubnetConfig, seq_len: int = SEQ_LEN) -> int:
    """Multiply-accumulates of the encoder layers on one sequence of ``seq_len`` tokens.

    Per layer, with ``L`` tokens of hidden size ``d``, ``h`` active heads of size ``d_h``
    (``a = h·d_h``) and FFN width ``w``::

        query, key and value projections   3·L·d·a
        attention scores Q·Kᵀ              L·L·a
        weighted values softmax(·)·V       L·L·a
        attention output projection        L·a·d
        FFN intermediate and output        2·L·d·w

    Biases, softmax, GELU, layer norms and residual additions (no multiply-accumulates, or
    of lower order) are not counted.
    """
    d, length = shape.hidden, seq_len
    total = 0
    for heads, width in zip(config.heads, config.ffn, strict=True):
        a = heads * shape.head_dim
        total += 4 * length * d * a + 2 * length * length * a + 2 * length * d * width
    return total


def encoder_params(shape: Shape, config: SubnetConfig) -> int:
    """Parameters of the encoder layers: per layer with ``a = h·d_h`` and FFN width ``w``,
    ``3(d·a + a)`` (query, key, value), ``a·d + d`` (attention output), ``d·w + w`` and
    ``w·d + d`` (FFN), and ``4d`` (two layer norms)."""
    d = shape.hidden
    total = 0
    for heads, width in zip(config.heads, config.ffn, strict=True):
        a = heads * shape.head_dim
        total += 3 * (d * a + a) + a * d + d + d * width + width + width * d + d + 4 * d
    return total


def complexity(shape: Shape, config: SubnetConfig, measure: Measure = "macs", seq_len: int = SEQ_LEN) -> int:
    """``config``'s complexity in ``measure``: :func:`encoder_macs` or :func:`encoder_params`."""
    return encoder_macs(shape, config, seq_len) if measure == "macs" else encoder_params(shape, config)
