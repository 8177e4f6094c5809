//! `Custom::EndpointAccess` end to end: the built function in the Lambda emulator, moto behind
//! the counting proxy, the responses at the receiver. Tests seed and read moto directly.

use harness::Rig;
use harness::ec2::{EndpointSite as Site, endpoint_site, group_rules, interface_endpoint, security_group, vpc};
use harness::rig::STACK_ID;
use serde_json::{Value, json};

fn world() -> Rig {
    Rig::start("endpoint-access", 30)
}

fn site(w: &Rig) -> Site {
    endpoint_site(&w.aws)
}

fn send(w: &Rig, name: &str, event: &str, properties: &Value, old: Option<&Value>) -> Value {
    let physical_id = format!("{}/TaskEndpointAccess", properties["VpcId"].as_str().unwrap_or_default());
    w.send(name, event, properties, (event != "create").then_some(physical_id.as_str()), old)
}

fn owner(site: &Site) -> String {
    format!("{STACK_ID}/TaskEndpointAccess/{}", site.vpc.id)
}

/// (egress, peer, owned) of each rule of `group`, the default ones left out.
fn rules_of(w: &Rig, group: &str) -> Vec<(bool, String, bool)> {
    let ec2 = w.aws.ec2("us-east-1");
    group_rules(&w.aws, &ec2, group)
        .into_iter()
        .filter(|r| r.peer != "0.0.0.0/0" && r.peer != "::/0")
        .map(|r| {
            assert_eq!((r.protocol.as_str(), r.ports), ("tcp", (443, 443)), "{r:?}");
            (r.egress, r.peer, r.owner.is_some())
        })
        .collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn create_adds_exactly_the_needed_rules_and_delete_revokes_only_them() {
    let w = world();
    let s = site(&w);
    let ec2 = w.aws.ec2("us-east-1");
    // A rule that already allowed tasks-a into the logs endpoint before the stack existed.
    let theirs = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .user_id_group_pairs(aws_sdk_ec2::types::UserIdGroupPair::builder().group_id(&s.tasks[0]).build())
        .build();
    w.aws
        .block_on(ec2.authorize_security_group_ingress().group_id(&s.endpoint_groups[2]).ip_permissions(theirs).send())
        .unwrap();
    let properties = json!({"VpcId": s.vpc.id, "TaskSecurityGroupIds": s.tasks});

    let body = send(&w, "create", "create", &properties, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["PhysicalResourceId"], json!(format!("{}/TaskEndpointAccess", s.vpc.id)));
    let mut groups = s.endpoint_groups.clone();
    groups.sort();
    assert_eq!(body["Data"]["EndpointSecurityGroupIds"], json!(groups.join(",")));
    assert_eq!(body["Data"]["Missing"], "");
    // 3 endpoint groups × 2 task groups ingress, less the one already there; egress 2 × (3 + S3).
    assert_eq!(body["Data"]["RulesAdded"], "13");
    for (i, group) in s.endpoint_groups.iter().enumerate() {
        let mut expected = vec![(false, s.tasks[0].clone(), i != 2), (false, s.tasks[1].clone(), true)];
        expected.sort();
        assert_eq!(sorted(rules_of(&w, group)), expected, "endpoint group {i}");
    }
    for task in &s.tasks {
        let mut expected: Vec<_> = s.endpoint_groups.iter().map(|g| (true, g.clone(), true)).collect();
        expected.push((true, s.prefix_list.clone(), true));
        assert_eq!(sorted(rules_of(&w, task)), sorted(expected), "task group {task}");
    }
    let owners: Vec<_> = group_rules(&w.aws, &ec2, &s.tasks[0]).into_iter().filter_map(|r| r.owner).collect();
    assert!(owners.iter().all(|o| *o == owner(&s)), "{owners:?}");

    // A no-op Update: reads only.
    w.proxy.reset();
    let body = send(&w, "noop", "update", &properties, Some(&properties));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(w.writes(), Vec::<String>::new());

    // Delete twice: only the tagged rules go; the one that was there before stays.
    for name in ["delete", "delete-again"] {
        let body = send(&w, name, "delete", &properties, None);
        assert_eq!(body["Status"], "SUCCESS", "{name}: {body}");
        assert_eq!(rules_of(&w, &s.endpoint_groups[2]), vec![(false, s.tasks[0].clone(), false)], "{name}");
        for group in s.endpoint_groups.iter().take(2).chain(&s.tasks) {
            assert_eq!(rules_of(&w, group), vec![], "{name}: {group}");
        }
    }
}

#[test]
fn missing_endpoints_fail_or_are_reported() {
    let w = world();
    let s = site(&w);
    let ec2 = w.aws.ec2("us-east-1");
    let services = json!(["ecr.api", "ecr.dkr", "logs", "s3", "secretsmanager"]);
    let fail = json!({"VpcId": s.vpc.id, "TaskSecurityGroupIds": s.tasks, "Services": services});
    let body = send(&w, "fail", "create", &fail, None);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "missing VPC endpoints in {}: secretsmanager (no endpoint); add an endpoint for each",
            s.vpc.id
        )),
        "{reason}"
    );
    assert_eq!(w.writes(), Vec::<String>::new(), "nothing added");

    let mut report = fail.clone();
    report["OnMissing"] = json!("Report");
    let body = send(&w, "report", "create", &report, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["Missing"], "secretsmanager");

    // An interface endpoint with private DNS off counts as missing, and the reason says so.
    let group = security_group(&w.aws, &ec2, &s.vpc, "ssm-endpoint", false);
    let ssm = interface_endpoint(&w.aws, &ec2, &s.vpc, &s.subnet, "ssm", &group, false);
    let dns_off = json!({"VpcId": s.vpc.id, "TaskSecurityGroupIds": s.tasks, "Services": ["ssm"]});
    let body = send(&w, "dns-off", "create", &dns_off, None);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.contains(&format!("ssm ({ssm} has private DNS off)")), "{reason}");
}

