"""AWS behaviour that moto lacks, reproduced by the proxy: off until a test turns a rule on.

    POST /__proxy/realism  {"new_pcx_not_found": 3, "accepter_lag": 3, "empty_cidrs": 1, "propagated": {…},
                            "new_rule_not_found": 2, "just_created": ["pcx-…"],
                            "assume_role_denied": {"arn:aws:iam::222222222222:role/peering": 6}}

Each rule, with its source:
- new_pcx_not_found N: eventual consistency after a create. A connection that
  CreateVpcPeeringConnection just returned answers `InvalidVpcPeeringConnectionID.NotFound` to the
  first N DescribeVpcPeeringConnections, the first N AcceptVpcPeeringConnection and the first N
  DeleteVpcPeeringConnection calls naming it, in each region (terraform-provider-aws #30423, botocore #1114,
  giantswarm/aws-operator #473; the EC2 API reference, "Eventual consistency in the Amazon EC2 API":
  "you might get a resource not found error" right after creating it). `just_created` names
  connections the test made itself (the other account's request, in accept mode) for this rule.
- accepter_lag N: the accepter region lags. After an accept in a region other than the
  requester's, that region reads the connection `provisioning` for its next N describes; until
  those have been read, ModifyVpcPeeringConnectionOptions there answers `OperationNotPermitted`
  ("Peering pcx-… is not active. Peering options can be added only to active peerings.") and
  CreateRoute/ReplaceRoute to the connection answer `InvalidVpcPeeringConnectionID.NotFound`
  (terraform-provider-aws waits up to 3 minutes there: VPCPeeringConnectionOptionsPropagationTimeout).
- empty_cidrs N: a connection's first N describes, in each region, carry no CIDR blocks in either
  VPC's info (giantswarm/aws-operator #554: CidrBlockSet empty until the connection settles).
- new_rule_not_found N: a security-group rule id that Authorize…Ingress/Egress just returned
  answers `InvalidSecurityGroupRuleId.NotFound` to the first N Revoke… calls naming it (the same
  eventual-consistency page).
- propagated {"rtb-…": [["10.2.0.0/16", "vgw-…"]]}: routes a virtual private gateway propagates
  (`Origin: EnableVgwRoutePropagation`), which moto cannot make, shown in DescribeRouteTables
  answers for that table; AWS accepts a static route to the same destination and prefers it
  (VPC user guide, "Route priority": "static routes take priority over propagated routes").
- assume_role_denied {arn: seconds}: IAM propagation. sts:AssumeRole of that role answers
  `AccessDenied` for that many seconds from when the test set the rule (IAM user guide,
  "Changes that I make are not always immediately visible": a role just made or trusted).
"""

import re
import threading
import time
from urllib.parse import parse_qs

NOT_FOUND_PCX = "InvalidVpcPeeringConnectionID.NotFound"


