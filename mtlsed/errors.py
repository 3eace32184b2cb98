"""The error a user's input causes: every library module raises it, the CLI prints it without a traceback."""


class UserError(Exception):
    """An error caused by the user's input (a run folder in use, a batch larger than the split, ...)."""


class ConfigError(ValueError):
    """A configuration value, key or file is invalid; the message names the dotted key or file:line."""
