"""``python -m rexopt.sweep sweep FILE.toml`` / ``... results FILE.h5``.

The same commands as ``rexopt sweep`` / ``rexopt results``, usable before (or
without) the main ``rexopt`` app; help text is shown as written, as there.
"""

import typer

from rexopt.sweep.cli import register

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="rexopt batch sweeps",
)
register(app)

if __name__ == "__main__":
    app()
