"""Client VPN endpoints in moto's EC2 tagging (CreateTags, DeleteTags, DescribeTags),
which knows only the resource types moto implements; installed by extensions.py."""

from __future__ import annotations

from typing import Any

from .utils import ENDPOINT_PREFIX, RESOURCE_TYPE

_moto_get_prefix = None


def register_resource_type() -> None:
    """Teach moto's tagging about `cvpn-endpoint-...` ids (resource type
    client-vpn-endpoint), so CreateTags/DeleteTags/DescribeTags accept them."""
    global _moto_get_prefix
    import moto.ec2.models as ec2_models
    import moto.ec2.models.tags as ec2_tags
    from moto.ec2 import utils

    utils.EC2_RESOURCE_TO_PREFIX[RESOURCE_TYPE] = ENDPOINT_PREFIX
    utils.EC2_PREFIX_TO_RESOURCE[ENDPOINT_PREFIX] = RESOURCE_TYPE
    if _moto_get_prefix is None:
        _moto_get_prefix = utils.get_prefix

        def get_prefix(resource_id: str) -> str:
            if resource_id.startswith(ENDPOINT_PREFIX + "-"):
                return ENDPOINT_PREFIX
            return _moto_get_prefix(resource_id)

        for module in (utils, ec2_models, ec2_tags):
            module.get_prefix = get_prefix  # type: ignore[attr-defined]


_moto_do_resources_exist: Any = None  # set by the installer: moto's own check


class ClientVpnResourceCheck:
    """CreateTags on an unknown endpoint fails as on AWS (moto checks known types only)."""

    def do_resources_exist(self, resource_ids: list[str]) -> bool:
        for resource_id in resource_ids:
            if resource_id.startswith(ENDPOINT_PREFIX + "-"):
                self.get_client_vpn_endpoint(resource_id)  # type: ignore[attr-defined]
        return _moto_do_resources_exist(self, [r for r in resource_ids if not r.startswith(ENDPOINT_PREFIX + "-")])
