"""The admin route through which a data plane makes EC2 instances SSM-managed.

POST /_hybridnet/ssm-instances (served on the emulator's unix socket only):

    {"region": "ap-northeast-2",
     "replace": false,                        # optional: true = these are all of the region's managed instances
     "instances": [{
        "instance_id": "i-...",               # or "name_tag": "cgw-router" (the EC2 Name tag; exactly one match)
        "argv_prefix": ["ip", "netns", "exec", "hn-cgw"],   # how to run a command on that host ([] = this host)
        "alive_path": "/run/netns/hn-cgw",    # exists while the host is up (else PingStatus ConnectionLost)
        "platform_name": "Ubuntu",            # optional (default: this host's /etc/os-release NAME)
        "platform_version": "24.04",          # optional (default: VERSION_ID)
        "computer_name": "cgw.example",       # optional (default: the instance's private DNS name)
        "ip_address": "192.168.1.10",         # optional (default: the instance's private IP)
        "environment": {"AWS_ENDPOINT_URL": "http://127.0.0.1:4510"}   # optional: added to every command's
     }]}

answers {"region": ..., "instances": [{"instance_id", "name_tag", "ping_status"}]}, the
region's managed instances after the call. Registering an instance again replaces
its registration; `"replace": true` with `"instances": []` deregisters all of the
region's. All entries are checked before any is applied (an unknown instance or
name is an error naming it). It registers only: commands run through the AWS API
(SendCommand), for authenticated callers, on registered instances only.

`environment` is at most 32 variables, names matching ^[A-Z_][A-Z0-9_]*$, values
strings; names starting with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or
AWS_SESSION_TOKEN are refused (400): a command's credentials are those of the EC2
instance's IAM instance profile (its role must trust ec2.amazonaws.com), which the
emulator adds itself, with AWS_REGION and AWS_DEFAULT_REGION (see models.py).
"""

from __future__ import annotations

from .models import register_instances


def ssm_instances(body: dict, extensions: list[str]) -> dict:
    return register_instances(body)
