"""What the emulator adds to moto, as a registry of installers.

Each extension is moto-shaped (backend state in models.py, protocol in
responses.py) and is installed into moto's classes inside the emulator
process before the server starts, so boto3 reaches it over HTTP exactly as
it reaches AWS, with botocore validating requests and parsing responses
against the real service model.
"""

from __future__ import annotations

from collections.abc import Callable


def _install_methods(target: type, source: type) -> None:
    for name, value in vars(source).items():
        if callable(value) and not name.startswith("__"):
            setattr(target, name, value)


def install_vpn_connections() -> None:
    from moto.ec2.models.vpn_connections import VPNConnectionBackend
    from moto.ec2.responses.vpn_connections import VPNConnections

    from .vpn.models import TunnelledVpnConnectionBackend
    from .vpn.responses import TunnelledVpnConnectionResponses

    _install_methods(VPNConnectionBackend, TunnelledVpnConnectionBackend)
    _install_methods(VPNConnections, TunnelledVpnConnectionResponses)


def install_tgw_vpn_attachments() -> None:
    from moto.ec2.models.transit_gateway_attachments import (
        TransitGatewayAttachment,
        TransitGatewayAttachmentBackend,
    )

    from .tgw.models import (
        DefaultRouteTableVpnAttachments,
        FilterableTransitGatewayAttachment,
        FilteringTransitGatewayAttachmentBackend,
    )

    _install_methods(TransitGatewayAttachmentBackend, DefaultRouteTableVpnAttachments)
    _install_methods(TransitGatewayAttachmentBackend, FilteringTransitGatewayAttachmentBackend)
    _install_methods(TransitGatewayAttachment, FilterableTransitGatewayAttachment)


def install_customer_gateway_filters() -> None:
    from moto.ec2.models.customer_gateways import CustomerGateway, CustomerGatewayBackend

    from .cgw.models import FilterableCustomerGateway, FilteringCustomerGatewayBackend

    _install_methods(CustomerGateway, FilterableCustomerGateway)
    _install_methods(CustomerGatewayBackend, FilteringCustomerGatewayBackend)


def install_tgw_propagated_routes() -> None:
    from moto.ec2.models.transit_gateway_route_tables import TransitGatewayRouteTableBackend

    from .tgw import models

    if models._moto_search_routes is None:
        models._moto_search_routes = TransitGatewayRouteTableBackend.search_transit_gateway_routes
    _install_methods(TransitGatewayRouteTableBackend, models.PropagatedRouteSearch)


def install_route53_test_dns_answer() -> None:
    from moto.route53 import urls
    from moto.route53.models import Route53Backend
    from moto.route53.responses import Route53

    from .route53.models import DnsAnswerBackend, SoaValueBackend
    from .route53.responses import URL_PATH, DnsAnswerResponses

    _install_methods(Route53Backend, DnsAnswerBackend)
    _install_methods(Route53Backend, SoaValueBackend)
    _install_methods(Route53, DnsAnswerResponses)
    urls.url_paths.setdefault(URL_PATH, Route53.dispatch)  # read when moto builds the route53 app


def install_resolver_ip_conflicts() -> None:
    from moto.route53resolver.models import Route53ResolverBackend

    from .resolver.models import FreeIpResolverBackend

    _install_methods(Route53ResolverBackend, FreeIpResolverBackend)


def install_resolver_rule_update() -> None:
    from moto.route53resolver.models import Route53ResolverBackend
    from moto.route53resolver.responses import Route53ResolverResponse

    from .resolver.models import RuleUpdateBackend
    from .resolver.responses import RuleUpdateResponses

    _install_methods(Route53ResolverBackend, RuleUpdateBackend)
    _install_methods(Route53ResolverResponse, RuleUpdateResponses)


def install_resolver_query_logging() -> None:
    from moto.route53resolver.models import Route53ResolverBackend
    from moto.route53resolver.responses import Route53ResolverResponse

    from .resolver.models import QueryLoggingBackend
    from .resolver.responses import QueryLoggingResponses

    _install_methods(Route53ResolverBackend, QueryLoggingBackend)
    _install_methods(Route53ResolverResponse, QueryLoggingResponses)


def install_acm_reimport_keeps_tags() -> None:
    from moto.acm.models import AWSCertificateManagerBackend

    from .acm.models import ReimportKeepsTagsBackend

    _install_methods(AWSCertificateManagerBackend, ReimportKeepsTagsBackend)


def install_client_vpn() -> None:
    from moto.ec2.models import EC2Backend
    from moto.ec2.responses import EC2Response

    from .client_vpn import models, tags
    from .client_vpn.responses import ClientVpnResponses

    tags.register_resource_type()
    if tags._moto_do_resources_exist is None:
        tags._moto_do_resources_exist = EC2Backend.do_resources_exist
    _install_methods(EC2Backend, models.ClientVpnBackend)
    _install_methods(EC2Backend, tags.ClientVpnResourceCheck)
    _install_methods(EC2Response, ClientVpnResponses)


def install_lambda_invoke() -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    from .awslambda.models import RunningLambdaFunction, RunningLambdaSimpleBackend

    _install_methods(LambdaFunction, RunningLambdaFunction)
    _install_methods(LambdaSimpleBackend, RunningLambdaSimpleBackend)


