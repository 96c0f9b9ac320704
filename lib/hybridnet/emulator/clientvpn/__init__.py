"""AWS Client VPN for the emulator: endpoints, target networks, authorization
rules, routes, client configuration and connections (models.py holds the
state, responses.py the EC2 query actions)."""