#[test]
fn update_revokes_a_dropped_task_group_and_adds_a_new_service() {
    let w = world();
    let s = site(&w);
    let ec2 = w.aws.ec2("us-east-1");
    let before = json!({"VpcId": s.vpc.id, "TaskSecurityGroupIds": s.tasks, "Services": ["ecr.api", "s3"]});
    assert_eq!(send(&w, "create", "create", &before, None)["Status"], "SUCCESS");

    // Drop tasks-b: its rules go (ingress on the endpoint group, its own egress), nothing else.
    w.proxy.reset();
    let after = json!({"VpcId": s.vpc.id, "TaskSecurityGroupIds": [s.tasks[0]], "Services": ["ecr.api", "s3"]});
    let body = send(&w, "drop-group", "update", &after, Some(&before));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(rules_of(&w, &s.tasks[1]), vec![]);
    assert_eq!(rules_of(&w, &s.endpoint_groups[0]), vec![(false, s.tasks[0].clone(), true)]);
    assert_eq!(rules_of(&w, &s.tasks[0]).len(), 2, "tasks-a keeps its egress to ecr.api and S3");
    let revokes = w.writes();
    assert_eq!(
        sorted(revokes),
        ["ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress"]
    );

    // Add logs: only its rules are added.
    w.proxy.reset();
    let more = json!({"VpcId": s.vpc.id, "TaskSecurityGroupIds": [s.tasks[0]], "Services": ["ecr.api", "s3", "logs"]});
    let body = send(&w, "add-service", "update", &more, Some(&after));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(sorted(w.writes()), ["ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress"]);
    assert_eq!(rules_of(&w, &s.endpoint_groups[2]), vec![(false, s.tasks[0].clone(), true)]);
    let _ = ec2;
}

#[test]
fn open_egress_gets_no_egress_rule_and_the_log_says_why() {
    let w = world();
    let s = site(&w);
    let ec2 = w.aws.ec2("us-east-1");
    let open = security_group(&w.aws, &ec2, &s.vpc, "tasks-open", false);
    let properties = json!({"VpcId": s.vpc.id, "TaskSecurityGroupIds": [open], "Services": ["ecr.api", "s3"]});
    let body = send(&w, "open", "create", &properties, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(rules_of(&w, &open), vec![], "no egress rule added to an open group");
    assert_eq!(body["Data"]["RulesAdded"], "1", "only the ingress on the endpoint group");
    let logs = w.lambda.logs();
    let why: Vec<&str> =
        logs.lines().filter(|l| l.contains("left alone: another rule already allows this traffic")).collect();
    assert_eq!(why.len(), 2, "one line per egress rule not needed:\n{logs}");
    assert!(why.iter().all(|l| l.contains(&format!("{open} egress tcp/443"))), "{why:?}");
}

#[test]
fn bad_groups_and_the_rule_limit_are_named_and_nothing_is_left_half_done() {
    let w = world();
    let s = site(&w);
    let ec2 = w.aws.ec2("us-east-1");
    let elsewhere = vpc(&w.aws, &ec2, "10.9.0.0/16", &[], true);
    let foreign = security_group(&w.aws, &ec2, &elsewhere, "foreign", false);
    let cases = [
        (
            "foreign",
            json!([s.tasks[0], foreign]),
            format!("security group {foreign} is in {}, not {}", elsewhere.id, s.vpc.id),
        ),
        (
            "unknown",
            json!([s.tasks[0], "sg-0123456789abcdef0"]),
            "security group sg-0123456789abcdef0 not found".to_string(),
        ),
    ];
    for (name, groups, expected) in cases {
        let body = send(&w, name, "create", &json!({"VpcId": s.vpc.id, "TaskSecurityGroupIds": groups}), None);
        assert_eq!(body["Status"], "FAILED", "{name}");
        let reason = body["Reason"].as_str().unwrap();
        assert!(reason.starts_with(&expected), "{name}: {reason}");
    }

    // The limit, reached on the third ingress rule: named, and every rule added before it in
    // this request (egress rules included) is revoked.
    w.proxy.reset();
    w.proxy.add_rule(json!({"action": "ec2:AuthorizeSecurityGroupIngress", "skip": 2, "times": 1, "status": 400, "code": "RulesPerSecurityGroupLimitExceeded", "message": "The maximum number of rules per security group has been reached."}));
    let body = send(&w, "limit", "create", &json!({"VpcId": s.vpc.id, "TaskSecurityGroupIds": s.tasks}), None);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with("security group sg-") && reason.contains("has reached its rule limit"), "{reason}");
    let added = w.proxy.calls().calls.iter().filter(|c| c.action.contains(":Authorize") && !c.injected).count();
    assert!(added >= 2, "rules were added before the limit: {added}");
    assert!(reason.contains(&format!("; rolled back the {added} rule(s) this request had added")), "{reason}");
    for group in s.endpoint_groups.iter().chain(&s.tasks) {
        assert_eq!(rules_of(&w, group), vec![], "{group}: nothing left behind");
    }
}
