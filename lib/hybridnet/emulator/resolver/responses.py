"""UpdateResolverRule on moto's Route 53 Resolver response class."""

from __future__ import annotations

import json

from moto.route53resolver.responses import Route53ResolverResponse


class RuleUpdateResponses(Route53ResolverResponse):
    def update_resolver_rule(self) -> str:
        rule = self.route53resolver_backend.update_resolver_rule(  # type: ignore[attr-defined]
            resolver_rule_id=self._get_param("ResolverRuleId"), config=self._get_param("Config") or {})
        return json.dumps({"ResolverRule": rule.description()})
