"""Customer gateways filtered as AWS filters them."""
