"""IAM as AWS would enforce it, checked against what the tests saw each function call (moto never
enforces IAM): run by `make test` after `cargo test`.

    python check_iam.py [--require-all] [--region us-east-1] template.yaml target/iam-calls/
    python check_iam.py --self-test

The proxy records every AWS call of each function (tests/servers/iam_calls.py: action, account,
region, the ARNs IAM authorizes it against). Each call must be allowed by its function's role in
template.yaml, found by the function's `Metadata.BuildProperties.Binary` (its `Policies`, or the
`AWS::IAM::Role` its `Role` names). Calls made with credentials from `sts:AssumeRole` (the peering
function in the peer account) are the PEER role's: they are checked against the role documented in
README.md (`VpcPeeringAccepterRole`, "Cross-account with a peer role"), which is therefore the list
of what that role needs. `cr-probe` is test-only and not in the template: its calls are skipped.

How statements are read (an over-approximation only where said):
- `!If [c, a, b]`: both branches are possible; a call is allowed if some branch allows it (each
  `!If` counts as both at once). `!Ref AWS::NoValue`: no statement (or no value).
- `!Sub`: `${AWS::Partition}` is `aws`, `${AWS::AccountId}` the account of the call's credentials
  (moto's accounts), `${AWS::Region}` the stack's region (`--region`, the tests' AWS_REGION) for the
  function's role and `*` for the peer role; other `${…}` are `*`.
- `!Ref <Parameter>`: any ARN matching the parameter's AllowedPattern (e.g. `AlertTopicArn`: any SNS
  topic ARN); without one (`PeerRoleArns`), any ARN. `!GetAtt X.Arn`: any ARN of X's resource type
  in the stack's account and region (any queue, any table): the template's own resources are not
  told apart.
- Action wildcards (`kms:GenerateDataKey*`) and IAM's ARN globbing (`*`, `?`); actions with no
  resource-level permissions (check_policies.WITHOUT_RESOURCE_LEVEL) need a statement with
  `Resource: "*"`. Every resource of a call must be allowed (an EC2 create authorizes several).
- Conditions are checked only for keys the call supplies (`ec2:CreateAction` of tag-on-create);
  others cannot be known here and are taken as met. Deny statements deny in any branch.

Prints one summary line, or one line per call no statement allows (with the Sids looked at) and
exits 1.
"""

import argparse
import glob
import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
# The proxy's records are read back with the proxy's own module (tests/servers/iam_calls.py).
sys.path[:0] = [HERE, os.path.join(HERE, "..", "servers")]
from check_policies import WITHOUT_RESOURCE_LEVEL  # noqa: E402
from iam_calls import action_matches, arn_matches, call_of  # noqa: E402

TEST_ONLY = {"cr-probe"}
PEER_ROLE = "VpcPeeringAccepterRole"  # in README.md; the role PeerRoleArn names
ASSUMING = {"vpc-peering"}  # functions whose assumed calls are the peer role's

# The ARN of a template resource of each type, for `!GetAtt X.Arn` ({P} partition, {R} region, {A} account).
ARN_OF_TYPE = {
    "AWS::SQS::Queue": "arn:{P}:sqs:{R}:{A}:*",
    "AWS::DynamoDB::Table": "arn:{P}:dynamodb:{R}:{A}:table/*",
    "AWS::SNS::Topic": "arn:{P}:sns:{R}:{A}:*",
    "AWS::KMS::Key": "arn:{P}:kms:{R}:{A}:key/*",
    "AWS::SecretsManager::Secret": "arn:{P}:secretsmanager:{R}:{A}:secret:*",
    "AWS::Logs::LogGroup": "arn:{P}:logs:{R}:{A}:log-group:*",
    "AWS::Lambda::Function": "arn:{P}:lambda:{R}:{A}:function:*",
    "AWS::Serverless::Function": "arn:{P}:lambda:{R}:{A}:function:*",
    "AWS::IAM::Role": "arn:{P}:iam::{A}:role/*",
    "AWS::Events::Rule": "arn:{P}:events:{R}:{A}:rule/*",
}
# Types whose `!Ref` is their ARN (CloudFormation's "Return values" of each).
REF_IS_ARN = {"AWS::SNS::Topic", "AWS::SecretsManager::Secret", "AWS::IAM::ManagedPolicy"}


