"""AWS's request-rate token buckets, modelled by the proxy: moto has no limits. Off until a test
turns it on.

    POST /__proxy/rates  {"scale": 10, "busy": {"ec2:CreateRoute": 4.5}, "buckets": {"ec2:CreateRoute": [50, 5]}}

- One bucket per (account, Region, action), as EC2 keys them ("Amazon EC2 throttles EC2 API requests
  for each AWS account on a per-Region basis"; "each API is evaluated individually"). The Region is
  the SigV4 scope's; the account is the one moto acts as (`account_of`).
- A bucket holds `burst` tokens and gets `refill` a second back; each call takes one; a call that
  finds less than one is answered as the service answers a throttled call (`ANSWERS`), takes none,
  and never reaches moto. AWS adds the tokens once a second; here they flow in continuously (the
  long-run rate is the same; only the sub-second shape differs).
- `scale` multiplies every refill (default 1: the documented rates); bursts stay as documented.
- `busy` {bucket: tokens a second}: another client in the same account and Region spends that
  much of the bucket's refill, in AWS units (scaled too). It takes its share first: the net refill
  is `(refill - busy) * scale`, never below 0 (so 120 CreateRoute with 4.5 of 5 a second spent
  elsewhere need (120 - 50) / 0.5 = 140 s at scale 1).
- `buckets` {bucket: [burst, refill]} overrides or extends `limits` for a test.
- Every POST (re)starts every bucket full; `POST /__proxy/reset` turns the model off.

A bucket is named by its action (`ec2:CreateRoute`), except EC2's unfiltered and unpaginated
describes (`ec2:DescribeInstances (unfiltered)`: a smaller bucket of their own).

    python rates.py --self-test     the table and the bucket arithmetic
"""

import http.client
import re
import sys
import threading
import time

import iam_calls

EC2_GUIDE = "https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html"
ECS_GUIDE = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html"

# EC2 developer guide, "Request throttling for the Amazon EC2 API", table "Request token bucket
# sizes and refill rates" (EC2_GUIDE; these figures checked against that table): (burst, refill a second).
EC2_NON_MUTATING = (100, 20)  # Describe*, Get*, List*, Search*
EC2_UNFILTERED = (50, 10)  # the actions below, called with neither a filter nor pagination
EC2_MUTATING = (50, 5)  # every action not in another category
EC2_RESOURCE_INTENSIVE = (50, 5)  # the actions below, each still a bucket of its own
EC2_TAGS = (100, 10)  # "uncategorized": CreateTags, DeleteTags
EC2_UNFILTERED_ACTIONS = {
    "DescribeInstances", "DescribeInstanceStatus", "DescribeNetworkInterfaces", "DescribeSecurityGroups",
    "DescribeSnapshots", "DescribeSpotInstanceRequests", "DescribeVolumes",
}
EC2_RESOURCE_INTENSIVE_ACTIONS = {
    "AcceptVpcPeeringConnection", "AuthorizeSecurityGroupIngress", "CreateVpcPeeringConnection",
    "DeleteVpcPeeringConnection", "RejectVpcPeeringConnection", "RevokeSecurityGroupIngress",
}

