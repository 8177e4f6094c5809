//! `make demo`: every function against the local AWS emulator, printing what it did.
//! Starts moto (behind the counting proxy), a receiver standing in for CloudFormation, and the
//! Lambda emulator for each function; stops them all on exit.

use serde_json::{Value, json};
use testbed::alerts::AlertsRig;
use testbed::ec2::{
    connection, group_rules, interface_endpoint, routes, s3_gateway, security_group, subnet, table, vpc,
};
use testbed::{Aws, CfnRequest, Lambda, Moto, Proxy, Receiver, binary, response_url};

fn main() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.url());
    let receiver = Receiver::start();
    println!(
        "moto on {}, counting proxy on {}, CloudFormation receiver on {}",
        moto.url(),
        proxy.url(),
        receiver.url("")
    );

    protocol_probe(&proxy, &receiver);
    vpc_peering(&moto, &proxy, &receiver);
    endpoint_access(&moto, &proxy, &receiver);
    task_alerts();
    lifecycle_drain();
}

/// Lifecycle draining: an instance with two api tasks and a daemon is terminating; the function
/// (4 s timeout here) drains it across runs through the continuation queue while the demo plays
/// ECS, stopping the api tasks after 5 s; then the action completes once.
fn lifecycle_drain() {
    use testbed::drain::{DrainRig, HOOK};
    println!(
        "\n== lifecycle-drain: i-… in cluster prod is terminating; its api tasks take longer than one run to move"
    );
    let rig = DrainRig::start();
    let instance = rig.instance(true);
    let api = rig.tasks(&instance, "service:api", 2);
    rig.daemon_service("agent");
    rig.tasks(&instance, "service:agent", 1);
    println!("instance {}: 2 api tasks, 1 daemon task (agent)", instance.id);
    let lambda = rig.lambda(4, &[]);
    let started = std::time::Instant::now();
    let event = rig.lifecycle_event(&instance, HOOK, "c2f1a9e0-7b3d-4c5e-8f6a-1b2c3d4e5f60");
    let first = lambda.invoke_json(&event);
    println!(
        "{:>5.1} s  the lifecycle event -> {} (container instance now {})",
        started.elapsed().as_secs_f64(),
        first.body,
        rig.instance_status(&instance)
    );
    let mut stopped = false;
    while let Some(outcome) = rig.pump_once(&lambda, std::time::Duration::from_secs(10)) {
        println!("{:>5.1} s  a run from the queue -> {outcome}", started.elapsed().as_secs_f64());
        if outcome["status"] != "handed-over" {
            break;
        }
        if !stopped && started.elapsed() > std::time::Duration::from_secs(5) {
            rig.stop(&api);
            stopped = true;
            println!(
                "{:>5.1} s  ECS (played by the demo) has moved the api tasks: both STOPPED",
                started.elapsed().as_secs_f64()
            );
        }
    }
    for call in rig.lifecycle_calls() {
        println!(
            "        {} {} {}",
            call["Action"].as_str().unwrap_or_default(),
            call["LifecycleActionResult"].as_str().unwrap_or_default(),
            call["Outcome"].as_str().unwrap_or_default()
        );
    }
    println!("        AWS calls: {:?}", rig.proxy.calls().counts);
}

/// A stop the demo plays ECS's part for: the task is really run and stopped in moto (StopTask
/// with the reason), and the event carries what ECS reports that moto does not simulate (the
/// containers' exit codes and reasons).
struct Stop {
    label: &'static str,
    family: &'static str,
    group: &'static str,
    fixture: &'static str,
    stop_code: &'static str,
    reason: &'static str,
    containers: Value,
    /// What the container wrote to CloudWatch Logs (awslogs) before it stopped.
    last_lines: &'static [&'static str],
}

