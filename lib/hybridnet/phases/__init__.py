"""One module per runbook phase. Each takes an AwsContext (validated params +
clients) and returns plain data; notebooks only call and display."""


class PhaseError(RuntimeError):
    """A precondition or drift the engineer must resolve; the message says what to do."""