class Loader(yaml.SafeLoader):
    """CloudFormation's short forms as their long forms: `!Sub x` -> {"Fn::Sub": x}, `!Ref x` -> {"Ref": x}."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


Loader.add_multi_constructor("!", _intrinsic)


class Env:
    """What a template's values mean for one call: parameters, resources, pseudo parameters."""

    def __init__(self, template, account, region, partition="aws"):
        self.parameters = template.get("Parameters", {}) or {}
        self.resources = template.get("Resources", {}) or {}
        self.pseudo = {"AWS::Partition": partition, "AWS::AccountId": account, "AWS::Region": region,
                       "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "*", "AWS::StackId": "*"}
        self.notes = set()

    def type_arn(self, name):
        kind = (self.resources.get(name) or {}).get("Type")
        if kind not in ARN_OF_TYPE:
            self.notes.add(f"the ARN of {name} ({kind or 'not in the template'}) is taken as any ARN")
            return "*"
        p, r, a = (self.pseudo[k] for k in ("AWS::Partition", "AWS::Region", "AWS::AccountId"))
        return ARN_OF_TYPE[kind].format(P=p, R=r, A=a)


class Pattern:
    """A Resource value that is not a plain glob: a parameter's AllowedPattern."""

    def __init__(self, text, regex=None):
        self.text, self.regex = text, regex

    def matches(self, arn):
        return arn != "*" and (self.regex is None or re.search(self.regex, arn) is not None)

    def __repr__(self):
        return self.text


def alternatives(expr, env):
    """Every value `expr` may take (a list's values flattened; both branches of each `!If`)."""
    if isinstance(expr, list):
        return [v for item in expr for v in alternatives(item, env)]
    if not isinstance(expr, dict) or len(expr) != 1:
        return [expr]
    (fn, arg), = expr.items()
    if fn == "Ref":
        if arg == "AWS::NoValue":
            return []
        if arg in env.pseudo:
            return [env.pseudo[arg]]
        if arg in env.parameters:
            pattern = (env.parameters[arg] or {}).get("AllowedPattern")
            if pattern is None:
                env.notes.add(f"!Ref {arg} (no AllowedPattern) is taken as any ARN")
            return [Pattern(f"!Ref {arg}", pattern)]
        kind = (env.resources.get(arg) or {}).get("Type")
        if kind in REF_IS_ARN:
            return [env.type_arn(arg)]
        return [Pattern(f"!Ref {arg} (its {kind} name, not an ARN)", r"(?!)")]
    if fn == "Fn::If":
        return alternatives(arg[1], env) + alternatives(arg[2], env)
    if fn == "Fn::GetAtt":
        name, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
        return [env.type_arn(name) if attribute == "Arn" else "*"]
    if fn == "Fn::Sub":
        text, names = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})

        def one(match):
            key = match.group(1)
            if key in names:
                got = [v for v in alternatives(names[key], env) if isinstance(v, str)]
                return got[0] if got else "*"
            if key in env.pseudo:
                return env.pseudo[key]
            if key.endswith(".Arn"):
                return env.type_arn(key[:-4])
            return "*"

        return [re.sub(r"\$\{([^}!]+)\}", one, text)]
    if fn == "Fn::Join":
        parts = [alternatives(p, env) for p in arg[1]]
        return [arg[0].join(p[0] if p and isinstance(p[0], str) else "*" for p in parts)]
    return [expr]


def statements(document, env):
    """The statements of a policy document, each `!If` branch one possibility."""
    body = document.get("Statement", []) if isinstance(document, dict) else []
    return [s for s in alternatives(body, env) if isinstance(s, dict)]