/// Task-state alerts: tasks stopped for several reasons in moto's ECS, each stop's EventBridge
/// event through task-alerts, and what arrived at the SNS topic (moto's HTTP delivery) and at a
/// Slack webhook (the receiver).
fn task_alerts() {
    println!("\n== task-alerts: tasks stop in cluster prod; alerts go to an SNS topic and a Slack webhook");
    let rig = AlertsRig::start();
    let secret = rig.webhook_secret("slack", "slack");
    println!("topic {}, webhook secret {secret} (its URL is never printed or logged)", rig.topic_arn);
    let table = rig.suppression_table("ecs-plumbing-alerts");
    let queue = rig.aws.block_on(rig.aws.sqs().create_queue().queue_name("look-again").send()).expect("CreateQueue");
    let queue = queue.queue_url().expect("a queue URL").to_string();
    let lambda = rig.lambda(
        30,
        &[
            ("ALERT_TOPIC_ARN", &rig.topic_arn),
            ("WEBHOOK_SECRET_ARN", &secret),
            ("SUPPRESSION_TABLE", &table),
            ("LOOK_AGAIN_QUEUE_URL", &queue),
        ],
    );
    let ecs = rig.aws.ecs();
    rig.aws.block_on(ecs.create_cluster().cluster_name("prod").send()).expect("CreateCluster");

    let stops = [
        Stop {
            label: "api runs out of memory",
            family: "api",
            group: "service:api",
            fixture: "stopped-out-of-memory",
            stop_code: "EssentialContainerExited",
            reason: "Essential container in task exited",
            containers: json!([{"name": "api", "exitCode": 137, "lastStatus": "STOPPED",
                "reason": "OutOfMemoryError: Container killed due to memory usage"}]),
            last_lines: &[
                "10:02:40 INFO  import batch 7 of 9: 48,211 rows",
                "10:02:42 WARN  heap 91% after GC",
                "10:02:43 WARN  heap 98% after GC",
            ],
        },
        Stop {
            label: "worker cannot pull its image",
            family: "worker",
            group: "service:worker",
            fixture: "stopped-image-pull",
            stop_code: "TaskFailedToStart",
            reason: "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:2026.11.20-3: failed to do request: Head \"https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/worker/manifests/2026.11.20-3\": dial tcp 10.20.0.12:443: i/o timeout",
            containers: json!([{"name": "worker", "lastStatus": "STOPPED"}]),
            last_lines: &[],
        },
        Stop {
            label: "web fails its health checks",
            family: "web",
            group: "service:web",
            fixture: "stopped-out-of-memory",
            stop_code: "ServiceSchedulerInitiated",
            reason: "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/6d0ecf831eec9f09)",
            containers: json!([{"name": "web", "exitCode": 143, "lastStatus": "STOPPED"}]),
            last_lines: &[],
        },
        Stop {
            label: "a migration exits 1",
            family: "migrate",
            group: "family:migrate",
            fixture: "stopped-out-of-memory",
            stop_code: "EssentialContainerExited",
            reason: "Essential container in task exited",
            containers: json!([{"name": "migrate", "exitCode": 1, "lastStatus": "STOPPED"}]),
            last_lines: &[],
        },
        Stop {
            label: "api scales in (benign)",
            family: "api",
            group: "service:api",
            fixture: "stopped-scale-in",
            stop_code: "ServiceSchedulerInitiated",
            reason: "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)",
            containers: json!([{"name": "api", "exitCode": 0, "lastStatus": "STOPPED"}]),
            last_lines: &[],
        },
    ];
    let mut events = Vec::new();
    // The AWS calls of each alert, counted by the proxy.
    let alert = |event: &Value| {
        rig.proxy.reset();
        let answer = lambda.invoke_json(event);
        format!("{} {}\n   AWS calls: {:?}", answer.status, answer.body, rig.proxy.calls().counts)
    };
    for stop in &stops {
        let event = stopped_in_moto(&rig, &ecs, stop);
        println!("\n-- {}: {}", stop.label, alert(&event));
        events.push(event);
    }
    println!("\n-- EventBridge delivers the api stop again: {}", alert(&events[0]));
    let again = stopped_in_moto(&rig, &ecs, &stops[0]);
    println!("-- another api task runs out of memory (same storm): {}", alert(&again));
    let running = testbed::alerts::event("running");
    println!("\n-- a task reaches RUNNING: {}", lambda.invoke_json(&running).body);

    // Service-level events: AWS's documented examples, for service web of cluster prod.
    for (label, name) in [
        ("web's deployment fails (circuit breaker)", "deployment-failed"),
        ("web's tasks cannot be placed", "service-task-placement-failure.memory"),
        ("ECS reports web steady again", "service-steady-state"),
        ("ECS reports web steady again, later", "service-steady-state"),
        ("web's rollback completes", "deployment-completed"),
        (
            "an instance's agent disconnects (looked at again after the grace period)",
            "container-instance-agent-disconnected",
        ),
    ] {
        let mut event = testbed::alerts::event(name);
        if label.ends_with("later") {
            event["id"] = json!("a-later-steady-state");
        }
        println!("\n-- {label}: {}", alert(&event));
    }

    println!("\nSNS topic, as moto delivered it:");
    for message in rig.sns_messages() {
        println!("  Subject: {}", message["Subject"].as_str().unwrap_or_default());
        let text = message["Message"].as_str().unwrap_or_default();
        for line in text.lines().filter(|l| !l.is_empty()).take(2) {
            println!("    {line}");
        }
        // The container's last lines, when the alert has them.
        for line in text.lines().skip_while(|l| !l.starts_with("Last ")).take_while(|l| !l.is_empty()) {
            println!("    {line}");
        }
    }
    println!("\nSlack webhook, as the receiver got it (header and first section):");
    for post in rig.posts("slack") {
        let body = post.json();
        println!("  {}", body["blocks"][0]["text"]["text"].as_str().unwrap_or_default());
        for line in body["blocks"][1]["text"]["text"].as_str().unwrap_or_default().lines().take(2) {
            println!("    {line}");
        }
    }
}

