"""Built-in architecture encodings, one module per encoding (registered through entry points)."""
