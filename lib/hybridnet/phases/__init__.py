"""One module per runbook phase. Each takes an AwsContext (validated params +
clients) and returns plain data; notebooks only call and display."""
