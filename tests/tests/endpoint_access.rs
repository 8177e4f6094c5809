//! `Custom::EndpointAccess` end to end: the built function in the Lambda emulator, moto behind
//! the counting proxy, the responses at the receiver. Tests seed and read moto directly.

use serde_json::{Value, json};
use testbed::ec2::{EndpointSite as Site, endpoint_site, group_rules, interface_endpoint, security_group, vpc};
use testbed::{CfnRequest, Rig, STACK_ID};

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

/// The proxy's AWS-realism rule for security-group rules (`tests/servers/realism.py`): a rule id
/// just returned by an Authorize answers NotFound to the first Revoke naming it.
const REALISM: &str = r#"{"new_rule_not_found": 1}"#;

/// Forget the calls counted so far; under realism, turn its rules on again (a reset clears them).
fn reset(w: &Rig, realism: bool) {
    w.proxy.reset();
    if realism {
        w.proxy.realism(serde_json::from_str(REALISM).unwrap_or_default());
    }
}

#[test]
fn create_adds_exactly_the_needed_rules_and_delete_revokes_only_them() {
    create_update_delete(false);
}

/// The same under realism: the Delete's revokes of rules just made read NotFound at first.
#[test]
fn create_update_delete_under_aws_realism_revokes_every_rule_it_added() {
    create_update_delete(true);
}

