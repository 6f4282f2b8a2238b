"""`python -m aibubble.cli ...` is `aibubble ...`."""

from aibubble.cli import main

main()
