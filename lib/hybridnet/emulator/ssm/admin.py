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
        "ip_address": "192.168.1.10"          # optional (default: the instance's private IP)
     }]}

answers {"region": ..., "instances": [{"instance_id", "name_tag", "ping_status"}]}, the
region's managed instances after the call. Registering an instance again replaces
its registration; `"replace": true` with `"instances": []` deregisters all of the
region's. All entries are checked before any is applied (an unknown instance or
name is an error naming it). It registers only: commands run through the AWS API
(SendCommand), for authenticated callers, on registered instances only.
"""

from __future__ import annotations

from .models import register_instances


def ssm_instances(body: dict, extensions: list[str]) -> dict:
    return register_instances(body)
