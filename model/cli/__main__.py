"""`python -m model.cli ...` is `aibubble ...`."""

from model.cli import main

main()
