"""A fleet with a known truth (accounts, Regions, VPN connections, their telemetry and history),
throttling and disabled Regions, for the fleet health check's tests and benchmark."""
