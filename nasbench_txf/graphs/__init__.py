"""Block graphs: isomorphism-aware hashing, graph edit distance, cached graph features."""
