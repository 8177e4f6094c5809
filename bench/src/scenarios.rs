//! The scenarios of issue #9, each against a fresh moto per run: the world is seeded straight
//! into moto, the shipped artifact runs in the emulator behind the counting proxy, and each
//! scenario says what its calls should be by design.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use testbed::alerts::{AlertsRig, event};
use testbed::drain::{DrainRig, HOOK};
use testbed::ec2::{interface_endpoint, s3_gateway, security_group, subnet, table, vpc};
use testbed::{Aws, CfnRequest, Lambda, Moto, Proxy, Receiver, lambda_artifact, outcome, response_url, sample_event};

use crate::measure::{Sample, sample};

/// One line of the table: a function (or reference) in one scenario, over every run.
pub struct Row {
    pub function: &'static str,
    pub scenario: String,
    pub samples: Vec<Sample>,
    /// The calls the design allows, checked against the last run.
    pub expected: Vec<Expect>,
}

pub enum Expect {
    /// Exactly `n` calls of `action`.
    Calls(&'static str, u64),
    /// Exactly `n` write calls (anything not Describe/Get/List), one per change.
    Writes(u64),
    /// The same read calls as the row with this scenario (the same work at a small size).
    SameReadsAs(String),
}

/// How many cold starts (and warm invokes) each row's medians are taken over.
pub struct Runs(pub usize);

const CR_TIMEOUT_SECS: u32 = 300;

/// The small sizes the big ones' read calls are compared with (a row checked against itself
/// when it is the small one).
const SMALL_PEERING: &str = "1 tables/side × 6 CIDRs";
const SMALL_ACCESS: &str = "1 endpoints, 1 task groups";

/// A Create the function refuses before any AWS call: the warm-up that pays the cold start.
fn refused_create(function: &str, event: &str, receiver: &Receiver) -> Value {
    CfnRequest::sample(function, event, &response_url(receiver, "warm-up"))
        .in_test_stack()
        .properties(&json!({"VpcId": "not-a-vpc"}))
        .build()
}

/// Send a CloudFormation request and return its one response, which must be SUCCESS.
pub(crate) fn send(lambda: &Lambda, receiver: &Receiver, name: &str, request: Value) -> Value {
    let mut request = request;
    request["ResponseURL"] = json!(response_url(receiver, name));
    let invocation = lambda.invoke_json(&request);
    assert_eq!((invocation.status, invocation.body.trim()), (200, "null"), "{name}: {invocation:?}");
    let answer = receiver.received_at(&format!("/cloudformation-custom-resource-response/{name}")).pop();
    let answer = answer.map(|r| r.json()).unwrap_or(Value::Null);
    assert_eq!(answer["Status"], "SUCCESS", "{name}: {answer}");
    answer
}

/// The AWS side of a custom-resource run: moto behind the proxy, and the receiver.
pub(crate) struct Stage {
    // Held so moto lives as long as the stage.
    _moto: Moto,
    pub(crate) proxy: Proxy,
    pub(crate) receiver: Receiver,
    pub(crate) aws: Aws,
}

impl Stage {
    pub(crate) fn start() -> Self {
        let moto = Moto::start();
        let proxy = Proxy::start(&moto.url());
        let aws = Aws::new(&moto.url());
        Self { proxy, receiver: Receiver::start(), aws, _moto: moto }
    }

    fn lambda(&self, function: &str) -> Lambda {
        self.lambda_with_timeout(function, CR_TIMEOUT_SECS)
    }

    pub(crate) fn lambda_with_timeout(&self, function: &str, timeout_secs: u32) -> Lambda {
        Lambda::start(function, &lambda_artifact(function), timeout_secs, &[("AWS_ENDPOINT_URL", &self.proxy.url())])
    }