/// Run a task of `stop.family` in moto, stop it with `stop.reason`, and return the EventBridge
/// event ECS would send: the fixture's shape with moto's ARNs and the stop's reasons.
fn stopped_in_moto(rig: &AlertsRig, ecs: &aws_sdk_ecs::Client, stop: &Stop) -> Value {
    use aws_sdk_ecs::types::{AwsVpcConfiguration, NetworkConfiguration};
    // awslogs to /ecs/<family>, stream prefix ecs (the container is named after the family).
    let family_arn = rig.task_definition(stop.family, true);
    let network = AwsVpcConfiguration::builder().subnets("subnet-0a1b2c3d4e5f60718").build().expect("subnets");
    let run = ecs
        .run_task()
        .cluster("prod")
        .task_definition(stop.family)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .group(stop.group)
        .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(network).build());
    let ran = rig.aws.block_on(run.send()).expect("RunTask");
    let task_arn = ran.tasks()[0].task_arn().unwrap_or_default().to_string();
    rig.aws.block_on(ecs.stop_task().cluster("prod").task(&task_arn).reason(stop.reason).send()).expect("StopTask");
    if !stop.last_lines.is_empty() {
        let task_id = task_arn.rsplit('/').next().unwrap_or_default();
        rig.container_output(stop.family, task_id, &stop.last_lines.iter().map(|l| l.to_string()).collect::<Vec<_>>());
    }

    let mut event = testbed::alerts::event(stop.fixture);
    let detail = &mut event["detail"];
    detail["taskArn"] = json!(task_arn);
    detail["clusterArn"] = json!("arn:aws:ecs:us-east-1:123456789012:cluster/prod");
    detail["taskDefinitionArn"] = json!(family_arn);
    detail["group"] = json!(stop.group);
    detail["stopCode"] = json!(stop.stop_code);
    detail["stoppedReason"] = json!(stop.reason);
    let mut containers = stop.containers.clone();
    for c in containers.as_array_mut().into_iter().flatten() {
        c["taskArn"] = json!(task_arn);
    }
    detail["containers"] = containers;
    event["resources"] = json!([task_arn]);
    event
}

