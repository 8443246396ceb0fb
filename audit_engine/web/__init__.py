"""The review web application: QC officers' queue and decisions, leadership's dashboard,
supervision's runs and ledger — served by the engine itself (``census-audit serve``), with the
same roles, scopes, masking and ledger as the command line.

Flask with Jinja2 templates rendered on the server; one small local script for keyboard
shortcuts; Flask-WTF for CSRF tokens; argon2id password hashes; waitress to serve.
"""

from audit_engine.web.app import create_app

__all__ = ["create_app"]
