"""STS as AWS decides AssumeRole (moto's STS, extended: responses.py)."""
