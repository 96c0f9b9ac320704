"""CreateSecurityGroup echoes its tags; DeleteSecurityGroup answers Return and GroupId.

moto's CreateSecurityGroup answers GroupId and SecurityGroupArn only; AWS
also returns the group's Tags when TagSpecifications were given.
moto's DeleteSecurityGroup answers an empty result; AWS answers Return
(true) and the deleted group's GroupId (DeleteSecurityGroupResult, since
2023), also when the group was named by GroupName.
Installed into moto's SecurityGroups responses.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidSecurityGroupNotFoundError
from moto.ec2.responses.security_groups import SecurityGroups


class FaithfulSecurityGroupResponses(SecurityGroups):
    def create_security_group(self) -> ActionResult:
        tags = self._parse_tag_specification().get("security-group", {})
        self.error_on_dryrun()
        group = self.ec2_backend.create_security_group(
            self._get_param("GroupName"), self._get_param("Description"), vpc_id=self._get_param("VpcId"), tags=tags
        )
        result = {"GroupId": group.id, "SecurityGroupArn": group.arn}
        if tags:
            result["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
        return ActionResult(result)

    def delete_security_group(self) -> ActionResult:
        name = self._get_param("GroupName")
        group_id = self._get_param("GroupId")
        self.error_on_dryrun()
        if group_id:
            self.ec2_backend.delete_security_group(group_id=group_id)
        elif name:
            group = self.ec2_backend.get_security_group_by_name_or_id(name)
            if group is None:
                raise InvalidSecurityGroupNotFoundError(name)
            group_id = group.id
            self.ec2_backend.delete_security_group(name)
        return ActionResult({"Return": True, "GroupId": group_id})
