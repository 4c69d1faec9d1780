"""``python -m explorer``: see :mod:`explorer.cli`."""

from explorer.cli import main

raise SystemExit(main())
