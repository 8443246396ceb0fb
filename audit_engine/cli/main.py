"""The ``census-audit`` command line: a click group; one module per verb group."""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import DBAPIError, OperationalError

from audit_engine import __version__
from audit_engine.cli.context import AppContext, UserError
from audit_engine.io.readers import InputError

EPILOG = """\b
Examples:
  census-audit demo                          # synthetic county end to end, SQLite
  census-audit --operator li.qc init         # create or migrate the store
  census-audit --operator li.qc load census persons.csv
  census-audit ledger verify
"""


class Cli(click.Group):
    """Turns known failures into one clear line and exit 2; --debug shows the traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (InputError, FileNotFoundError) as exc:
            if _debug(ctx):
                raise
            raise UserError(str(exc)) from exc
        except OperationalError as exc:
            if _debug(ctx):
                raise
            app = ctx.find_object(AppContext)
            where = app.safe_url if app else "the store"
            # The DBAPI message can quote row values: name only the failure class.
            raise UserError(f"{where}: database error ({type(exc.orig).__name__}); run with --debug for details") from exc
        except DBAPIError as exc:
            if _debug(ctx):
                raise
            raise click.ClickException(f"database error ({type(exc.orig).__name__}); run with --debug for details") from exc


def _debug(ctx: click.Context) -> bool:
    app = ctx.find_object(AppContext)
    return bool(app and app.debug)


@click.group(cls=Cli, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="census-audit")
@click.option("--db", envvar="CENSUS_AUDIT_DB", metavar="URL",
              help="Store URL (default sqlite:///census_audit.db here; postgresql://user@host/db). Env CENSUS_AUDIT_DB.")
@click.option("--operator", "operator_opt", metavar="NAME",
              help="Who is acting; recorded in the ledger. Env CENSUS_AUDIT_OPERATOR.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, db: str | None, operator_opt: str | None, debug: bool) -> None:
    """Quality audit and post-enumeration survey engine for the population census."""
    ctx.obj = AppContext(db=db, operator_opt=operator_opt, debug=debug)


def _register() -> None:
    from audit_engine.cli import (
        accountability,
        check,
        demo,
        estimate,
        export,
        init,
        lake,
        ledger,
        link,
        load,
        operator,
        quality,
        reconcile,
        report,
        review,
        sample,
        serve,
        status,
        synth,
    )

    cli.add_command(init.init)
    cli.add_command(load.load)
    cli.add_command(synth.synth)
    cli.add_command(ledger.ledger)
    cli.add_command(status.status)
    cli.add_command(check.check)
    cli.add_command(quality.quality)
    cli.add_command(sample.sample)
    cli.add_command(link.link)
    cli.add_command(estimate.estimate)
    cli.add_command(operator.operator)
    cli.add_command(review.review)
    cli.add_command(export.export)
    cli.add_command(accountability.accountability)
    cli.add_command(report.report)
    cli.add_command(reconcile.reconcile)
    cli.add_command(serve.serve)
    cli.add_command(lake.lake)
    cli.add_command(demo.demo)


_register()


def main() -> None:
    try:
        cli.main(prog_name="census-audit", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover
        click.echo("interrupted: every finished chunk is stored; run the same command again to resume", err=True)
        sys.exit(130)