# Other services the functions call: (burst, refill, source). "recalled" marks a figure taken from
# the named page from memory (its table could not be read when this was written); "assumed" one no
# page documents. Services with no per-action request bucket have none here (a test may add one
# with `buckets`): SQS standard queues support "a nearly unlimited number of API calls per second,
# per API action" (SQS developer guide, "Amazon SQS quotas"); DynamoDB's item calls are limited by
# the table's capacity, not by a request rate (DynamoDB developer guide, "Service quotas").
OTHERS = {
    # ECS_GUIDE: per account and Region, per action; its example: "cluster read actions" such as
    # DescribeClusters have a bucket of 50. The refill 20 is recalled; the other rows of its table
    # could not be read: the read actions are taken as DescribeClusters', the writes as EC2's
    # mutating ones (assumed).
    "ecs:Describe*": (50, 20, f"{ECS_GUIDE} (burst: the page's example; refill recalled)"),
    "ecs:List*": (50, 20, f"{ECS_GUIDE} (assumed: as the example's cluster reads)"),
    "ecs:*": (50, 5, f"{ECS_GUIDE} (assumed: EC2's mutating figures)"),
    # Auto Scaling documents no figures: assumed EC2's mutating ones.
    "autoscaling:*": (50, 5, "assumed: EC2's mutating figures (Auto Scaling publishes none)"),
    # SNS Publish: a per-Region quota of messages a second (lowest of the Regions' figures, recalled);
    # burst taken as one second's worth (assumed).
    "sns:Publish": (1500, 1500, "recalled: https://docs.aws.amazon.com/general/latest/gr/sns.html (Publish, per Region)"),
    "secretsmanager:GetSecretValue": (10000, 10000, "recalled: https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html"),
    "sts:AssumeRole": (600, 600, "recalled: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html (STS request quotas)"),
    "logs:GetLogEvents": (25, 25, "recalled: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html"),
}

