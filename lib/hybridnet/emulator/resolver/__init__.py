"""Route 53 Resolver endpoint checks moto leaves out: an endpoint IP that is
already in use in its subnet (by another endpoint's or any other ENI)."""
