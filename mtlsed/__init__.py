"""mtlsed: companion to "A multi-task learning method for weakly supervised sound event detection".

The package does the work; the notebooks in ``notebooks/`` tell the story and call it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