/// Custom::EndpointAccess in a VPC with ecr.api, ecr.dkr and logs interface endpoints and the
/// S3 gateway, secretsmanager asked for but missing (reported), two task groups without
/// open egress: Create, an Update that drops a task group, and Delete, with each group's rules.
fn endpoint_access(moto: &Moto, proxy: &Proxy, receiver: &Receiver) {
    println!("\n== endpoint-access: a VPC with ecr.api, ecr.dkr, logs and the S3 gateway; secretsmanager missing");
    let aws = Aws::new(&moto.url());
    let ec2 = aws.ec2("us-east-1");
    let vpc = vpc(&aws, &ec2, "10.30.0.0/16", &[], true);
    let private = subnet(&aws, &ec2, &vpc, "10.30.1.0/24");
    let mut groups = Vec::new();
    for name in ["ecr.api", "ecr.dkr", "logs"] {
        let group = security_group(&aws, &ec2, &vpc, &format!("{name}-endpoint"), false);
        interface_endpoint(&aws, &ec2, &vpc, &private, name, &group, true);
        groups.push((format!("{name} endpoint"), group));
    }
    s3_gateway(&aws, &ec2, &vpc, &table(&aws, &ec2, &vpc));
    let tasks =
        [security_group(&aws, &ec2, &vpc, "web-tasks", true), security_group(&aws, &ec2, &vpc, "worker-tasks", true)];
    groups.push(("web tasks".into(), tasks[0].clone()));
    groups.push(("worker tasks".into(), tasks[1].clone()));
    let lambda =
        Lambda::start("endpoint-access", &binary("endpoint-access"), 60, &[("AWS_ENDPOINT_URL", &proxy.url())]);
    let services = json!(["ecr.api", "ecr.dkr", "logs", "s3", "secretsmanager"]);
    let both = json!({"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:ecs-plumbing-EndpointAccessFunction",
        "VpcId": vpc.id, "TaskSecurityGroupIds": tasks, "Services": services, "OnMissing": "Report"});
    let mut web_only = both.clone();
    web_only["TaskSecurityGroupIds"] = json!([tasks[0]]);
    let steps = [
        ("Create", "create", both.clone(), Value::Null),
        ("Update (drop worker)", "update", web_only.clone(), both),
        ("Delete", "delete", web_only, Value::Null),
    ];
    let physical_id = format!("{}/TaskEndpointAccess", vpc.id);
    for (i, (step, event, props, old)) in steps.into_iter().enumerate() {
        let id = (event != "create").then_some(physical_id.as_str());
        step_through(&lambda, proxy, receiver, &format!("access-{i}"), step, event, &props, id, &old);
        for (label, group) in &groups {
            let shown: Vec<String> = group_rules(&aws, &ec2, group)
                .into_iter()
                .map(|r| {
                    let way = if r.egress { "out to" } else { "in from" };
                    let ports =
                        if r.protocol == "-1" { "all".to_string() } else { format!("{}/{}", r.protocol, r.ports.0) };
                    let mark = if r.owner.is_some() { " (ours)" } else { "" };
                    format!("{ports} {way} {}{mark}", r.peer)
                })
                .collect();
            println!(
                "        {label:<18} {group}: {}",
                if shown.is_empty() { "no rules".to_string() } else { shown.join(", ") }
            );
        }
        println!("        AWS calls: {:?}", proxy.calls().counts);
    }
}

/// One CloudFormation request through a function, from its `events/` file: prints the answer
/// and returns it. `old` is `Value::Null` unless it is an Update.
#[expect(clippy::too_many_arguments, reason = "one demo step: the components it goes through and what it sends")]
fn step_through(
    lambda: &Lambda,
    proxy: &Proxy,
    receiver: &Receiver,
    name: &str,
    step: &str,
    event: &str,
    props: &Value,
    physical_id: Option<&str>,
    old: &Value,
) -> Value {
    proxy.reset();
    let function = if name.starts_with("peering") { "vpc-peering" } else { "endpoint-access" };
    let old = (!old.is_null()).then_some(old);
    let request = CfnRequest::sample(function, event, &response_url(receiver, name))
        .in_test_stack()
        .properties(props)
        .old_properties(old)
        .physical_id(physical_id)
        .build();
    let invocation = lambda.invoke_json(&request);
    let path = format!("/cloudformation-custom-resource-response/{name}");
    let answer = receiver.received_at(&path).pop().map(|r| r.json()).unwrap_or(Value::Null);
    println!(
        "{step:<22} -> {} in {:.1} s: {}",
        answer["Status"].as_str().unwrap_or("NO RESPONSE"),
        invocation.elapsed.as_secs_f64(),
        answer["Reason"].as_str().unwrap_or_default()
    );
    if let Some(data) = answer["Data"].as_object() {
        println!("        attributes: {}", serde_json::to_string(data).unwrap_or_default());
    }
    answer
}

