"""Site-to-Site VPN connections that honour their tunnel options (moto style:
state in models.py, protocol in responses.py)."""
