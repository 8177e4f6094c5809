"""What IAM would be asked for each AWS call a function makes, recorded by the proxy.

moto never enforces IAM; AWS does. The proxy (`proxy.py --record DIR --function NAME`) hands each
signed request here; this module appends one JSON line per distinct call to
`DIR/<function>-<proxy pid>.jsonl`:

    {"function": "vpc-peering", "action": "ec2:CreateRoute", "account": "123456789012",
     "region": "us-east-1", "resources": ["arn:aws:ec2:us-east-1:123456789012:route-table/rtb-…"],
     "credential": "function", "context": {}}

- account: moto's, from the SigV4 access key: a key that `sts:AssumeRole` handed out acts as the
  role's account (learnt from the AssumeRole answer going through the proxy); any other key acts as
  moto's default account (moto.iam.models.get_account_id_from).
- credential: "assumed" for calls signed with credentials from `sts:AssumeRole` (the peering
  function acting through `PeerRoleArn`, i.e. the PEER role's permissions), else "function".
- resources: the ARNs IAM authorizes the call against, built from the request (the "Resource types"
  of each action in the Service Authorization Reference,
  https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
  `null` when this module builds none: check_iam.py accepts that only for the actions without
  resource-level permissions (check_policies.WITHOUT_RESOURCE_LEVEL) and otherwise fails, naming
  the action (teach `_RESOURCES` below). A resource being created has no id yet: it is `…/*`.
- A request with TagSpecifications also needs `ec2:CreateTags` on the new resource, with the
  condition key `ec2:CreateAction` set to the creating action (EC2 user guide, "Grant permission to
  tag Amazon EC2 resources during creation"): recorded as its own line with that `context`.

check_iam.py reads these files and checks each call against template.yaml. Pure functions below
(`call_of`, `arn_matches`, `action_matches`) are what it and its self-test use.
"""

import json
import os
import re
import threading
import xml.etree.ElementTree as ET
from fnmatch import fnmatchcase
from urllib.parse import parse_qs, urlsplit

# moto.core.DEFAULT_ACCOUNT_ID: the account of any access key moto did not hand out itself.
DEFAULT_ACCOUNT = "123456789012"
PARTITION = "aws"

# Actions IAM does not authorize at all (STS: "no permissions are required to perform this operation").
NO_PERMISSION = {"sts:GetCallerIdentity"}


def _first(params, *names):
    for name in names:
        value = params.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value:
            return str(value)
    return None


def _numbered(params, prefix):
    """Query-protocol lists: `Prefix.1`, `Prefix.2` … (and JSON lists under `prefix`)."""
    if isinstance(params.get(prefix), list):
        return [str(v) for v in params[prefix]]
    keys = sorted((k for k in params if re.fullmatch(rf"{re.escape(prefix)}\.\d+", k)), key=lambda k: int(k.rsplit(".", 1)[1]))
    return [_first(params, k) for k in keys]


def _ec2(type_, id_="*"):
    return lambda p, r, a: [f"arn:{PARTITION}:ec2:{r}:{a}:{type_}/{id_}"]


def _ec2_param(type_, *names):
    def build(p, r, a):
        value = _first(p, *names)
        return [f"arn:{PARTITION}:ec2:{r}:{a}:{type_}/{value or '*'}"]

    return build


def _ecs_name(value, default="default"):
    """A cluster given as a name or an ARN: its name."""
    if not value:
        return default
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _ecs(type_, *names, many=False):
    """ECS ids given as ARNs stay; bare ids get the cluster's long ARN format
    (`container-instance/<cluster>/<id>`, `task/<cluster>/<id>`, `service/<cluster>/<name>`).
    Without an id (ListTasks not filtered by instance), the cluster."""

    def build(p, r, a):
        given = _first(p, "cluster")
        cluster = given if given and given.startswith("arn:") else f"arn:{PARTITION}:ecs:{r}:{a}:cluster/{_ecs_name(given)}"
        ids = []
        for name in names:
            ids += _numbered(p, name) if many else [v for v in [_first(p, name)] if v]
        if type_ == "cluster" or not ids:
            return [cluster]
        name = _ecs_name(given)
        return [i if i.startswith("arn:") else f"arn:{PARTITION}:ecs:{r}:{a}:{type_}/{name}/{i}" for i in ids]

    return build


def _arn_or(service, fmt, *names):
    """The parameter if it is an ARN, else `fmt` filled with it."""

    def build(p, r, a):
        value = _first(p, *names) or "*"
        return [value if value.startswith("arn:") else f"arn:{PARTITION}:{service}:{r}:{a}:{fmt.format(value)}"]

    return build