    /// Run `run`'s Create of `properties` (event file `create_event`), then a no-op Update with the
    /// same properties (event file `update_event`) on a fresh process; a sample of each.
    fn create_then_noop_update(
        &self,
        function: &str,
        (create_event, update_event): (&str, &str),
        properties: &Value,
        run: usize,
    ) -> (Sample, Sample) {
        let lambda = self.lambda(function);
        let warmup = refused_create(function, create_event, &self.receiver);
        let request = CfnRequest::sample(function, create_event, "").in_test_stack().properties(properties).build();
        let mut id = String::new();
        let create = sample(&lambda, &warmup, &self.proxy, |l| {
            let answer = send(l, &self.receiver, &format!("create-{run}"), request);
            id = answer["PhysicalResourceId"].as_str().unwrap_or_default().to_string();
        });
        drop(lambda);

        let lambda = self.lambda(function);
        let request = CfnRequest::sample(function, update_event, "")
            .in_test_stack()
            .properties(properties)
            .old_properties(Some(properties))
            .physical_id(Some(&id))
            .build();
        let update = sample(&lambda, &warmup, &self.proxy, |l| {
            send(l, &self.receiver, &format!("update-{run}"), request);
        });
        (create, update)
    }
}

/// Two VPCs of 6 CIDR blocks (5 IPv4, 1 IPv6) with `tables` route tables each, the local one in
/// `aws`'s account and the peer in `peer_aws`'s (us-east-1): the properties of their peering.
pub(crate) fn peering_site(aws: &Aws, peer_aws: &Aws, tables: usize) -> Value {
    let (ec2, peer_ec2) = (aws.ec2("us-east-1"), peer_aws.ec2("us-east-1"));
    let four = |second: u8| (1..=4u8).map(|i| format!("10.{}.0.0/16", second + i)).collect::<Vec<_>>();
    let (local_blocks, peer_blocks) = (four(0), four(16));
    let local_blocks: Vec<&str> = local_blocks.iter().map(String::as_str).collect();
    let peer_blocks: Vec<&str> = peer_blocks.iter().map(String::as_str).collect();
    let local = vpc(aws, &ec2, "10.0.0.0/16", &local_blocks, true);
    let peer = vpc(peer_aws, &peer_ec2, "10.16.0.0/16", &peer_blocks, true);
    assert_eq!((local.cidrs.len(), peer.cidrs.len()), (6, 6), "6 blocks per VPC");
    let local_tables: Vec<String> = (0..tables).map(|_| table(aws, &ec2, &local)).collect();
    let peer_tables: Vec<String> = (0..tables).map(|_| table(peer_aws, &peer_ec2, &peer)).collect();
    json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": local_tables,
        "PeerRouteTableIds": peer_tables, "AllowDnsResolution": "true"})
}

/// Custom::VpcPeering, same account and region: `tables` route tables per side, 6 CIDR blocks per
/// VPC (5 IPv4, 1 IPv6). Rows: the Create, and a no-op Update on a fresh process.
pub fn peering(runs: &Runs, tables: usize) -> [Row; 2] {
    let size = format!("{tables} tables/side × 6 CIDRs");
    let (mut create, mut update) = (Vec::new(), Vec::new());
    for run in 0..runs.0 {
        let stage = Stage::start();
        let properties = peering_site(&stage.aws, &stage.aws, tables);

        let (c, u) =
            stage.create_then_noop_update("vpc-peering", ("create.same-account", "update.add-table"), &properties, run);
        create.push(c);
        update.push(u);
    }
    let routes = (tables * 6 * 2) as u64;
    [
        Row {
            function: "vpc-peering",
            scenario: format!("Create, {size}"),
            samples: create,
            expected: vec![
                Expect::Calls("ec2:CreateRoute", routes),
                Expect::SameReadsAs(format!("Create, {SMALL_PEERING}")),
            ],
        },
        Row {
            function: "vpc-peering",
            scenario: format!("no-op Update, {size}"),
            samples: update,
            expected: vec![Expect::Writes(0), Expect::SameReadsAs(format!("no-op Update, {SMALL_PEERING}"))],
        },
    ]
}

/// The interface endpoints private ECS tasks commonly need, as `Services` names them.
const SERVICES: [&str; 15] = [
    "ecr.api",
    "ecr.dkr",
    "logs",
    "secretsmanager",
    "ssm",
    "ssmmessages",
    "ec2messages",
    "kms",
    "sts",
    "sqs",
    "sns",
    "monitoring",
    "elasticloadbalancing",
    "ecs",
    "ecs-agent",
];