class Realism:
    def __init__(self):
        self._lock = threading.Lock()
        self.config = {}
        self.denied_until = {}
        self.requester_region = {}  # pcx -> region of its CreateVpcPeeringConnection
        self.not_found_left = {}  # (pcx, region, action) -> calls left that answer NotFound
        self.empty_left = {}  # (pcx, region) -> describes left without CIDRs
        self.lag_left = {}  # (pcx, region) -> describes left that read provisioning
        self.new_rules = {}  # sgr id -> revokes left that answer NotFound

    def reset(self):
        """Rules off. What AWS has made stays made: a test that resets its counts and turns the
        rules on again still meets the ids made before as new."""
        with self._lock:
            self.config = {}
            self.denied_until = {}

    def configure(self, config):
        with self._lock:
            self.config.update(config)
            now = time.time()
            for arn, seconds in config.get("assume_role_denied", {}).items():
                self.denied_until[arn] = now + seconds
            # Connections the test made itself (the other side's request, in accept mode).
            for pcx in config.get("just_created", []):
                self.requester_region.setdefault(pcx, None)

    # --- before the call reaches moto: an error reply, or None -----------------------------------
    def before(self, action, region, params):
        """(status, code, message) to answer instead of moto, or None."""
        with self._lock:
            if action == "sts:AssumeRole":
                arn = first(params, "RoleArn")
                if arn and time.time() < self.denied_until.get(arn, 0):
                    return 403, "AccessDenied", f"User: arn:aws:sts::123456789012:assumed-role/function is not authorized to perform: sts:AssumeRole on resource: {arn}"
            if action in ("ec2:DescribeVpcPeeringConnections", "ec2:AcceptVpcPeeringConnection", "ec2:DeleteVpcPeeringConnection"):
                for pcx in pcx_ids(params):
                    if self._take(self.not_found_left, (pcx, region, action), self.config.get("new_pcx_not_found", 0), pcx in self.requester_region):
                        return 400, NOT_FOUND_PCX, f"The vpcPeeringConnection ID '{pcx}' does not exist"
            if action == "ec2:ModifyVpcPeeringConnectionOptions":
                pcx = first(params, "VpcPeeringConnectionId")
                if self.config.get("accepter_lag", 0) > 0 and self.lag_left.get((pcx, region), 0) > 0:
                    return 400, "OperationNotPermitted", f"Peering {pcx} is not active. Peering options can be added only to active peerings."
            if action in ("ec2:CreateRoute", "ec2:ReplaceRoute"):
                pcx = first(params, "VpcPeeringConnectionId")
                if pcx and self.config.get("accepter_lag", 0) > 0 and self.lag_left.get((pcx, region), 0) > 0:
                    return 400, NOT_FOUND_PCX, f"The vpcPeeringConnection ID '{pcx}' does not exist"
            if action in ("ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress") and self.config.get("new_rule_not_found", 0) > 0:
                for key, values in params.items():
                    if key.startswith("SecurityGroupRuleId") and self.new_rules.get(values[0], 0) > 0:
                        self.new_rules[values[0]] -= 1
                        return 400, "InvalidSecurityGroupRuleId.NotFound", f"The security group rule ID '{values[0]}' does not exist"
        return None

    def _take(self, table, key, initial, applies):
        """Use one of the calls left under `key` (starting at `initial` where `applies`)."""
        if not applies or initial <= 0:
            return False
        left = table.setdefault(key, initial)
        if left <= 0:
            return False
        table[key] = left - 1
        return True

    # --- after moto answered: the body as AWS would have it -------------------------------------
    def after(self, action, region, params, status, body):
        if status != 200:
            return body
        text = body.decode("utf-8", errors="replace")
        with self._lock:
            if action == "ec2:CreateVpcPeeringConnection":
                for pcx in re.findall(r"<vpcPeeringConnectionId>(pcx-[0-9a-f]+)</vpcPeeringConnectionId>", text):
                    self.requester_region[pcx] = region
                return body
            if action == "ec2:AcceptVpcPeeringConnection":
                pcx = first(params, "VpcPeeringConnectionId")
                requester = self.requester_region.get(pcx) or requester_region_in(text)
                lag = self.config.get("accepter_lag", 0)
                if lag > 0 and requester and requester != region:
                    self.lag_left[(pcx, region)] = lag
                return body
            if action == "ec2:DescribeVpcPeeringConnections":
                for pcx in re.findall(r"<vpcPeeringConnectionId>(pcx-[0-9a-f]+)</vpcPeeringConnectionId>", text):
                    if self.config.get("accepter_lag", 0) > 0 and self.lag_left.get((pcx, region), 0) > 0:
                        self.lag_left[(pcx, region)] -= 1
                        text = rewrite_item(text, pcx, lambda item: re.sub(
                            r"<status><code>active</code><message>[^<]*</message></status>",
                            "<status><code>provisioning</code><message>Provisioning</message></status>", item))
                    if self._take(self.empty_left, (pcx, region), self.config.get("empty_cidrs", 0), True):
                        text = rewrite_item(text, pcx, lambda item: re.sub(
                            r"<cidrBlock>[^<]*</cidrBlock>|<cidrBlockSet>.*?</cidrBlockSet>|<cidrBlockSet/>|<ipv6CidrBlockSet>.*?</ipv6CidrBlockSet>|<ipv6CidrBlockSet/>",
                            "", item))
                return text.encode()
            if action in ("ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress"):
                n = self.config.get("new_rule_not_found", 0)
                if n > 0:
                    for rule in re.findall(r"<securityGroupRuleId>(sgr-[0-9a-f]+)</securityGroupRuleId>", text):
                        self.new_rules[rule] = n
                return body
            if action == "ec2:DescribeRouteTables" and self.config.get("propagated"):
                def propagate(item):
                    table = re.search(r"<routeTableId>(rtb-[0-9a-f]+)</routeTableId>", item)
                    routes = self.config["propagated"].get(table.group(1), []) if table else []
                    added = "".join(
                        f"<item><destinationCidrBlock>{cidr}</destinationCidrBlock><gatewayId>{vgw}</gatewayId>"
                        f"<origin>EnableVgwRoutePropagation</origin><state>active</state></item>"
                        for cidr, vgw in routes)
                    return item.replace("<routeSet>", "<routeSet>" + added, 1)
                return rewrite_items(text, "routeTableSet", propagate).encode()
        return body


def first(params, name):
    values = params.get(name)
    return values[0] if values else None


def pcx_ids(params):
    return [v[0] for k, v in params.items() if k.startswith("VpcPeeringConnectionId") and v and v[0].startswith("pcx-")]


def requester_region_in(text):
    found = re.search(r"<requesterVpcInfo>.*?<region>([^<]+)</region>.*?</requesterVpcInfo>", text, re.S)
    return found.group(1) if found else None


def rewrite_item(text, pcx, change):
    """Apply `change` to the connection `pcx` of a describe's `vpcPeeringConnectionSet`."""
    mark = f"<vpcPeeringConnectionId>{pcx}</vpcPeeringConnectionId>"
    return rewrite_items(text, "vpcPeeringConnectionSet", lambda item: change(item) if mark in item else item)


def rewrite_items(text, set_tag, change):
    """Apply `change` to each top-level `<item>` of `<set_tag>` (items nest: tagSet has its own)."""
    start = text.find(f"<{set_tag}>")
    if start < 0:
        return text
    out, depth, item_start, pos = [text[:start]], 0, None, start
    for m in re.finditer(r"<item>|</item>|</" + set_tag + ">", text[start:]):
        at = start + m.end()
        if m.group(0) == "<item>":
            if depth == 0:
                out.append(text[pos:start + m.start()])
                item_start = start + m.start()
            depth += 1
        elif m.group(0) == "</item>":
            depth -= 1
            if depth == 0:
                out.append(change(text[item_start:at]))
                pos = at
        elif depth == 0:
            break
    out.append(text[pos:])
    return "".join(out)


def query_params(path_query, body):
    """The query protocol's parameters (EC2, STS): from the body, else the URL's query."""
    params = {}
    for source in (path_query, body.decode("utf-8", errors="replace") if body else ""):
        params.update(parse_qs(source))
    return params