def _queue(p, r, a):
    # https://sqs.<region>.amazonaws.com/<account>/<name> (moto: http://127.0.0.1:<port>/<account>/<name>)
    url = urlsplit(_first(p, "QueueUrl") or "")
    parts = [s for s in url.path.split("/") if s]
    host = re.match(r"^sqs\.([a-z0-9-]+)\.", url.hostname or "")
    account, name = (parts[0], parts[1]) if len(parts) >= 2 else (a, parts[-1] if parts else "*")
    return [f"arn:{PARTITION}:sqs:{host.group(1) if host else r}:{account}:{name}"]


def _log_stream(p, r, a):
    group = _first(p, "logGroupIdentifier", "logGroupName") or "*"
    stream = _first(p, "logStreamName") or "*"
    if group.startswith("arn:"):
        return [f"{group.removesuffix(':*')}:log-stream:{stream}"]
    return [f"arn:{PARTITION}:logs:{r}:{a}:log-group:{group}:log-stream:{stream}"]


def _secret(p, r, a):
    value = _first(p, "SecretId") or "*"
    # A name stands for the secret's full ARN, which ends in `-` and six random characters.
    return [value if value.startswith("arn:") else f"arn:{PARTITION}:secretsmanager:{r}:{a}:secret:{value}-??????"]


def _accept(p, r, a, peerings):
    pcx = _first(p, "VpcPeeringConnectionId") or "*"
    # The accepter VPC (this account's) and the connection; the VPC is known once the connection
    # was seen in an answer (Create, Describe) through this proxy.
    out = [f"arn:{PARTITION}:ec2:{r}:{a}:vpc-peering-connection/{pcx}"]
    vpc = peerings.get(pcx, {}).get("accepter")
    return out + ([f"arn:{PARTITION}:ec2:{r}:{a}:vpc/{vpc}"] if vpc else [])


# action -> (params, region, account) -> [ARN]; the resource types of the Service Authorization
# Reference ("Actions, resources, and condition keys for Amazon EC2" etc.) for the calls made here.
_RESOURCES = {
    "ec2:CreateRoute": _ec2_param("route-table", "RouteTableId"),
    "ec2:DeleteRoute": _ec2_param("route-table", "RouteTableId"),
    "ec2:ReplaceRoute": _ec2_param("route-table", "RouteTableId"),
    # The VPC resource of CreateVpcPeeringConnection is always the requester VPC (VPC peering
    # guide, "Identity and access management for VPC peering"); the new connection has no id yet.
    "ec2:CreateVpcPeeringConnection": lambda p, r, a: _ec2_param("vpc", "VpcId")(p, r, a) + _ec2("vpc-peering-connection")(p, r, a),
    "ec2:ModifyVpcPeeringConnectionOptions": _ec2_param("vpc-peering-connection", "VpcPeeringConnectionId"),
    "ec2:DeleteVpcPeeringConnection": _ec2_param("vpc-peering-connection", "VpcPeeringConnectionId"),
    "ec2:RejectVpcPeeringConnection": _ec2_param("vpc-peering-connection", "VpcPeeringConnectionId"),
    "ec2:DescribeVpcAttribute": _ec2_param("vpc", "VpcId"),
    # A prefix list's owner is not in the request (a route names only its id) and is often not this
    # account (AWS-managed lists are owned by `aws`; others may be shared through RAM): any owner.
    "ec2:GetManagedPrefixListEntries": lambda p, r, a: _ec2_param("prefix-list", "PrefixListId")(p, r, "*"),
    "ec2:AuthorizeSecurityGroupIngress": lambda p, r, a: _ec2_param("security-group", "GroupId")(p, r, a) + _ec2("security-group-rule")(p, r, a),
    "ec2:AuthorizeSecurityGroupEgress": lambda p, r, a: _ec2_param("security-group", "GroupId")(p, r, a) + _ec2("security-group-rule")(p, r, a),
    "ec2:RevokeSecurityGroupIngress": _ec2_param("security-group", "GroupId"),
    "ec2:RevokeSecurityGroupEgress": _ec2_param("security-group", "GroupId"),
    "ecs:ListContainerInstances": _ecs("cluster"),
    "ecs:DescribeContainerInstances": _ecs("container-instance", "containerInstances", many=True),
    "ecs:UpdateContainerInstancesState": _ecs("container-instance", "containerInstances", many=True),
    # ListTasks takes the `container-instance` type when filtered by one, else the cluster.
    "ecs:ListTasks": _ecs("container-instance", "containerInstance"),
    "ecs:DescribeTasks": _ecs("task", "tasks", many=True),
    "ecs:StopTask": _ecs("task", "task"),
    "ecs:DescribeServices": _ecs("service", "services", many=True),
    "autoscaling:CompleteLifecycleAction": _arn_or("autoscaling", "autoScalingGroup:*:autoScalingGroupName/{}", "AutoScalingGroupName"),
    "autoscaling:RecordLifecycleActionHeartbeat": _arn_or("autoscaling", "autoScalingGroup:*:autoScalingGroupName/{}", "AutoScalingGroupName"),
    "sqs:SendMessage": _queue,
    "sqs:ReceiveMessage": _queue,
    "sqs:DeleteMessage": _queue,
    "sqs:GetQueueAttributes": _queue,
    "sns:Publish": lambda p, r, a: [_first(p, "TopicArn", "TargetArn") or f"arn:{PARTITION}:sns:{r}:{a}:*"],
    "secretsmanager:GetSecretValue": _secret,
    "dynamodb:UpdateItem": _arn_or("dynamodb", "table/{}", "TableName"),
    "dynamodb:GetItem": _arn_or("dynamodb", "table/{}", "TableName"),
    "dynamodb:PutItem": _arn_or("dynamodb", "table/{}", "TableName"),
    "logs:GetLogEvents": _log_stream,
    "sts:AssumeRole": lambda p, r, a: [_first(p, "RoleArn") or "*"],
    "kms:Decrypt": _arn_or("kms", "key/{}", "KeyId"),
    "kms:GenerateDataKey": _arn_or("kms", "key/{}", "KeyId"),
}


