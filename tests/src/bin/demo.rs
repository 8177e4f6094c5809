//! `make demo`: every function against the local AWS emulator, printing what it did.
//! Starts moto (behind the counting proxy), a receiver standing in for CloudFormation, and the
//! Lambda emulator for each function; stops them all on exit.

use harness::ec2::{
    connection, group_rules, interface_endpoint, routes, s3_gateway, security_group, subnet, table, vpc,
};
use harness::{Aws, Lambda, Moto, Proxy, Receiver, binary, cfn_event, cfn_request, response_url};
use serde_json::{Value, json};

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
#[allow(clippy::too_many_arguments)]
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
    let request = cfn_event(function, event, &response_url(receiver, name), props, physical_id, old);
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
        let mut request = cfn_request(kind, &response_url(receiver, name), props.clone());
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
