"""`python -m aibubble ...` is `aibubble ...`."""

from aibubble.cli import main

main()
