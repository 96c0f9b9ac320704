"""`python -m hybridnet.lab up|status|down|wait`: drive the lab from a shell (needs root).

python -m hybridnet.lab up --cgw-dir outputs/<run>/cgw_lab [--spec spec.json] [--wait]
python -m hybridnet.lab status        # JSON on stdout
python -m hybridnet.lab down
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import LAB_DIR, LabSpec, down, status, up, wait_until_up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hybridnet.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", type=Path, default=LAB_DIR)
    commands = parser.add_subparsers(dest="command", required=True)
    up_cmd = commands.add_parser("up", help="build the lab (takes a running one down first)")
    up_cmd.add_argument(
        "--cgw-dir", type=Path, required=True, help="customer-gateway dir: swanctl.conf, frr.conf, ipsec0-addresses"
    )
    up_cmd.add_argument("--spec", type=Path, help="LabSpec as JSON (default: the seed lab's values)")
    up_cmd.add_argument("--log-dir", type=Path)
    up_cmd.add_argument("--wait", action="store_true", help="wait for tunnels UP and BGP Established")
    commands.add_parser("status", help="tunnels, BGP and routes as JSON")
    commands.add_parser("wait", help="wait for tunnels UP and BGP Established")
    commands.add_parser("down", help="stop every lab daemon and delete every hn- namespace")
    args = parser.parse_args(argv)

    if args.command == "up":
        spec = LabSpec.model_validate_json(args.spec.read_text()) if args.spec else LabSpec.seed()
        state = up(spec, args.cgw_dir, args.lab_dir, args.log_dir)
        print(f"lab up in {state.lab_dir} (logs in {state.log_dir})")
        if args.wait:
            print(f"tunnels UP and BGP Established after {wait_until_up(args.lab_dir):.2f}s")
    elif args.command == "wait":
        print(f"tunnels UP and BGP Established after {wait_until_up(args.lab_dir):.2f}s")
    elif args.command == "status":
        json.dump(status(args.lab_dir), sys.stdout, indent=2)
        print()
    elif args.command == "down":
        json.dump(down(args.lab_dir), sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
