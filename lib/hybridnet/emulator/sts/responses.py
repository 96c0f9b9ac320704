"""AssumeRole as AWS decides it.

moto's AssumeRole issues credentials for a role of another account without looking
at it: one that does not exist, or whose trust policy does not name the caller, or
asks for another external id (and of the caller's own account's roles it took no
account principal, arn:aws:iam::<account>:root). AWS refuses each with AccessDenied
("User: ... is not authorized to perform: sts:AssumeRole on resource: ..."). With
moto's credentials the next call failed inside moto's own authorization (HTTP 500),
so a role ARN with a typo in a fleet's settings broke the whole check instead of
being that account's access row. The trust policy is decided here alone
(roles.assume_role_refusal); the Gate leaves it to AssumeRole.
"""

from __future__ import annotations

from typing import Any

from moto.sts.responses import TokenResponse

from .. import auth, roles

_moto_assume_role: Any = None  # set by the installer: moto's own AssumeRole


class TrustedAssumeRoleResponse(TokenResponse):
    def assume_role(self) -> Any:
        _, caller_arn, _ = self.backend.get_caller_identity(self.get_access_key(), self.region)
        refusal = roles.assume_role_refusal(self._get_param("RoleArn"), caller_arn, self._get_param("ExternalId"))
        if refusal is not None:
            status, _, body = auth.render(auth.Refused("denied", refusal), "sts", self.headers.get("Content-Type", ""))
            raise auth.RefusalResponse(status, body)
        return _moto_assume_role(self)


__all__ = ["TrustedAssumeRoleResponse"]