def _condition_met(condition, context, env):
    for operator, keys in (condition or {}).items():
        op = operator.split(":")[-1].removesuffix("IfExists")
        negate = "Not" in op
        op = op.replace("Not", "")
        for key, wanted in (keys or {}).items():
            if key not in context:
                continue  # not known here: taken as met
            values = [v for v in alternatives(wanted, env) if isinstance(v, str)]
            have = context[key]
            if op in ("StringEquals", "ArnEquals"):
                hit = any(have == v for v in values) if op == "StringEquals" else any(arn_matches(v, have) for v in values)
            elif op == "StringEqualsIgnoreCase":
                hit = any(have.lower() == v.lower() for v in values)
            elif op in ("StringLike", "ArnLike"):
                hit = any(action_matches(v, have) if op == "StringLike" else arn_matches(v, have) for v in values)
            else:
                continue
            if hit == negate:
                return False
    return True


def _covers(values, resource):
    return any(v.matches(resource) if isinstance(v, Pattern) else arn_matches(str(v), resource) for v in values)


def label(statement, index):
    return statement.get("Sid") or f"statement {index + 1}"


def decide(stmts, action, resources, context, env):
    """(allowed, Sids with the action, resources not allowed) for one call: every resource must be
    allowed by some Allow statement, and none denied by a Deny."""
    with_action, allowed = [], {r: False for r in resources}
    for i, s in enumerate(stmts):
        actions = alternatives(s.get("Action", []), env)
        if "NotAction" in s:
            has = not any(action_matches(str(a), action) for a in alternatives(s["NotAction"], env))
        else:
            has = any(action_matches(str(a), action) for a in actions)
        if not has:
            continue
        if not _condition_met(s.get("Condition"), context, env):
            with_action.append(f"{label(s, i)} (its Condition does not hold)")
            continue
        with_action.append(label(s, i))
        for r in resources:
            if "NotResource" in s:
                hit = not _covers(alternatives(s["NotResource"], env), r)
            else:
                hit = _covers(alternatives(s.get("Resource", []), env), r)
            if hit and s.get("Effect") == "Deny":
                return False, with_action, [r]
            if hit and s.get("Effect") == "Allow":
                allowed[r] = True
    missing = [r for r, ok in allowed.items() if not ok]
    return not missing, with_action, missing


def role_documents(template, function, notes):
    """(resource name, [policy document]) of the role of the function that builds `function`."""
    resources = template.get("Resources", {}) or {}
    for name, res in resources.items():
        build = ((res.get("Metadata") or {}).get("BuildProperties") or {})
        if res.get("Type") != "AWS::Serverless::Function" or build.get("Binary") != function:
            continue
        props = res.get("Properties", {}) or {}
        docs = []
        policies = props.get("Policies", []) or []
        for policy in policies if isinstance(policies, list) else [policies]:
            if isinstance(policy, dict) and "Statement" in policy:
                docs.append(policy)
            elif isinstance(policy, dict) and "Fn::If" in policy:
                docs += [p for p in policy["Fn::If"][1:] if isinstance(p, dict) and "Statement" in p]
            else:
                notes.add(f"{name}: policy {json.dumps(policy)} (managed or a SAM template) is not evaluated")
        role = props.get("Role")
        if isinstance(role, dict):
            target = (role.get("Fn::GetAtt") or [role.get("Ref")])[0]
            role_res = resources.get(target, {})
            for policy in (role_res.get("Properties", {}) or {}).get("Policies", []) or []:
                docs.append(policy.get("PolicyDocument", {}))
            for other in resources.values():
                roles = (other.get("Properties", {}) or {}).get("Roles", []) or []
                if other.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": target} in roles:
                    docs.append(other["Properties"].get("PolicyDocument", {}))
        return name, docs
    return None, []


def peer_role(readme_text):
    """The peer role documented in README.md: its policy documents, and the template it sits in."""
    for block in re.findall(r"```yaml\n(.*?)```", readme_text, re.S):
        if re.search(rf"^\s*{PEER_ROLE}:", block, re.M):
            lines = block.splitlines()
            indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
            doc = yaml.load("\n".join(line[indent:] for line in lines), Loader=Loader)
            props = doc[PEER_ROLE].get("Properties", {})
            return [p.get("PolicyDocument", {}) for p in props.get("Policies", [])], {"Resources": doc}
    return None, {}


