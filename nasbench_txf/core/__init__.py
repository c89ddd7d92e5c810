"""The core: the values (arch, result, options), the four plugin base classes (space,
encoding, strategy, benchmark), the registry that finds plugins, the errors the CLI reports
in one line, and the small utilities every subsystem shares (files, safe JSON, threads,
processes). It imports no plugin and no other subsystem."""