# What each service answers a throttled call: (HTTP status, code, message).
ANSWERS = {
    # EC2: `RequestLimitExceeded` (EC2_GUIDE), HTTP 503 "Request limit exceeded." as EC2 sends it
    # (jclouds/legacy-jclouds#1214: "HTTP/1.1 503 Service Unavailable; content: [Request limit exceeded.]").
    "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
    # ECS_GUIDE: "Rate exceeded (Service: AmazonECS; Status Code: 400; Error Code: ThrottlingException".
    "ecs": (400, "ThrottlingException", "Rate exceeded"),
    # The query protocol's generic throttle (the SDKs' retry classifiers list `Throttling`).
    "autoscaling": (400, "Throttling", "Rate exceeded"),
    "sts": (400, "Throttling", "Rate exceeded"),
    # SNS API reference (and its service model): ThrottledException, code `Throttled`, HTTP 429.
    "sns": (429, "Throttled", "Rate exceeded"),
    # SQS API reference: SendMessage/ReceiveMessage/DeleteMessage list `RequestThrottled`.
    "sqs": (400, "RequestThrottled", "Rate exceeded"),
    # DynamoDB API reference, common errors: ThrottlingException "Rate of requests exceeds the allowed throughput."
    "dynamodb": (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    "logs": (400, "ThrottlingException", "Rate exceeded"),
    "secretsmanager": (400, "ThrottlingException", "Rate exceeded"),
}
DEFAULT_ANSWER = (400, "ThrottlingException", "Rate exceeded")

# moto reads an access key only if it looks like AWS's (moto.core.responses' access_key_regex);
# any other (`testing`) acts as moto's default account.
MOTO_KEY = re.compile(r"^[A-Z0-9]{20}$")


def unfiltered(params):
    """Neither a filter nor pagination: EC2's smaller bucket for the unfiltered describes."""
    return not any(k.startswith("Filter") or k in ("MaxResults", "NextToken") for k in params)


def bucket_of(action, params):
    """(bucket name, (burst, refill)) of a call, or None for a call no bucket meters."""
    service, _, name = action.partition(":")
    if service == "ec2":
        if name in EC2_UNFILTERED_ACTIONS and unfiltered(params):
            return f"{action} (unfiltered)", EC2_UNFILTERED
        if name.startswith(("Describe", "Get", "List", "Search")):
            return action, EC2_NON_MUTATING
        if name in ("CreateTags", "DeleteTags"):
            return action, EC2_TAGS
        if name in EC2_RESOURCE_INTENSIVE_ACTIONS:
            return action, EC2_RESOURCE_INTENSIVE
        return action, EC2_MUTATING
    verbs = [f"{service}:{verb}*" for verb in ("Describe", "List", "Get") if name.startswith(verb)]
    for pattern in [action, *verbs, f"{service}:*"]:
        if pattern in OTHERS:
            burst, refill, _ = OTHERS[pattern]
            return action, (burst, refill)
    return None


class Rates:
    """The proxy's buckets; shared by its handler threads."""

    def __init__(self, upstream=None):
        self._lock = threading.Lock()
        self.upstream = upstream  # moto (host, port), to ask whose an unknown access key is
        self.config = None  # None: off
        self.buckets = {}  # (account, region, bucket) -> [tokens, at]
        self.keys = {}  # access key -> account, as moto answered

    def reset(self):
        with self._lock:
            self.config = None
            self.buckets = {}

    def configure(self, config):
        with self._lock:
            self.config = {
                "scale": float(config.get("scale", 1)),
                "busy": {k: float(v) for k, v in (config.get("busy") or {}).items()},
                "buckets": {k: (float(v[0]), float(v[1])) for k, v in (config.get("buckets") or {}).items()},
            }
            self.buckets = {}  # every bucket full again

    def limits(self, action, params):
        """(bucket, burst, net refill a second), or None; under the lock."""
        found = bucket_of(action, params)
        name, (burst, refill) = found if found else (action, (None, None))
        if name in self.config["buckets"]:
            burst, refill = self.config["buckets"][name]
        if burst is None:
            return None
        net = max(0.0, refill - self.config["busy"].get(name, 0.0)) * self.config["scale"]
        return name, burst, net

    def take(self, action, region, headers, params, now=None):
        """None if the call may go on (it took a token), else (status, code, message) to answer."""
        if self.config is None:
            return None
        account = self.account_of(headers)
        now = time.monotonic() if now is None else now
        with self._lock:
            if self.config is None:
                return None
            found = self.limits(action, params)
            if not found:
                return None
            name, burst, refill = found
            bucket = self.buckets.setdefault((account, region, name), [burst, now])
            bucket[0] = min(burst, bucket[0] + refill * max(0.0, now - bucket[1]))
            bucket[1] = now
            if bucket[0] >= 1:
                bucket[0] -= 1
                return None
        return ANSWERS.get(action.split(":", 1)[0], DEFAULT_ANSWER)

    def account_of(self, headers):
        """The account moto acts as for this request: what iam_calls knows (the x-moto-account-id
        header, keys AssumeRole handed out through this proxy); a key of AWS's shape it does not
        know (assumed straight at moto) is asked of moto, once."""
        account = iam_calls.account_of(headers)
        key, _ = iam_calls.credential_of(headers)
        if account != iam_calls.DEFAULT_ACCOUNT or headers.get("x-moto-account-id") or not key or not MOTO_KEY.match(key):
            return account
        with self._lock:
            if key in self.keys:
                return self.keys[key]
        asked = self._caller_account(key)
        if asked:
            with self._lock:
                self.keys[key] = asked
        return asked or account

    def _caller_account(self, key):
        """sts:GetCallerIdentity as that key, straight to moto (which checks no signature)."""
        if not self.upstream:
            return None
        connection = http.client.HTTPConnection(*self.upstream, timeout=10)
        try:
            connection.request("POST", "/", body="Action=GetCallerIdentity&Version=2011-06-15", headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0",
            })
            reply = connection.getresponse()
            found = re.search(r"<Account>(\d{12})</Account>", reply.read().decode("utf-8", errors="replace"))
            return found.group(1) if reply.status == 200 and found else None
        except OSError:
            return None
        finally:
            connection.close()


