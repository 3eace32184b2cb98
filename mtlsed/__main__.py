"""``python -m mtlsed`` is the ``mtlsed`` command."""

from mtlsed.cli import main

raise SystemExit(main())
