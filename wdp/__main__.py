"""``python -m wdp``: the same as the ``wdp`` command."""

from wdp.cli import main

raise SystemExit(main())
