"""``python -m bridge.cli``: the ``textback`` command."""

from bridge.cli import main

main()
