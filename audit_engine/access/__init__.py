"""Who may see what: masking of personal data (roles and scopes arrive with the review issue)."""
