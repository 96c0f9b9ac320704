"""CreateSecurityGroup and DeleteSecurityGroup answer as AWS does (responses.py)."""
