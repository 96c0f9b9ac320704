"""Configuration generators (Jinja2 templates under ``templates/``).

On-prem router (strongSwan + Quagga/FRR) from a VPN connection::

    from hybridnet.render import RouterSite, render_router
    render_router(cfg, RouterSite(cgw_asn=65016, onprem_cidrs=["192.168.0.0/16"],
                                  vpc_cidrs=["10.0.0.0/16"]), "frr", out_dir)

and a linter for the result: :func:`hybridnet.render.lint.lint_router`.

Applying a target through SSM Run Command without sending its keys
(:mod:`hybridnet.render.apply`)::

    files = render_files(with_placeholder_secrets(cfg), site, "lab")
    secrets = {psk_placeholder(t.number): psk_parameter_name(stack, cfg.vpn_connection_id, t.number)
               for t in cfg.tunnels}
    commands = apply_commands(files, "setup-router-lab.sh", secrets, region)
"""

from hybridnet.render.apply import (
    apply_commands,
    psk_parameter_name,
    psk_placeholder,
    with_placeholder_secrets,
)
from hybridnet.render.lint import FAIL, WARN, Finding, lint_router
from hybridnet.render.router import TARGETS, RenderedFile, render_files, render_router, write_file
from hybridnet.render.site import RouterSite

__all__ = [
    "FAIL",
    "TARGETS",
    "WARN",
    "Finding",
    "RenderedFile",
    "RouterSite",
    "apply_commands",
    "lint_router",
    "psk_parameter_name",
    "psk_placeholder",
    "render_files",
    "render_router",
    "with_placeholder_secrets",
    "write_file",
]
