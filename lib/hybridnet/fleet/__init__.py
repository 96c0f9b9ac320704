"""The fleet health check: every Site-to-Site VPN connection of many accounts and
regions in one run, with the single-stack health check's checks.

- params.py: params/fleet.yaml (accounts, regions, tag filters), sharding;
- scopes.py: an account-region's clients (profile, assumed role), its call count;
- collect.py: what one account-region holds, read in a few batched calls;
- judge.py: the verdict table (resource x check) with causes;
- run.py: one check, its saved readings, and the merge of shards' runs.

Notebook 11 (and `hybridnet healthcheck --fleet`) draws the table, a heatmap and
the worst items; it never imports the emulator: the target is opened through the
session factory.
"""

from .judge import CONNECTION_CHECKS
from .params import Fleet, load_fleet, parse_shard, shard
from .run import NOTEBOOK, FleetResult, check, merge, record, run_notebook_check, save

__all__ = [
    "CONNECTION_CHECKS",
    "NOTEBOOK",
    "Fleet",
    "FleetResult",
    "check",
    "load_fleet",
    "merge",
    "parse_shard",
    "record",
    "run_notebook_check",
    "save",
    "shard",
]
