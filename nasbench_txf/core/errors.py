"""Errors that describe a problem with the user's request.

Everything the CLI reports as a one-line message and exit code 2 derives from
:class:`UserError`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A request that cannot be carried out as asked; the message says why and what to do."""


class UnknownNameError(UserError):
    """A plugin name (space, strategy, encoding, benchmark, task, preset) that is not known."""


class OptionError(UserError):
    """A plugin option that is unknown or has a value of the wrong form."""


class InvalidCardError(UserError):
    """A model card that is not a member of the space; the message names the field and values."""


class IncompatibleError(UserError):
    """A combination of plugins that cannot work together (refused before anything runs)."""


class StoreError(UserError):
    """A run store that cannot be used for the request (not a store, other cell, ...)."""


class PluginLoadError(UserError):
    """A plugin whose entry point failed to import or is not of the expected kind."""


class MissingDependencyError(UserError):
    """An optional library that is not installed (or does not import here). Raised at a
    plugin's import, the registry lists the plugin as not installed instead of broken."""


class DataError(UserError):
    """Task data that cannot be used: a missing file or column, a malformed row, a bad label."""