def self_test():
    results = []

    def case(name, got, want):
        results.append((name, got == want, got, want))

    case("CreateRoute is mutating", bucket_of("ec2:CreateRoute", {}), ("ec2:CreateRoute", (50, 5)))
    case("Describe is non-mutating", bucket_of("ec2:DescribeRouteTables", {}), ("ec2:DescribeRouteTables", (100, 20)))
    case("GetManagedPrefixListEntries is non-mutating", bucket_of("ec2:GetManagedPrefixListEntries", {})[1], (100, 20))
    case("CreateTags", bucket_of("ec2:CreateTags", {})[1], (100, 10))
    case("peering is resource-intensive", bucket_of("ec2:AcceptVpcPeeringConnection", {}), ("ec2:AcceptVpcPeeringConnection", (50, 5)))
    case("unfiltered DescribeSecurityGroups", bucket_of("ec2:DescribeSecurityGroups", {"GroupId.1": ["sg-1"]}),
         ("ec2:DescribeSecurityGroups (unfiltered)", (50, 10)))
    case("filtered DescribeSecurityGroups", bucket_of("ec2:DescribeSecurityGroups", {"Filter.1.Name": ["vpc-id"]}),
         ("ec2:DescribeSecurityGroups", (100, 20)))
    case("paginated DescribeInstances", bucket_of("ec2:DescribeInstances", {"MaxResults": ["5"]})[0], "ec2:DescribeInstances")
    case("ecs read", bucket_of("ecs:DescribeContainerInstances", {})[1], (50, 20))
    case("ecs list", bucket_of("ecs:ListTasks", {})[1], (50, 20))
    case("ecs write", bucket_of("ecs:UpdateContainerInstancesState", {})[1], (50, 5))
    case("sqs has no bucket", bucket_of("sqs:SendMessage", {}), None)
    case("dynamodb has no bucket", bucket_of("dynamodb:UpdateItem", {}), None)
    case("logs", bucket_of("logs:GetLogEvents", {})[1], (25, 25))
    for service in ("ec2", "ecs", "autoscaling", "sts", "sns", "sqs", "dynamodb", "logs", "secretsmanager"):
        case(f"{service} answers a throttle", ANSWERS.get(service) is not None, True)

    def fresh(config):
        rates = Rates()
        rates.configure(config)
        return rates

    auth = lambda key, region: {"Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20260101/{region}/ec2/aws4_request, SignedHeaders=host"}
    rates = fresh({})
    headers = auth("testing", "us-east-1")
    answers = [rates.take("ec2:CreateRoute", "us-east-1", headers, {}, now=0.0) for _ in range(51)]
    case("50 CreateRoute, then throttled", (answers[:50].count(None), answers[50]), (50, (503, "RequestLimitExceeded", "Request limit exceeded.")))
    case("a throttled call takes no token: one back after 0.2 s",
         [rates.take("ec2:CreateRoute", "us-east-1", headers, {}, now=0.2) for _ in range(2)][0], None)
    case("another Region has its own bucket", rates.take("ec2:CreateRoute", "eu-west-1", headers, {}, now=0.2), None)
    iam_calls.learn_assumed({"RoleArn": ["arn:aws:iam::222222222222:role/p"]}, 200,
                            b"<Credentials><AccessKeyId>ASIAPEERPEERPEERPEER</AccessKeyId></Credentials>")
    case("an assumed key is another account's bucket",
         rates.take("ec2:CreateRoute", "us-east-1", auth("ASIAPEERPEERPEERPEER", "us-east-1"), {}, now=0.2), None)
    busy = fresh({"busy": {"ec2:CreateRoute": 4.5}})
    for _ in range(50):
        busy.take("ec2:CreateRoute", "us-east-1", headers, {}, now=0.0)
    case("busy: 0.5 a second left, none after 1.9 s", busy.take("ec2:CreateRoute", "us-east-1", headers, {}, now=1.9) is None, False)
    case("busy: one after 2 s", busy.take("ec2:CreateRoute", "us-east-1", headers, {}, now=2.01), None)
    scaled = fresh({"scale": 10, "buckets": {"sqs:SendMessage": [2, 1]}})
    got = [scaled.take("sqs:SendMessage", "us-east-1", headers, {}, now=0.0) for _ in range(3)]
    case("buckets adds one; SQS's answer", got, [None, None, (400, "RequestThrottled", "Rate exceeded")])
    case("scale: 1 a second x 10 = one back after 0.1 s", scaled.take("sqs:SendMessage", "us-east-1", headers, {}, now=0.1), None)
    scaled.reset()
    case("reset: off", scaled.take("sqs:SendMessage", "us-east-1", headers, {}, now=0.1), None)

    failed = [r for r in results if not r[1]]
    for name, _, got, want in failed:
        print(f"rates self-test: {name}: got {got!r}, want {want!r}")
    if failed:
        return 1
    print(f"rates self-test: {len(results)} cases pass")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    print(__doc__)
