"""Configuration generators (Jinja2 templates under ``templates/``).

On-prem router (strongSwan + Quagga/FRR) from a VPN connection::

    from hybridnet.render import RouterSite, render_router
    render_router(cfg, RouterSite(cgw_asn=65016, onprem_cidrs=["192.168.0.0/16"],
                                  vpc_cidrs=["10.0.0.0/16"]), "frr", out_dir)

and a linter for the result: :func:`hybridnet.render.lint.lint_router`.
"""

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
    "lint_router",
    "render_files",
    "render_router",
    "write_file",
]