/// A VPC with `endpoints` interface endpoints (each with its own security group), the S3 gateway,
/// and `groups` task security groups with restricted egress: the properties of their access.
pub(crate) fn access_site(aws: &Aws, endpoints: usize, groups: usize) -> Value {
    let ec2 = aws.ec2("us-east-1");
    let network = vpc(aws, &ec2, "10.30.0.0/16", &[], true);
    let private = subnet(aws, &ec2, &network, "10.30.1.0/24");
    for name in &SERVICES[..endpoints] {
        let group = security_group(aws, &ec2, &network, &format!("{name}-endpoint"), false);
        interface_endpoint(aws, &ec2, &network, &private, name, &group, true);
    }
    s3_gateway(aws, &ec2, &network, &table(aws, &ec2, &network));
    let tasks: Vec<String> =
        (0..groups).map(|i| security_group(aws, &ec2, &network, &format!("tasks-{i}"), true)).collect();
    let mut services: Vec<&str> = SERVICES[..endpoints].to_vec();
    services.push("s3");
    json!({"VpcId": network.id, "TaskSecurityGroupIds": tasks, "Services": services})
}

/// Custom::EndpointAccess: `endpoints` interface endpoints (each with its own security group),
/// the S3 gateway, and `groups` task security groups with restricted egress. Rows: the Create,
/// and a no-op Update on a fresh process.
pub fn endpoint_access(runs: &Runs, endpoints: usize, groups: usize) -> [Row; 2] {
    let size = format!("{endpoints} endpoints, {groups} task groups");
    let (mut create, mut update) = (Vec::new(), Vec::new());
    for run in 0..runs.0 {
        let stage = Stage::start();
        let properties = access_site(&stage.aws, endpoints, groups);
        let (c, u) = stage.create_then_noop_update("endpoint-access", ("create", "update"), &properties, run);
        create.push(c);
        update.push(u);
    }
    // One write per group (#17: EC2 takes many rules a call): on each endpoint group, ingress
    // from every task group; from each task group, egress to every endpoint group and to the S3
    // prefix list. 15 × 10: 25 writes (one a rule: 310).
    let writes = (endpoints + groups) as u64;
    [
        Row {
            function: "endpoint-access",
            scenario: format!("Create, {size}"),
            samples: create,
            expected: vec![Expect::Writes(writes), Expect::SameReadsAs(format!("Create, {SMALL_ACCESS}"))],
        },
        Row {
            function: "endpoint-access",
            scenario: format!("no-op Update, {size}"),
            samples: update,
            expected: vec![Expect::Writes(0), Expect::SameReadsAs(format!("no-op Update, {SMALL_ACCESS}"))],
        },
    ]
}

/// Where an alert goes.
#[derive(Clone, Copy)]
pub enum Destination {
    Sns,
    Webhook,
}

/// An out-of-memory stop with suppression on and 25 lines in the container's awslogs stream,
/// alerted to one destination; the warm-up is a RUNNING event (ignored, no calls).
pub fn alert(runs: &Runs, destination: Destination) -> Row {
    let mut samples = Vec::new();
    for _ in 0..runs.0 {
        let rig = AlertsRig::start();
        let table = rig.suppression_table("ecs-plumbing-alerts");
        let env = [
            match destination {
                Destination::Sns => ("ALERT_TOPIC_ARN", rig.topic_arn.clone()),
                Destination::Webhook => ("WEBHOOK_SECRET_ARN", rig.webhook_secret("slack", "slack")),
            },
            ("SUPPRESSION_TABLE", table),
        ];
        let mut stop = event("stopped-out-of-memory");
        stop["detail"]["taskDefinitionArn"] = json!(rig.task_definition("api", true));
        let task_id = stop["detail"]["taskArn"].as_str().and_then(|a| a.rsplit('/').next()).unwrap_or_default();
        let lines: Vec<String> = (1..=25).map(|i| format!("heap at {}% (line {i})", 70 + i)).collect();
        rig.container_output("api", task_id, &lines);
        let lambda = rig.lambda_from(&lambda_artifact("task-alerts"), 30, &pairs(&env));
        samples.push(sample(&lambda, &event("running"), &rig.proxy, |l| {
            let status = outcome(&l.invoke_json(&stop))["status"].clone();
            assert_eq!(status, "sent", "{}", l.logs());
        }));
        let delivered = match destination {
            Destination::Sns => rig.sns_messages().len(),
            Destination::Webhook => rig.posts("slack").len(),
        };
        assert_eq!(delivered, 1, "one message at the destination");
    }
    let (scenario, publish, secret) = match destination {
        Destination::Sns => ("alert to SNS (OOM, 25 log lines)", 1, 0),
        Destination::Webhook => ("alert to a webhook (OOM, 25 log lines)", 0, 1),
    };
    Row {
        function: "task-alerts",
        scenario: scenario.into(),
        samples,
        expected: vec![
            // The task's mark (its stop handled once, whatever its later events) and the window.
            Expect::Calls("dynamodb:UpdateItem", 2),
            Expect::Calls("secretsmanager:GetSecretValue", secret),
            Expect::Calls("sns:Publish", publish),
            Expect::Calls("ecs:DescribeTaskDefinition", 1),
            Expect::Calls("logs:GetLogEvents", 1),
        ],
    }
}

