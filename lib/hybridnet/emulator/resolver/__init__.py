"""Route 53 Resolver as AWS has it where moto falls short: an endpoint IP that is
already in use in its subnet (by another endpoint's or any other ENI), an
endpoint's last two IPs, UpdateResolverRule (a rule's targets in place), and query
logging configurations (their tags, their destination checked, disassociation and
deletion)."""
