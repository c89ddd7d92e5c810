"""The FlexiBERT design space (seed 000 §3.1-3.3, App. B) and its 2021 variant (seed 001)."""
