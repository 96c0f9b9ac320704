"""ACM as AWS has it where moto falls short: a certificate re-imported into its
ARN keeps its tags and what uses it."""