def parse_params(path, headers, body):
    """The request's parameters: query string and form body (query protocols), or the JSON body."""
    params = {k: v for k, v in parse_qs(urlsplit(path).query).items()}
    text = body.decode("utf-8", errors="replace") if body else ""
    content_type = headers.get("Content-Type", "") or ""
    if "json" in content_type or headers.get("X-Amz-Target"):
        try:
            loaded = json.loads(text or "{}")
            if isinstance(loaded, dict):
                params.update(loaded)
        except ValueError:
            pass
    else:
        params.update(parse_qs(text))
    return params


def credential_of(headers):
    """(access key, region) from the SigV4 Authorization header, or (None, None) if unsigned."""
    match = re.search(r"Credential=([^/]+)/[^/]+/([^/]+)/", headers.get("Authorization", "") or "")
    return (match.group(1), match.group(2)) if match else (None, None)


def call_of(action, params, region, account, credential, function, peerings=None):
    """The records one call makes: the call itself, plus `ec2:CreateTags` for TagSpecifications."""
    peerings = peerings or {}
    if action in NO_PERMISSION:
        return []
    if action == "ec2:AcceptVpcPeeringConnection":
        resources = _accept(params, region, account, peerings)
    elif action in _RESOURCES:
        resources = _RESOURCES[action](params, region, account)
    else:
        resources = None  # no resource-level permissions (check_policies' list), or not known here
    base = {"function": function, "account": account, "region": region, "credential": credential}
    out = [dict(base, action=action, resources=resources, context={})]
    verb = action.split(":", 1)[1]
    for i in range(1, 10):
        type_ = _first(params, f"TagSpecification.{i}.ResourceType")
        if not type_:
            break
        arn = f"arn:{PARTITION}:ec2:{region}:{account}:{type_}/*"
        out.append(dict(base, action="ec2:CreateTags", resources=[arn], context={"ec2:CreateAction": verb}))
    return out


def _glob(pattern, text):
    """IAM's wildcards: `*` any run of characters, `?` one; nothing else is special."""
    return fnmatchcase(text, pattern.replace("[", "[[]"))


def arn_matches(pattern, arn):
    """Does a policy Resource pattern cover this ARN? Partition, service, region and account are
    matched each on its own (a wildcard does not cross their `:`); the resource part as a whole
    (IAM user guide, "IAM JSON policy elements: Resource")."""
    if pattern == "*":
        return True
    if arn == "*":
        return False
    p, a = pattern.split(":", 5), arn.split(":", 5)
    if len(p) != 6 or len(a) != 6:
        return _glob(pattern, arn)
    return all(_glob(x, y) for x, y in zip(p[:5], a[:5])) and _glob(p[5], a[5])


def action_matches(pattern, action):
    """Policy Action patterns: case-insensitive, with `*` and `?` (`kms:GenerateDataKey*`)."""
    return _glob(pattern.lower(), action.lower())


def _strip(tag):
    return tag.rsplit("}", 1)[-1]


