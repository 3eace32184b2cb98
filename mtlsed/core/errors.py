"""The errors a user's input causes, under one root: every library module raises a :class:`UserError`
(or a subclass), and the CLI prints it without a traceback and exits 2.

The subclasses keep the built-in type their callers knew (``ValueError``, ``RuntimeError``), so an
``except ValueError`` written against them still catches them.
"""


class UserError(Exception):
    """An error caused by the user's input (a run folder in use, a batch larger than the split, ...)."""


class ConfigError(UserError, ValueError):
    """A configuration value, key or file is invalid; the message names the dotted key or file:line."""


class FormatError(UserError, ValueError):
    """A dataset file is malformed; the message names the file and line."""


class AudioError(UserError, RuntimeError):
    """An audio file is missing, unreadable, empty or corrupt; the message names it."""