/// A terminating instance running `tasks` service tasks: the first run sets DRAINING and hands
/// over; the bench then plays ECS (stops them all) and the next run, from the queue, completes.
/// Warm figures are that completing run's; the calls are the whole drain's.
pub fn drain(runs: &Runs, tasks: usize) -> Row {
    let mut samples = Vec::new();
    for _ in 0..runs.0 {
        let rig = DrainRig::start();
        let instance = rig.instance(true);
        let running = rig.tasks(&instance, "service:api", tasks);
        let lambda = rig.lambda_from(&lambda_artifact("lifecycle-drain"), 4, &[]);
        let warmup = sample_event("lifecycle-drain", "other-hook.ecs-managed-draining");
        let terminate = rig.lifecycle_event(&instance, HOOK, "c2f1a9e0-7b3d-4c5e-8f6a-1b2c3d4e5f60");
        samples.push(sample(&lambda, &warmup, &rig.proxy, |l| {
            assert_eq!(outcome(&l.invoke_json(&terminate))["status"], "handed-over", "{}", l.logs());
            rig.stop(&running);
            let mut last = Value::Null;
            while let Some(answer) = rig.pump_once(l, Duration::from_secs(10)) {
                last = answer;
                if last["status"] != "handed-over" {
                    break;
                }
            }
            assert_eq!(last["status"], "completed", "{}", l.logs());
        }));
    }
    Row {
        function: "lifecycle-drain",
        scenario: format!("drain of {tasks} tasks (2 runs)"),
        samples,
        expected: vec![
            Expect::Calls("ecs:UpdateContainerInstancesState", 1),
            Expect::Calls("autoscaling:CompleteLifecycleAction", 1),
            Expect::Calls("ecs:StopTask", 0),
        ],
    }
}

/// The references: the bare `lambda_runtime` echo (an empty event), and the Python function
/// (awslambdaric + boto3, one DescribeVpcs), under the same emulator against the same moto.
pub fn references(runs: &Runs, python: &Path) -> [Row; 2] {
    let (mut echo, mut boto) = (Vec::new(), Vec::new());
    for _ in 0..runs.0 {
        let stage = Stage::start();
        let env = [("AWS_ENDPOINT_URL", stage.proxy.url())];
        let lambda = Lambda::start("bench-echo", &lambda_artifact("bench-echo"), 30, &pairs(&env));
        echo.push(sample(&lambda, &json!({}), &stage.proxy, |l| {
            assert_eq!(l.invoke_json(&json!({"ping": 1})).body.trim(), r#"{"ping":1}"#);
        }));
        drop(lambda);
        let with_python = [("AWS_ENDPOINT_URL", stage.proxy.url()), ("BENCH_PYTHON", python.display().to_string())];
        let lambda = Lambda::start("python-reference", &python_bootstrap(), 30, &pairs(&with_python));
        boto.push(sample(&lambda, &json!({}), &stage.proxy, |l| {
            let answer = l.invoke_json(&json!({}));
            assert!(answer.body.contains("\"vpcs\""), "{answer:?}\n{}", l.logs());
        }));
    }
    [
        Row {
            function: "bench-echo",
            scenario: "echo (reference)".into(),
            samples: echo,
            expected: vec![Expect::Writes(0)],
        },
        Row {
            function: "python-reference",
            scenario: "one DescribeVpcs (reference)".into(),
            samples: boto,
            expected: vec![Expect::Calls("ec2:DescribeVpcs", 1)],
        },
    ]
}

pub fn python_bootstrap() -> PathBuf {
    testbed::repo_root().join("bench/python/bootstrap")
}

fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
