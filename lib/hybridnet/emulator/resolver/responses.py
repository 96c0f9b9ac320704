"""UpdateResolverRule on moto's Route 53 Resolver response class."""

from __future__ import annotations

import json

from moto.route53resolver.responses import Route53ResolverResponse


class RuleUpdateResponses(Route53ResolverResponse):
    def update_resolver_rule(self) -> str:
        rule = self.route53resolver_backend.update_resolver_rule(  # type: ignore[attr-defined]
            resolver_rule_id=self._get_param("ResolverRuleId"), config=self._get_param("Config") or {}
        )
        return json.dumps({"ResolverRule": rule.description()})


class QueryLoggingResponses(Route53ResolverResponse):
    """DisassociateResolverQueryLogConfig and DeleteResolverQueryLogConfig, which moto lacks."""

    def disassociate_resolver_query_log_config(self) -> str:
        association = self.route53resolver_backend.disassociate_resolver_query_log_config(  # type: ignore[attr-defined]
            resolver_query_log_config_id=self._get_param("ResolverQueryLogConfigId"),
            resource_id=self._get_param("ResourceId"),
        )
        return json.dumps({"ResolverQueryLogConfigAssociation": association.description()})

    def delete_resolver_query_log_config(self) -> str:
        config = self.route53resolver_backend.delete_resolver_query_log_config(  # type: ignore[attr-defined]
            resolver_query_log_config_id=self._get_param("ResolverQueryLogConfigId")
        )
        return json.dumps({"ResolverQueryLogConfig": config.description()})
