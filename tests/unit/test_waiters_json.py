"""The waiters boto3 lacks live in lib/hybridnet/waiters.json, botocore's waiter language
(version 2): each names an operation its service has, and each path is JMESPath."""

from __future__ import annotations

import botocore.session
import jmespath
from hybridnet import waiting

SERVICE_OF = {"Resolver": "route53resolver", "ClientVpn": "ec2", "TransitGateway": "ec2"}


def test_every_waiter_names_a_real_operation_with_valid_paths():
    session = botocore.session.get_session()
    names = waiting.EXTRA_WAITERS.waiter_names
    assert len(names) >= 10
    for name in names:
        waiter = waiting.EXTRA_WAITERS.get_waiter(name)
        service = next(s for prefix, s in SERVICE_OF.items() if name.startswith(prefix))
        session.get_service_model(service).operation_model(waiter.operation)  # raises if there is none
        assert waiter.description and waiter.delay > 0 and waiter.max_attempts > 0
        states = {a.state for a in waiter.acceptors}
        assert "success" in states and "failure" in states, name
        for acceptor in waiter.acceptors:
            if acceptor.argument:
                jmespath.compile(acceptor.argument)
