"""``python -m mtlsed`` is the ``mtlsed`` command."""

from mtlsed.cli.main import main

raise SystemExit(main())
