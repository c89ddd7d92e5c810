"""Built-in benchmarks: live training, and stored or predicted versions of it."""
