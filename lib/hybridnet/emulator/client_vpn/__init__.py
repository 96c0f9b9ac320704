"""AWS Client VPN for the emulator: endpoints, target networks, authorization
rules, routes, client configuration and connections. In moto's layout:
models.py holds the state and the backend's actions, responses.py the EC2
query actions, exceptions.py the errors, utils.py the constants, ids,
filters and pagination model; certificates.py reads the endpoint's ACM
certificates, handler.py runs the client connect handler (Lambda),
connectionlog.py writes the connection log, tags.py teaches moto's tagging
about endpoints, admin.py serves what a data plane reports."""
