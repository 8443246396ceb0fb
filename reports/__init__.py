"""Report rendering and templates (see issue "Reports")."""
