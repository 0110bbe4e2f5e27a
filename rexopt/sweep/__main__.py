"""``python -m rexopt.sweep sweep FILE.toml`` / ``... results FILE.h5``.

The same commands as ``rexopt sweep`` / ``rexopt results``, usable before (or
without) the main ``rexopt`` app.
"""

import typer

from rexopt.sweep.cli import register

app = typer.Typer(no_args_is_help=True, help="rexopt batch sweeps")
register(app)

if __name__ == "__main__":
    app()
