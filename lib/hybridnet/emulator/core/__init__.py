"""What every response carries, fixed where moto's core gets it wrong (moto.core:
serialize.py, responses.py): a fresh request id (a UUID, as AWS gives) in the
body and the x-amzn-requestid header, and the Content-Type of the service's
protocol."""
