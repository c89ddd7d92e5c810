"""Built-in design spaces, one package per space (registered through entry points)."""