def install_iam_authorization() -> None:
    from .auth import install_authorization

    install_authorization()


def install_ssm_run_command() -> None:
    from moto.ssm.models import SimpleSystemManagerBackend
    from moto.ssm.responses import SimpleSystemManagerResponse

    from .ssm.models import RunCommandBackend
    from .ssm.responses import RunCommandResponses

    _install_methods(SimpleSystemManagerBackend, RunCommandBackend)
    _install_methods(SimpleSystemManagerResponse, RunCommandResponses)


def install_fleet() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    from . import auth
    from .fleet import metrics, rules

    if metrics._moto_get_metric_data is None:
        metrics._moto_get_metric_data = CloudWatchBackend.get_metric_data
    _install_methods(CloudWatchBackend, metrics.IndexedMetricDataBackend)
    if rules.check not in auth.REQUEST_RULES:
        auth.REQUEST_RULES.append(rules.check)


def install_route53_list_pages() -> None:
    from moto.route53.models import Route53Backend
    from moto.route53.responses import Route53

    from .route53.models import HostedZoneListingBackend
    from .route53.responses import HostedZoneListingResponses

    _install_methods(Route53Backend, HostedZoneListingBackend)
    _install_methods(Route53, HostedZoneListingResponses)


def install_tgw_vpc_attachment_tags() -> None:
    from moto.ec2.responses.transit_gateway_attachments import TransitGatewayAttachment

    from .tgw.responses import TaggedVpcAttachmentResponses

    _install_methods(TransitGatewayAttachment, TaggedVpcAttachmentResponses)


def install_security_group_answers() -> None:
    from moto.ec2.responses.security_groups import SecurityGroups

    from .securitygroups.responses import FaithfulSecurityGroupResponses

    _install_methods(SecurityGroups, FaithfulSecurityGroupResponses)


def install_response_fidelity() -> None:
    from moto.core.responses import BaseResponse
    from moto.core.serialize import JSONSerializer, ResponseSerializer, SerializationContext

    from .core import responses, serialize

    if serialize._moto_serialize is None:
        serialize._moto_serialize = ResponseSerializer.serialize
    if responses._moto_call_action is None:
        responses._moto_call_action = BaseResponse.call_action
    # monkeypatching moto's class with the mixin's __init__ (another class's self), which mypy cannot follow
    SerializationContext.__init__ = serialize.UuidSerializationContext.__init__  # type: ignore[method-assign,assignment]
    _install_methods(ResponseSerializer, serialize.RequestIdHeaderSerializer)
    _install_methods(JSONSerializer, serialize.JsonContentTypeSerializer)
    _install_methods(BaseResponse, responses.RequestIdResponse)
    _install_methods(BaseResponse, responses.ContentTypeResponse)


def install_serializer_key_cache() -> None:
    from moto.core.serialize import AttributePicker, XFormedAttributePicker

    from .core.picker import cached_possible_keys

    for picker in (AttributePicker, XFormedAttributePicker):
        if not getattr(picker.get_possible_keys, "hybridnet_cached", False):
            cached = cached_possible_keys(picker.get_possible_keys)
            cached.hybridnet_cached = True  # type: ignore[attr-defined]  # a marker: installed once
            picker.get_possible_keys = cached  # type: ignore[method-assign,assignment]  # moto's class, patched


def install_sts_assume_role_trust() -> None:
    from moto.sts.responses import TokenResponse

    from .sts import responses

    if responses._moto_assume_role is None:
        responses._moto_assume_role = TokenResponse.assume_role
    _install_methods(TokenResponse, responses.TrustedAssumeRoleResponse)


def install_module_list_cache() -> None:
    from moto import backends

    from .core.dispatch import listed_once

    if not getattr(backends.list_of_moto_modules, "hybridnet_cached", False):
        backends.list_of_moto_modules = listed_once(backends.list_of_moto_modules)


EXTENSIONS: dict[str, Callable[[], None]] = {
    "vpn-connections": install_vpn_connections,
    "tgw-vpn-attachments": install_tgw_vpn_attachments,
    "customer-gateway-filters": install_customer_gateway_filters,
    "tgw-propagated-routes": install_tgw_propagated_routes,
    "route53-test-dns-answer": install_route53_test_dns_answer,
    "resolver-ip-conflicts": install_resolver_ip_conflicts,
    "resolver-rule-update": install_resolver_rule_update,
    "resolver-query-logging": install_resolver_query_logging,
    "acm-reimport-keeps-tags": install_acm_reimport_keeps_tags,
    "client-vpn": install_client_vpn,
    "lambda-invoke": install_lambda_invoke,
    "iam-authorization": install_iam_authorization,
    "ssm-run-command": install_ssm_run_command,
    "fleet": install_fleet,
    "route53-list-pages": install_route53_list_pages,
    "tgw-vpc-attachment-tags": install_tgw_vpc_attachment_tags,
    "security-group-answers": install_security_group_answers,
    "response-fidelity": install_response_fidelity,
    "serializer-key-cache": install_serializer_key_cache,
    "module-list-cache": install_module_list_cache,
    "sts-assume-role-trust": install_sts_assume_role_trust,
}

_installed: set[str] = set()


def install_all() -> list[str]:
    for name, install in EXTENSIONS.items():
        if name not in _installed:
            install()
            _installed.add(name)
    return sorted(_installed)
