"""User mistakes at the command line: one line for people, exit code 2, no traceback.

Commands wrapped in `people_errors` print any `UserMistake` raised below them as
`error: <message>` and exit with code 2. Commands and groups made with `OneLineErrors` /
`OneLineCommand` print click's own mistakes (a bad option value, a missing argument, an unknown
option or command) the same way, instead of click's usage block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

import click

from aibubble.errors import UserMistake


class UserError(click.ClickException):
    """Printed as `error: <message>` with exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def people_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user mistakes raised anywhere below a command into a one-line UserError."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UserMistake as exc:
            raise UserError(str(exc)) from None

    return wrapper


@contextlib.contextmanager
def _one_line() -> Iterator[None]:
    """Re-raise click's exceptions as UserError, keeping their exit code; help stays help."""
    try:
        yield
    except (UserError, click.exceptions.NoArgsIsHelpError):
        raise
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        error = UserError(exc.format_message().rstrip(".") + hint)
        # click annotates exit_code as a ClassVar, yet reads it from the instance: a per-error value works
        error.exit_code = exc.exit_code  # type: ignore[misc]
        raise error from None
    except click.ClickException as exc:
        error = UserError(exc.format_message())
        error.exit_code = exc.exit_code  # type: ignore[misc]  # as above
        raise error from None


class _OneLine:
    """Mixed into a click command or group: its usage mistakes print as one `error:` line."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _one_line():
            return super().make_context(*args, **kwargs)  # type: ignore[misc]

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line():
            return super().invoke(ctx)  # type: ignore[misc]


class OneLineCommand(_OneLine, click.Command):
    """A command whose usage mistakes print as one `error:` line."""


class OneLineErrors(_OneLine, click.Group):
    """A group whose usage mistakes, and those of every command in it, print as one `error:` line."""