fn create_update_delete(realism: bool) {
    let w = world();
    reset(&w, realism);
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
    reset(&w, realism);
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

/// Issue #17: EC2 takes many rules a call, so a Create writes once per endpoint group (ingress
/// from every task group) and once per task group (egress to every endpoint group and S3), and a
/// Delete revokes with as many: 4 endpoints × 3 task groups is 27 rules in 7 writes each way (one
/// write a rule was 27). moto returns each rule a call made, so each is matched to its id.
#[test]
fn writes_are_one_call_per_group_and_direction() {
    let w = world();
    let s = site(&w);
    let ec2 = w.aws.ec2("us-east-1");
    let secrets = security_group(&w.aws, &ec2, &s.vpc, "secretsmanager-endpoint", false);
    interface_endpoint(&w.aws, &ec2, &s.vpc, &s.subnet, "secretsmanager", &secrets, true);
    let tasks = [s.tasks[0].clone(), s.tasks[1].clone(), security_group(&w.aws, &ec2, &s.vpc, "tasks-c", true)];
    let endpoint_groups: Vec<String> = s.endpoint_groups.iter().chain([&secrets]).cloned().collect();
    let services = ["ecr.api", "ecr.dkr", "logs", "s3", "secretsmanager"];
    let properties = json!({"VpcId": s.vpc.id, "TaskSecurityGroupIds": tasks, "Services": services});

    w.proxy.reset();
    let body = send(&w, "create", "create", &properties, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["RulesAdded"], "27");
    let calls = w.proxy.calls();
    let authorized =
        (calls.count("ec2:AuthorizeSecurityGroupIngress"), calls.count("ec2:AuthorizeSecurityGroupEgress"));
    assert_eq!(authorized, (4, 3), "one write per group");
    assert_eq!(w.writes().len(), 7, "{:?}", w.writes());
    for group in &endpoint_groups {
        let expected: Vec<_> = tasks.iter().map(|t| (false, t.clone(), true)).collect();
        assert_eq!(sorted(rules_of(&w, group)), sorted(expected), "{group}");
    }
    for task in &tasks {
        let mut expected: Vec<_> = endpoint_groups.iter().map(|g| (true, g.clone(), true)).collect();
        expected.push((true, s.prefix_list.clone(), true));
        assert_eq!(sorted(rules_of(&w, task)), sorted(expected), "{task}");
    }
    let logs = w.lambda.logs();
    assert_eq!(logs.matches("added rule").count(), 27, "each rule matched to the id EC2 returned:\n{logs}");
    assert!(!logs.contains("returned no rule id") && !logs.contains("not asked for"), "{logs}");

    w.proxy.reset();
    let body = send(&w, "delete", "delete", &properties, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let calls = w.proxy.calls();
    let revoked = (calls.count("ec2:RevokeSecurityGroupIngress"), calls.count("ec2:RevokeSecurityGroupEgress"));
    assert_eq!(revoked, (4, 3), "one write per group");
    assert_eq!(w.writes().len(), 7, "{:?}", w.writes());
    for group in endpoint_groups.iter().chain(&tasks) {
        assert_eq!(rules_of(&w, group), vec![], "{group}: revoked");
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
    // Three rules, two writes: tasks-b's two egress rules in one call.
    assert_eq!(sorted(w.writes()), ["ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress"]);

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
    bad_groups_and_the_rule_limit(false);
}

/// The same under realism: the rollback's revokes of the rules it had just added read NotFound
/// at first, and it does not take that for "already gone".
#[test]
fn under_aws_realism_a_rollback_revokes_every_rule_it_added() {
    bad_groups_and_the_rule_limit(true);
}

fn bad_groups_and_the_rule_limit(realism: bool) {
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

    // The limit, reached on the third ingress write: named, and every rule added before it in
    // this request (egress rules included) is revoked.
    reset(&w, realism);
    w.proxy.add_rule(json!({"action": "ec2:AuthorizeSecurityGroupIngress", "skip": 2, "times": 1, "status": 400, "code": "RulesPerSecurityGroupLimitExceeded", "message": "The maximum number of rules per security group has been reached."}));
    let body = send(&w, "limit", "create", &json!({"VpcId": s.vpc.id, "TaskSecurityGroupIds": s.tasks}), None);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with("security group sg-") && reason.contains("has reached its rule limit"), "{reason}");
    let writes = w.proxy.calls().calls.iter().filter(|c| c.action.contains(":Authorize") && !c.injected).count();
    assert!(writes >= 2, "rules were added before the limit: {writes}");
    // One write per group, in the order of the groups' ids: two rules on each endpoint group
    // (one per task group), four from each task group (three endpoint groups and S3); the writes
    // before the third endpoint group's made what is rolled back.
    let mut order: Vec<(&String, usize, bool)> =
        s.endpoint_groups.iter().map(|g| (g, 2, true)).chain(s.tasks.iter().map(|t| (t, 4, false))).collect();
    order.sort();
    let (mut ingress, mut added) = (0, 0);
    for (_, rules, is_ingress) in order {
        ingress += usize::from(is_ingress);
        if ingress == 3 {
            break;
        }
        added += rules;
    }
    assert!(reason.contains(&format!("; rolled back the {added} rule(s) this request had added")), "{reason}");
    for group in s.endpoint_groups.iter().chain(&s.tasks) {
        assert_eq!(rules_of(&w, group), vec![], "{group}: nothing left behind");
    }
}

/// Send `event` as the resource `logical_id` of the stack `stack_id` (checks as [`Rig::send`]).
fn send_as(w: &Rig, name: &str, event: &str, stack_id: &str, logical_id: &str, properties: &Value) -> Value {
    let url = testbed::response_url(&w.receiver, name);
    let physical_id = format!("{}/{logical_id}", properties["VpcId"].as_str().unwrap_or_default());
    let mut request = CfnRequest::sample(&w.function, event, &url)
        .in_test_stack()
        .properties(properties)
        .physical_id((event != "create").then_some(physical_id.as_str()))
        .build();
    request["StackId"] = json!(stack_id);
    request["LogicalResourceId"] = json!(logical_id);
    w.send_request(name, request)
}

/// The China partition, where most interface services are `cn.com.amazonaws.<region>.<name>`
/// (ecr.api, ecr.dkr) and others `com.amazonaws.<region>.<name>` (logs, the S3 gateway and its
/// prefix list), with the longest stack name (128) and logical id (255) CloudFormation allows:
/// every service is found, every rule added, each description within EC2's 255 characters and
/// character set; Delete revokes them all.
#[test]
fn china_service_names_and_the_longest_stack_name_and_logical_id() {
    const REGION: &str = "cn-north-1";
    let w = Rig::start_with("endpoint-access", 30, &[("AWS_REGION", REGION)]);
    let ec2 = w.aws.ec2(REGION);
    let net = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let subnet = testbed::ec2::subnet(&w.aws, &ec2, &net, "10.0.1.0/24");
    let mut endpoint_groups = Vec::new();
    for service in
        ["cn.com.amazonaws.cn-north-1.ecr.api", "cn.com.amazonaws.cn-north-1.ecr.dkr", "com.amazonaws.cn-north-1.logs"]
    {
        let group = security_group(&w.aws, &ec2, &net, service, false);
        let endpoint = ec2
            .create_vpc_endpoint()
            .vpc_id(&net.id)
            .service_name(service)
            .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Interface)
            .subnet_ids(&subnet)
            .security_group_ids(&group)
            .private_dns_enabled(true);
        w.aws.block_on(endpoint.send()).unwrap();
        endpoint_groups.push(group);
    }
    let table = testbed::ec2::table(&w.aws, &ec2, &net);
    let gateway = ec2
        .create_vpc_endpoint()
        .vpc_id(&net.id)
        .service_name("com.amazonaws.cn-north-1.s3")
        .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Gateway)
        .route_table_ids(table);
    w.aws.block_on(gateway.send()).unwrap();
    let tasks = security_group(&w.aws, &ec2, &net, "tasks", true);
    let prefix_list = {
        let filter =
            aws_sdk_ec2::types::Filter::builder().name("prefix-list-name").values("com.amazonaws.cn-north-1.s3");
        let out = w.aws.block_on(ec2.describe_managed_prefix_lists().filters(filter.build()).send()).unwrap();
        out.prefix_lists()[0].prefix_list_id().unwrap().to_string()
    };

    let stack_name = format!("S{}", "-a1".repeat(42) + "b");
    let logical_id = format!("L{}", "x".repeat(254));
    assert_eq!((stack_name.len(), logical_id.len()), (128, 255));
    let stack_id = format!(
        "arn:aws-cn:cloudformation:{REGION}:123456789012:stack/{stack_name}/8d2f6a10-1f3e-11f1-9c4b-0e7a5c3b2d11"
    );
    let properties = json!({"VpcId": net.id, "TaskSecurityGroupIds": [tasks]});

    let body = send_as(&w, "china-create", "create", &stack_id, &logical_id, &properties);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["Missing"], "");
    assert_eq!(body["Data"]["RulesAdded"], "7", "3 ingress, 3 egress to the endpoints, 1 to S3's prefix list");
    let peers = |group: &str| -> Vec<(bool, String, bool)> {
        group_rules(&w.aws, &ec2, group)
            .into_iter()
            .filter(|r| r.peer != "0.0.0.0/0" && r.peer != "::/0")
            .map(|r| (r.egress, r.peer, r.owner.is_some()))
            .collect()
    };
    for group in &endpoint_groups {
        assert_eq!(peers(group), vec![(false, tasks.clone(), true)], "{group}");
    }
    let mut expected: Vec<_> = endpoint_groups.iter().map(|g| (true, g.clone(), true)).collect();
    expected.push((true, prefix_list, true));
    assert_eq!(sorted(peers(&tasks)), sorted(expected));

    // What the function wrote as descriptions (moto keeps them on group pairs; it checks neither
    // length nor characters, so the test does, against EC2's rule).
    let mut groups = endpoint_groups.clone();
    groups.push(tasks.clone());
    let described = w.aws.block_on(ec2.describe_security_groups().set_group_ids(Some(groups)).send()).unwrap();
    let descriptions: Vec<String> = described
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions().iter().chain(g.ip_permissions_egress()))
        .flat_map(|p| p.user_id_group_pairs())
        .filter_map(|pair| pair.description().map(str::to_owned))
        .collect();
    assert_eq!(descriptions.len(), 6, "{descriptions:?}");
    for d in &descriptions {
        let allowed = |c: char| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=;{}!$*".contains(c);
        assert!(d.len() <= 255 && d.chars().all(allowed), "{} characters: {d}", d.len());
        assert!(d.starts_with(&format!("ecs-plumbing {}...", &stack_name[..105])), "{d}");
        assert!(d.ends_with(": tasks to VPC endpoints"), "{d}");
    }

    let body = send_as(&w, "china-delete", "delete", &stack_id, &logical_id, &properties);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    for group in endpoint_groups.iter().chain([&tasks]) {
        assert_eq!(peers(group), vec![], "{group}: revoked");
    }
}
