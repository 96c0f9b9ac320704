"""The daemons each host must run, asked on the host itself.

A tunnel that drops, a BGP route that goes or a DNS question that times out
says that something is wrong; a daemon that is not running says what. One
command per host (SSM Run Command, through the data-plane seam
:mod:`hybridnet.hosts`) lists the processes of the host's own network stack,
and each daemon the host's role needs is looked for there::

    role, host, instance_id, daemon, running, detail

``running`` is None when the host could not be asked (the reason is in
``detail``): not knowing is not the same as running.
"""

from __future__ import annotations

import pandas as pd

from .. import hosts
from ..aws import AwsContext

COLUMNS = ["role", "host", "instance_id", "daemon", "running", "detail"]

# role -> daemon -> the process names it runs as (strongSwan's systemd flavour
# is charon-systemd; Quagga's daemons are named as FRR's).
HOST_DAEMONS: dict[str, dict[str, tuple[str, ...]]] = {
    "router": {"charon": ("charon", "charon-systemd"), "bgpd": ("bgpd",), "zebra": ("zebra",)},
    "onprem_dns": {"named": ("named",)},
}

# The processes in this host's own network namespace, zombies left out (a
# killed daemon its parent has not reaped yet is not running). The namespace
# matters: a router may run other daemons in other namespaces, and the lab's
# hosts are namespaces of one machine, all in one process table.
PROCESSES_COMMAND = (
    'ps -e -o netns=,stat=,comm= | awk -v me="$(stat -L -c %i /proc/self/ns/net)" '
    "'$1 == me && $2 !~ /^Z/ {print $3}' | sort -u"
)


def daemons_frame(ctx: AwsContext) -> pd.DataFrame:
    """One row per daemon of each role in HOST_DAEMONS that the params name."""
    named = ctx.params.hosts.roles()
    roles = [role for role in HOST_DAEMONS if role in named]
    done = hosts.plane(ctx).run_many({role: [PROCESSES_COMMAND] for role in roles}, timeout=30)
    rows = []
    for role in roles:
        result = done[role]
        listed = set(result.stdout.split()) if result.ok else set()
        # The command's own shell is in the list: an empty one is a host that could not list.
        detail = (
            result.outcome
            if not result.ok
            else result.reason
            if listed
            else (
                f"{result.reason}, but no process listed (ps, awk and stat are needed): "
                f"{result.stderr.strip()[-300:] or 'no error output'}"
            )
        )
        for daemon, names in HOST_DAEMONS[role].items():
            rows.append(
                {
                    "role": role,
                    "host": result.host,
                    "instance_id": result.instance_id,
                    "daemon": daemon,
                    "running": bool(listed & set(names)) if listed else None,
                    "detail": detail,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
