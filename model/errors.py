"""User mistakes: a bad config key, a sweep folder that cannot be resumed, an analysis a design
cannot give. Modules raise a `UserMistake` subclass with a one-line message; the command line
(`aibubble.cli.errors`) prints it as `error: <message>` with exit code 2, no traceback.

The simulation core raises these without knowing about click, so it runs without it.
"""

from __future__ import annotations


class UserMistake(ValueError):
    """A mistake in what the user gave (a file, a key, a folder); the message is one line."""
