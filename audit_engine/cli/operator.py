"""``census-audit operator``: the registry of who may act, with role and scope."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, UserError, emit, examples


@click.group(epilog=examples("census-audit --operator admin.chen operator add admin.chen --role admin",
                             "census-audit --operator admin.chen operator add li.qc --role qc --scope 320831001",
                             "census-audit operator list --json"))
def operator() -> None:
    """Operators: roles (supervision, qc, leadership, admin) and scopes (township / EA codes)."""


@operator.command(epilog=examples("census-audit --operator admin.chen operator add li.qc --role qc --scope 320831001",
                                  "census-audit --operator admin.chen operator add wang.sup --role supervision"))
@click.argument("name")
@click.option("--role", type=click.Choice(["supervision", "qc", "leadership", "admin"]), required=True)
@click.option("--scope", multiple=True, metavar="CODE", help="Area code prefix (county 6, township 9, village 12, EA 15 digits); repeatable.")
@click.pass_obj
def add(app: AppContext, name: str, role: str, scope: tuple[str, ...]) -> None:
    """Register an operator (the first must be an admin; then only admins add operators)."""
    from audit_engine.access.operators import Refused, add_operator

    try:
        op = add_operator(app.ready_engine(), app.operator, name, role, scope)
    except (ValueError, Refused) as exc:
        raise UserError(f"operator add: {exc}") from exc
    click.echo(f"operator {op.name}: {op.role}" + (f", scope {', '.join(op.scope)}" if op.scope else ", whole store"))


@operator.command(name="list", epilog=examples("census-audit operator list", "census-audit operator list --json"))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_(app: AppContext, as_json: bool) -> None:
    """The registered operators."""
    from audit_engine.access.operators import list_operators

    ops = list_operators(app.ready_engine())
    emit({"operators": [o.__dict__ for o in ops]}, as_json,
         "\n".join(f"{o.name:<20} {o.role:<12} {'active' if o.active else 'disabled':<9} "
                   f"{', '.join(o.scope) or '(whole store)'}" for o in ops) or "no operators registered (open mode)")


@operator.command(epilog=examples("census-audit --operator admin.chen operator disable li.qc"))
@click.argument("name")
@click.pass_obj
def disable(app: AppContext, name: str) -> None:
    """Disable an operator (kept in the registry: their past actions stay attributed)."""
    from audit_engine.access.operators import Refused, disable_operator

    try:
        disable_operator(app.ready_engine(), app.operator, name)
    except (ValueError, Refused) as exc:
        raise UserError(f"operator disable: {exc}") from exc
    click.echo(f"operator {name} disabled")


@operator.command(epilog=examples("census-audit --operator admin.chen operator passwd li.qc",
                                  "census-audit --operator li.qc operator passwd li.qc"))
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
@click.pass_obj
def passwd(app: AppContext, name: str, password_stdin: bool) -> None:
    """Set an operator's web sign-in password (an admin for anyone, an operator for themselves).
    Stored as an argon2id hash; clears a sign-in lockout."""
    import sys

    from audit_engine.access.operators import Refused
    from audit_engine.web.auth import PasswordError, set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(app.ready_engine(), app.operator, name, password)
    except (ValueError, Refused, PasswordError) as exc:
        raise UserError(f"operator passwd: {exc}") from exc
    click.echo(f"password set for {name}")
