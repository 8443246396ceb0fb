"""The rule engine: declarative consistency edits over census records (see issue "Rule engine")."""
