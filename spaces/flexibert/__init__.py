"""The FlexiBERT design space [FLEXIBERT23 §3.1-3.3, App. B] and its 2021 variant [FLEXIBERT21]."""
