"""Surrogate benchmarks: models fitted on a table that answer for every card of its space,
with the seed noise the table measured."""
