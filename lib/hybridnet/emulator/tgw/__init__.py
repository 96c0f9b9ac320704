"""Transit gateway behaviour moto leaves out for VPN attachments (models.py), and the
tags of a VPC attachment, which moto drops (responses.py)."""
