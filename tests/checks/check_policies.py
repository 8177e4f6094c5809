"""Least privilege in template.yaml, checked (run by `make template`):

- no statement allows `Action: "*"` or a whole service (`ec2:*`);
- `Resource: "*"` only for actions that have no resource-level permissions (the Service
  Authorization Reference lists no resource type for them), and only with a comment above the
  statement saying so;
- no ARN with a hard-coded partition (`arn:aws:`, `arn:aws-cn:` …) in Resources or Outputs:
  every ARN is built with `${AWS::Partition}`, so the stack deploys in the China and GovCloud
  partitions too (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html).

    python check_policies.py template.yaml

Prints one line per finding and exits 1 if there is any; else one summary line.
"""

import re
import sys

import yaml

# A partition written out where `${AWS::Partition}` belongs (`arn:aws:`, `arn:aws-cn:`,
# `arn:aws-us-gov:`); the Parameters' AllowedPatterns, which must accept every partition, are
# not looked at.
HARD_CODED_PARTITION = re.compile(r"arn:aws(-[a-z]+)*:")

# Actions the functions call that IAM accepts only with "*" (no resource types listed for them).
WITHOUT_RESOURCE_LEVEL = {
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:DescribeRouteTables",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeManagedPrefixLists",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ecs:DescribeTaskDefinition",
    "ecs:ListClusters",
}


class Loader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (`!Sub`, `!If` …) as their plain values."""


Loader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: (
        loader.construct_sequence(node)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node)
        if isinstance(node, yaml.MappingNode)
        else loader.construct_scalar(node)
    ),
)


def statements(policy):
    """The statements of a policy document, through `!If [condition, a, b]`."""
    for item in policy.get("Statement", []) if isinstance(policy, dict) else []:
        if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
            yield from (s for s in item[1:] if isinstance(s, dict) and "Effect" in s)
        elif isinstance(item, dict):
            yield item


def as_list(value):
    return value if isinstance(value, list) else [value]


def strings(value, where):
    """Every string in a template value, with the path to it."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{where}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{where}/{i}")


def hard_coded_partitions(template):
    """One finding per string in Resources or Outputs that spells out a partition in an ARN."""
    for section in ("Resources", "Outputs"):
        for where, text in strings(template.get(section, {}) or {}, section):
            if HARD_CODED_PARTITION.search(text):
                yield f'{where}: hard-coded partition in "{text}": write arn:${{AWS::Partition}}:'


def main(path):
    text = open(path, encoding="utf-8").read()
    lines = text.splitlines()
    template = yaml.load(text, Loader=Loader)
    problems, checked, wildcard = [], 0, 0
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {}) or {}
        policies = properties.get("Policies", []) or []
        if resource.get("Type") == "AWS::IAM::Role":
            policies = [p.get("PolicyDocument", {}) for p in policies]
        for policy in as_list(policies):
            for statement in statements(policy):
                checked += 1
                sid = statement.get("Sid", "(no Sid)")
                actions = as_list(statement.get("Action", []))
                where = f"{name}/{sid}"
                for action in actions:
                    if action == "*" or str(action).endswith(":*"):
                        problems.append(f"{where}: allows {action}")
                if statement.get("Effect") == "Allow" and "*" in as_list(statement.get("Resource")):
                    wildcard += 1
                    for action in actions:
                        if action not in WITHOUT_RESOURCE_LEVEL:
                            problems.append(f'{where}: Resource "*" for {action}, which takes resource-level permissions')
                    at = next((i for i, line in enumerate(lines) if line.strip() == f"- Sid: {sid}"), None)
                    if at is None or not lines[at - 1].strip().startswith("#"):
                        problems.append(f'{where}: Resource "*" without a comment above it saying why')
    problems.extend(hard_coded_partitions(template))
    for problem in problems:
        print(f"policy check: {problem}")
    if problems:
        return 1
    print(f'policy check: {checked} statements, {wildcard} with Resource "*" (actions without resource-level permissions, each explained); no Action "*"; no hard-coded partition in an ARN')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
