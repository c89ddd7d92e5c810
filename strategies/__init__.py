"""Built-in search strategies, one module per strategy (registered through entry points)."""
