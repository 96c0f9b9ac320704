"""GET /2013-04-01/testdnsanswer, served by moto's Route53 response class."""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.route53.responses import Route53

URL_PATH = r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$"


class DnsAnswerResponses(Route53):
    def test_dns_answer(self) -> ActionResult:
        answer = self.backend.test_dns_answer(
            self._get_param("HostedZoneId"),
            self._get_param("RecordName"),
            self._get_param("RecordType"),
        )
        return ActionResult(answer)