def load_calls(directory):
    calls = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.jsonl"))):
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    call = json.loads(line)
                    key = json.dumps(call, sort_keys=True)
                    calls[key] = call
    return list(calls.values())


def check(template, readme_text, calls, region):
    """(problems, summary facts) for the calls against the template (and the README's peer role)."""
    problems, notes, checked, functions, skipped, denied = [], set(), 0, set(), set(), {}
    peer_docs, peer_template = peer_role(readme_text)
    for call in sorted(calls, key=lambda c: (c["function"], c["credential"], c["action"], c["resources"] or [])):
        function, action, account = call["function"], call["action"], call["account"]
        if function in TEST_ONLY:
            skipped.add(function)
            continue
        if call["credential"] == "assumed":
            if function not in ASSUMING or peer_docs is None:
                problems.append(f"{function} calls {action} with assumed credentials, and README.md documents no role for that ({PEER_ROLE})")
                continue
            env, docs, whose = Env(peer_template, account, "*"), peer_docs, f"README.md's {PEER_ROLE} (peer account {account})"
        else:
            name, docs = role_documents(template, function, notes)
            if name is None:
                problems.append(f"{function}: no AWS::Serverless::Function in the template builds it (Metadata.BuildProperties.Binary)")
                continue
            env, whose = Env(template, account, region), f"{name}'s role"
        functions.add(function)
        resources = call["resources"]
        if call.get("error"):
            problems.append(f"{function} calls {action}: iam_calls.py could not read the request ({call['error']}): fix it there")
            continue
        if resources is None:
            if action not in WITHOUT_RESOURCE_LEVEL:
                problems.append(f"{function} calls {action}: iam_calls.py does not know the resource it acts on; add it to _RESOURCES there (or to check_policies.WITHOUT_RESOURCE_LEVEL if the Service Authorization Reference lists no resource type for it)")
                continue
            resources = ["*"]
        stmts = [s for d in docs for s in statements(d, env)]
        ok, looked, missing = decide(stmts, action, resources, call.get("context") or {}, env)
        notes |= env.notes
        checked += 1
        if not ok:
            if looked:
                why = f"its statements with {action} ({', '.join(looked)}) do not cover it"
            else:
                why = f"none of its statements ({', '.join(label(s, i) for i, s in enumerate(stmts))}) has {action}"
            context = f" with {call['context']}" if call.get("context") else ""
            denied.setdefault((function, action, context, whose, why), []).extend(missing)
    for (function, action, context, whose, why), missing in denied.items():
        missing = sorted(set(missing))
        more = f" (and {len(missing) - 2} more)" if len(missing) > 2 else ""
        problems.append(f"{function} calls {action} on {', '.join(missing[:2])}{more}{context}, which {whose} does not allow: {why}")
    return problems, {"checked": checked, "functions": functions, "skipped": skipped, "notes": notes}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("template", nargs="?", default="template.yaml")
    parser.add_argument("calls", nargs="?", default="target/iam-calls")
    parser.add_argument("--readme", help="where the peer role is documented (default: README.md beside the template)")
    parser.add_argument("--region", default="us-east-1", help="${AWS::Region} of the stack (the tests' AWS_REGION)")
    parser.add_argument("--require-all", action="store_true", help="fail unless every function of the template was seen")
    parser.add_argument("--verbose", action="store_true", help="print how values were read")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args(argv)
    if args.self_test:
        return self_test()
    template = yaml.load(open(args.template, encoding="utf-8"), Loader=Loader)
    readme = args.readme or os.path.join(os.path.dirname(os.path.abspath(args.template)), "README.md")
    readme_text = open(readme, encoding="utf-8").read() if os.path.exists(readme) else ""
    calls = load_calls(args.calls)
    if not calls:
        print(f"iam check: no calls recorded in {args.calls}: run the tests first (cargo test)")
        return 1
    problems, facts = check(template, readme_text, calls, args.region)
    built = {((r.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary") for r in template.get("Resources", {}).values()} - {None}
    missing = sorted(built - facts["functions"])
    if args.require_all and missing:
        problems.append(f"no calls recorded for {', '.join(missing)}: does its rig start its proxy with Proxy::start_for?")
    for problem in dict.fromkeys(problems):
        print(f"iam check: {problem}")
    if args.verbose or problems:
        for note in sorted(facts["notes"]):
            print(f"iam check: note: {note}")
    if problems:
        return 1
    assumed = sum(1 for c in calls if c["credential"] == "assumed")
    skipped = f"; skipped {', '.join(sorted(facts['skipped']))} (test-only)" if facts["skipped"] else ""
    print(
        f"iam check: {len(facts['functions'])} functions, {facts['checked']} distinct calls"
        f" ({assumed} through the peer role), all allowed by {os.path.basename(args.template)}"
        f" and README.md's {PEER_ROLE}{skipped}"
    )
    return 0


SELF_TEST_TEMPLATE = """
Parameters:
  TopicArn: {Type: String, Default: "", AllowedPattern: "^(arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+)?$"}
  KeyArn: {Type: String, Default: ""}
  RoleArns: {Type: CommaDelimitedList, Default: ""}
Resources:
  Queue: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fn}}
    Properties:
      Policies:
        - Statement:
            - Sid: Describe
              Effect: Allow
              Action: [ec2:DescribeVpcs]
              Resource: "*"
            - Sid: Routes
              Effect: Allow
              Action: [ec2:CreateRoute, ec2:ReplaceRoute]
              Resource: !Sub "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:route-table/*"
            - Sid: Tags
              Effect: Allow
              Action: ec2:CreateTags
              Resource: !Sub "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:vpc-peering-connection/*"
              Condition: {StringEquals: {ec2:CreateAction: CreateVpcPeeringConnection}}
            - !If [HasTopic, {Sid: Publish, Effect: Allow, Action: sns:Publish, Resource: !Ref TopicArn}, !Ref AWS::NoValue]
            - !If [HasKey, {Sid: Key, Effect: Allow, Action: ["kms:GenerateDataKey*", kms:Decrypt], Resource: !Ref KeyArn}, !Ref AWS::NoValue]
            - Sid: Queue
              Effect: Allow
              Action: sqs:SendMessage
              Resource: !GetAtt Queue.Arn
            - Sid: Assume
              Effect: Allow
              Action: sts:AssumeRole
              Resource: !Ref RoleArns
"""

SELF_TEST_README = """
```yaml
  VpcPeeringAccepterRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyDocument:
            Statement:
              - Sid: PeerRoutes
                Effect: Allow
                Action: ec2:CreateRoute
                Resource: !Sub "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:route-table/*"
```
"""


def self_test():
    """The matcher, the request parsing and the template reading, table-tested (make test runs it)."""
    import tempfile

    from iam_calls import Recorder, parse_params, peerings_in

    a, peer, results = "123456789012", "222222222222", []

    def case(name, got, want):
        results.append((name, got == want, got, want))

    for pattern, arn, want in [
        ("arn:aws:ec2:*:123456789012:route-table/*", "arn:aws:ec2:eu-west-1:123456789012:route-table/rtb-1", True),
        ("arn:aws:ec2:*:123456789012:route-table/*", "arn:aws:ec2:eu-west-1:222222222222:route-table/rtb-1", False),
        ("arn:aws:ec2:*:123456789012:route-table/*", "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1", False),
        ("arn:aws:logs:*:1*:log-group:*:log-stream:*", "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/a:log-stream:ecs/a/1", True),
        ("arn:aws:secretsmanager:*:*:secret:hook-??????", "arn:aws:secretsmanager:us-east-1:1:secret:hook-AbC123", True),
        ("arn:aws:secretsmanager:*:*:secret:hook-??????", "arn:aws:secretsmanager:us-east-1:1:secret:hook-AbC12", False),
        ("arn:aws:ec2:*:*:vpc/*", "*", False),
        ("*", "*", True),
        ("arn:aws:iam::*:role/*", "arn:aws:iam::222222222222:role/peering", True),
    ]:
        case(f"arn_matches({pattern}, {arn})", arn_matches(pattern, arn), want)
    for pattern, action, want in [
        ("kms:GenerateDataKey*", "kms:GenerateDataKeyWithoutPlaintext", True),
        ("ec2:createroute", "ec2:CreateRoute", True),
        ("ec2:CreateRoute", "ec2:CreateRoutes", False),
    ]:
        case(f"action_matches({pattern}, {action})", action_matches(pattern, action), want)

    def resources(action, params, peerings=None):
        return [c["resources"] for c in call_of(action, params, "us-east-1", a, "function", "fn", peerings)]

    rtb = f"arn:aws:ec2:us-east-1:{a}:route-table/rtb-1"
    case("CreateRoute", resources("ec2:CreateRoute", {"RouteTableId": ["rtb-1"]}), [[rtb]])
    create = call_of("ec2:CreateVpcPeeringConnection", {"VpcId": ["vpc-1"], "TagSpecification.1.ResourceType": ["vpc-peering-connection"]}, "us-east-1", a, "function", "fn")
    case("Create + tag on create", [(c["action"], c["resources"], c["context"]) for c in create], [
        ("ec2:CreateVpcPeeringConnection", [f"arn:aws:ec2:us-east-1:{a}:vpc/vpc-1", f"arn:aws:ec2:us-east-1:{a}:vpc-peering-connection/*"], {}),
        ("ec2:CreateTags", [f"arn:aws:ec2:us-east-1:{a}:vpc-peering-connection/*"], {"ec2:CreateAction": "CreateVpcPeeringConnection"}),
    ])
    case("Accept names the accepter VPC once seen", resources("ec2:AcceptVpcPeeringConnection", {"VpcPeeringConnectionId": ["pcx-1"]}, {"pcx-1": {"accepter": "vpc-2"}}),
         [[f"arn:aws:ec2:us-east-1:{a}:vpc-peering-connection/pcx-1", f"arn:aws:ec2:us-east-1:{a}:vpc/vpc-2"]])
    case("DescribeTasks by id", resources("ecs:DescribeTasks", {"cluster": "prod", "tasks": ["t1", f"arn:aws:ecs:us-east-1:{a}:task/prod/t2"]}),
         [[f"arn:aws:ecs:us-east-1:{a}:task/prod/t1", f"arn:aws:ecs:us-east-1:{a}:task/prod/t2"]])
    case("ListTasks by instance", resources("ecs:ListTasks", {"cluster": "prod", "containerInstance": "ci"}), [[f"arn:aws:ecs:us-east-1:{a}:container-instance/prod/ci"]])
    case("SendMessage", resources("sqs:SendMessage", {"QueueUrl": f"http://127.0.0.1:5/{a}/q"}), [[f"arn:aws:sqs:us-east-1:{a}:q"]])
    case("GetLogEvents", resources("logs:GetLogEvents", {"logGroupName": "/ecs/a", "logStreamName": "s"}), [[f"arn:aws:logs:us-east-1:{a}:log-group:/ecs/a:log-stream:s"]])
    case("secret by name", resources("secretsmanager:GetSecretValue", {"SecretId": "hook"}), [[f"arn:aws:secretsmanager:us-east-1:{a}:secret:hook-??????"]])
    case("an action not known here", resources("ec2:DescribeVpcs", {}), [None])
    json_body = parse_params("/", {"X-Amz-Target": "DynamoDB_20120810.UpdateItem", "Content-Type": "application/x-amz-json-1.0"}, b'{"TableName": "t"}')
    case("UpdateItem (a JSON body)", resources("dynamodb:UpdateItem", json_body), [[f"arn:aws:dynamodb:us-east-1:{a}:table/t"]])
    query_body = parse_params("/", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At")
    case("Publish (a query body)", resources("sns:Publish", query_body), [["arn:aws:sns:us-east-1:1:t"]])
    xml = ('<DescribeVpcPeeringConnectionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><vpcPeeringConnectionSet><item>'
           "<accepterVpcInfo><ownerId>2</ownerId><vpcId>vpc-2</vpcId></accepterVpcInfo><requesterVpcInfo><vpcId>vpc-1</vpcId></requesterVpcInfo>"
           "<vpcPeeringConnectionId>pcx-1</vpcPeeringConnectionId></item></vpcPeeringConnectionSet></DescribeVpcPeeringConnectionsResponse>")
    case("peerings_in", peerings_in(xml), {"pcx-1": {"accepter": "vpc-2", "requester": "vpc-1"}})

    with tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(tmp, "vpc-peering")
        auth = lambda key, region: {"Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20260101/{region}/ec2/aws4_request, SignedHeaders=host"}
        assume = recorder.request("sts:AssumeRole", "/", auth("testing", "us-east-1"), f"Action=AssumeRole&RoleArn=arn:aws:iam::{peer}:role/p".encode())
        recorder.reply(assume, 200, b"<AssumeRoleResult><Credentials><AccessKeyId>ASIAPEER</AccessKeyId></Credentials></AssumeRoleResult>")
        recorder.request("ec2:CreateRoute", "/", auth("ASIAPEER", "eu-west-1"), b"Action=CreateRoute&RouteTableId=rtb-9")
        lines = [json.loads(line) for line in open(recorder.path, encoding="utf-8")]
        case("recorder: assumed credentials act as the role's account",
             [(c["action"], c["credential"], c["account"], c["resources"]) for c in lines],
             [("sts:AssumeRole", "function", a, [f"arn:aws:iam::{peer}:role/p"]),
              ("ec2:CreateRoute", "assumed", peer, [f"arn:aws:ec2:eu-west-1:{peer}:route-table/rtb-9"])])

    template = yaml.load(SELF_TEST_TEMPLATE, Loader=Loader)
    env = Env(template, a, "us-east-1")
    stmts = [s for d in role_documents(template, "fn", set())[1] for s in statements(d, env)]

    def allowed(action, resource, context=None):
        return decide(stmts, action, [resource], context or {}, env)[0]

    for action, resource, context, want in [
        ("ec2:CreateRoute", rtb, None, True),
        ("ec2:ReplaceRoute", rtb, None, True),
        ("ec2:CreateRoute", f"arn:aws:ec2:us-east-1:{peer}:route-table/rtb-1", None, False),
        ("ec2:DeleteRoute", rtb, None, False),
        ("ec2:DescribeVpcs", "*", None, True),
        ("ec2:CreateTags", f"arn:aws:ec2:us-east-1:{a}:vpc-peering-connection/*", {"ec2:CreateAction": "CreateVpcPeeringConnection"}, True),
        ("ec2:CreateTags", f"arn:aws:ec2:us-east-1:{a}:vpc-peering-connection/*", {"ec2:CreateAction": "CreateRoute"}, False),
        ("sns:Publish", f"arn:aws:sns:us-east-1:{a}:alerts", None, True),
        ("sns:Publish", f"arn:aws:sqs:us-east-1:{a}:alerts", None, False),
        ("kms:GenerateDataKey", f"arn:aws:kms:us-east-1:{a}:key/k", None, True),
        ("kms:Encrypt", f"arn:aws:kms:us-east-1:{a}:key/k", None, False),
        ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{a}:q", None, True),
        ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{peer}:q", None, False),
        ("sts:AssumeRole", f"arn:aws:iam::{peer}:role/p", None, True),
    ]:
        case(f"template allows {action} on {resource} {context or ''}", allowed(action, resource, context), want)
    docs, _ = peer_role(SELF_TEST_README)
    peer_env = Env({}, peer, "*")
    peer_stmts = [s for d in docs or [] for s in statements(d, peer_env)]
    for action, account, want in [("ec2:CreateRoute", peer, True), ("ec2:CreateRoute", a, False), ("ec2:ReplaceRoute", peer, False)]:
        table = f"arn:aws:ec2:eu-west-1:{account}:route-table/r"
        case(f"README peer role: {action} on {table}", decide(peer_stmts, action, [table], {}, peer_env)[0], want)

    failed = [r for r in results if not r[1]]
    for name, _, got, want in failed:
        print(f"iam check self-test: {name}: got {got!r}, want {want!r}")
    if failed:
        return 1
    print(f"iam check self-test: {len(results)} cases pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