def peerings_in(xml_text):
    """pcx id -> {"accepter": vpc id, "requester": vpc id} from an EC2 answer that lists connections."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return {}
    found = {}
    for element in root.iter():
        children = {_strip(c.tag): c for c in element}
        if "vpcPeeringConnectionId" in children and "accepterVpcInfo" in children:
            info = {}
            for side in ("accepter", "requester"):
                vpc = next((c.text for c in children[f"{side}VpcInfo"] if _strip(c.tag) == "vpcId"), None)
                if vpc:
                    info[side] = vpc
            found[children["vpcPeeringConnectionId"].text] = info
    return found


# access key -> account of the role that sts:AssumeRole handed it out for: learnt from every
# AssumeRole answer through the proxy, recording or not (rates.py keys its buckets by account).
_assumed = {}
_assumed_lock = threading.Lock()


def learn_assumed(params, status, body):
    """An sts:AssumeRole answer: its access key acts as the role's account (moto keeps the key in
    that account's IAM backend: moto.iam.models.get_account_id_from)."""
    if not (200 <= status < 300):
        return
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
    key = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", text)
    role = re.match(r"^arn:[^:]+:iam::(\d{12}):", _first(params, "RoleArn") or "")
    if key and role:
        with _assumed_lock:
            _assumed[key.group(1)] = role.group(1)


def assumed_account(key):
    """The account of an access key AssumeRole handed out through this proxy, else None."""
    with _assumed_lock:
        return _assumed.get(key)


def account_of(headers):
    """The account a request acts as, as moto decides it (moto.core.responses.get_current_account):
    the `x-moto-account-id` header, else an AssumeRole key's account, else moto's default."""
    if headers.get("x-moto-account-id"):
        return headers.get("x-moto-account-id")
    key, _ = credential_of(headers)
    return (key and assumed_account(key)) or DEFAULT_ACCOUNT


class Recorder:
    """The proxy's side: one per proxy process, shared by its handler threads."""

    def __init__(self, directory, function):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, f"{function}-{os.getpid()}.jsonl")
        self.function = function
        self.lock = threading.Lock()
        self.peerings = {}
        self.written = set()

    def request(self, action, path, headers, body):
        """Record a call; returns what `reply` needs to learn from its answer."""
        key, region = credential_of(headers)
        if key is None:
            return None
        params = parse_params(path, headers, body)
        account = assumed_account(key)
        with self.lock:
            peerings = dict(self.peerings)
        credential = "assumed" if account else "function"
        try:
            calls = call_of(action, params, region, account or DEFAULT_ACCOUNT, credential, self.function, peerings)
        except Exception as e:  # a request this module cannot read must not break the test's proxy
            base = {"function": self.function, "account": account or DEFAULT_ACCOUNT, "region": region, "credential": credential}
            calls = [dict(base, action=action, resources=None, context={}, error=f"{type(e).__name__}: {e}")]
        lines = []
        with self.lock:
            for call in calls:
                line = json.dumps(call, sort_keys=True)
                if line not in self.written:
                    self.written.add(line)
                    lines.append(line)
            if lines:
                # Again each time: `make test` may have cleared the directory since this proxy started.
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as out:
                    out.write("".join(line + "\n" for line in lines))
        return (action, params)

    def reply(self, pending, status, body):
        """Learn from an answer: AssumeRole's credentials, the VPCs of peering connections."""
        if not pending or not (200 <= status < 300):
            return
        action, params = pending
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
        if action == "sts:AssumeRole":
            learn_assumed(params, status, body)
        with self.lock:
            if "VpcPeeringConnection" in action:
                for pcx, info in peerings_in(text).items():
                    self.peerings.setdefault(pcx, {}).update(info)


_recorder = None


def configure(directory, function):
    """Called once by proxy.py's main with its `--record` and `--function` (no-op without)."""
    global _recorder
    if directory:
        _recorder = Recorder(directory, function or "unknown")


def request(handler, action, body):
    """proxy.py, per AWS request: record it (kept on the handler for `reply`). An AssumeRole is
    kept for `reply` with or without `--record`: its answer's key says which account acts."""
    if _recorder:
        handler.iam_pending = _recorder.request(action, handler.path, handler.headers, body)
    elif action == "sts:AssumeRole":
        handler.iam_pending = (action, parse_params(handler.path, handler.headers, body))
    else:
        handler.iam_pending = None


def reply(handler, status, body):
    """proxy.py, per answer it sends: learn from it."""
    pending, handler.iam_pending = getattr(handler, "iam_pending", None), None
    if _recorder and pending:
        _recorder.reply(pending, status, body)
    elif pending and pending[0] == "sts:AssumeRole":
        learn_assumed(pending[1], status, body)