/// Custom::VpcPeering across two accounts and two regions: Create, an Update that drops a
/// route table, and Delete, with the connection, DNS flags and routes after each.
fn vpc_peering(moto: &Moto, proxy: &Proxy, receiver: &Receiver) {
    println!("\n== vpc-peering: account 123456789012 in us-east-1 peers with account 222222222222 in eu-west-1");
    let aws = Aws::new(&moto.url());
    let peer_aws = aws.as_account("222222222222");
    let (ec2, peer_ec2) = (aws.ec2("us-east-1"), peer_aws.ec2("eu-west-1"));
    let local = vpc(&aws, &ec2, "10.0.0.0/16", &["10.1.0.0/16"], true);
    let peer = vpc(&peer_aws, &peer_ec2, "10.2.0.0/16", &["100.64.0.0/16"], true);
    let (app, data, peer_table) =
        (table(&aws, &ec2, &local), table(&aws, &ec2, &local), table(&peer_aws, &peer_ec2, &peer));
    println!("local {} {:?}, route tables {app} {data}", local.id, local.cidrs);
    println!("peer  {} {:?}, route table {peer_table} (100.64.0.0/16 excluded)", peer.id, peer.cidrs);
    let lambda = Lambda::start("vpc-peering", &binary("vpc-peering"), 60, &[("AWS_ENDPOINT_URL", &proxy.url())]);
    let properties = json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:ecs-plumbing-VpcPeeringFunction",
        "VpcId": local.id, "PeerVpcId": peer.id, "PeerOwnerId": "222222222222", "PeerRegion": "eu-west-1",
        "PeerRoleArn": "arn:aws:iam::222222222222:role/ecs-plumbing-peering", "RouteTableIds": [app, data],
        "PeerRouteTableIds": [peer_table], "AllowDnsResolution": "true", "ExcludeCidrs": ["100.64.0.0/16"],
    });
    let mut fewer = properties.clone();
    fewer["RouteTableIds"] = json!([app]);
    let mut physical_id = String::new();
    let steps = [
        ("Create", "create.cross-account", properties.clone(), Value::Null),
        ("Update (drop a table)", "update.add-table", fewer.clone(), properties),
        ("Delete", "delete", fewer, Value::Null),
    ];
    for (i, (step, event, props, old)) in steps.into_iter().enumerate() {
        let id = (!physical_id.is_empty()).then_some(physical_id.clone());
        let answer =
            step_through(&lambda, proxy, receiver, &format!("peering-{i}"), step, event, &props, id.as_deref(), &old);
        physical_id = answer["PhysicalResourceId"].as_str().unwrap_or_default().to_string();
        let (status, requester_dns, accepter_dns) = connection(&aws, &ec2, &physical_id);
        println!(
            "        {physical_id}: {status}, DNS resolution from the remote VPC: requester {requester_dns}, accepter {accepter_dns}"
        );
        for (side, aws, ec2, table) in
            [("local", &aws, &ec2, &app), ("local", &aws, &ec2, &data), ("peer", &peer_aws, &peer_ec2, &peer_table)]
        {
            let shown: Vec<String> = routes(aws, ec2, table).into_iter().map(|(d, t)| format!("{d} -> {t}")).collect();
            println!(
                "        {side} {table}: {}",
                if shown.is_empty() { "no routes but local".to_string() } else { shown.join(", ") }
            );
        }
        println!("        AWS calls: {:?}", proxy.calls().counts);
    }
}

/// The custom-resource protocol through its test function: success, an AWS error and the
/// rollback of that failed Create, a panic, and a hang past the deadline.
fn protocol_probe(proxy: &Proxy, receiver: &Receiver) {
    println!("\n== cr-probe: the custom-resource protocol (function timeout 4 s)");
    let lambda = Lambda::start(
        "cr-probe",
        &binary("cr-probe"),
        4,
        &[("AWS_ENDPOINT_URL", &proxy.url()), ("DEADLINE_MARGIN_MS", "1500")],
    );
    let steps: [(&str, &str, Value); 5] = [
        ("succeed", "create", json!({"Behaviour": "Succeed"})),
        ("aws-error", "create", json!({"Behaviour": "AwsError"})),
        ("rollback", "delete", json!({"Behaviour": "Succeed"})),
        ("panic", "create", json!({"Behaviour": "Panic"})),
        ("hang", "create", json!({"Behaviour": "Hang"})),
    ];
    let mut placeholder = String::new();
    for (name, kind, props) in steps {
        proxy.reset();
        let mut request =
            CfnRequest::sample("cr-probe", kind, &response_url(receiver, name)).patch_properties(props.clone()).build();
        if name == "rollback" {
            request["PhysicalResourceId"] = json!(placeholder);
        }
        let invocation = lambda.invoke_json(&request);
        let answer = receiver
            .received_at(&format!("/cloudformation-custom-resource-response/{name}"))
            .pop()
            .map(|r| r.json())
            .unwrap_or(Value::Null);
        if name == "aws-error" {
            placeholder = answer["PhysicalResourceId"].as_str().unwrap_or_default().to_string();
        }
        let calls = proxy.calls();
        let calls = if calls.counts.is_empty() { "none".to_string() } else { format!("{:?}", calls.counts) };
        println!(
            "{:<7} {:<28} -> {} in {:.1} s, PhysicalResourceId {}\n        Reason: {}\n        AWS calls: {calls}",
            kind,
            props["Behaviour"].as_str().map(|b| format!("Behaviour={b}")).unwrap_or_default()
                + if name == "rollback" { " (rollback)" } else { "" },
            answer["Status"].as_str().unwrap_or("NO RESPONSE"),
            invocation.elapsed.as_secs_f64(),
            answer["PhysicalResourceId"],
            answer["Reason"].as_str().unwrap_or_default(),
        );
    }
}
