"""Tabular benchmarks: the table format, the space of a table's archs, building a table by
live training, importing and exporting, re-timing, reports, and the built-in tables."""
