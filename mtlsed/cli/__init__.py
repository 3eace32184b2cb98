"""The ``mtlsed`` command."""
