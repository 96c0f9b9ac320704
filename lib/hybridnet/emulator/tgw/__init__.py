"""Transit gateway behaviour moto leaves out for VPN attachments."""
