//! The fault matrix (#10) of the custom resources, vpc-peering and endpoint-access: every action
//! each calls, failed in every way of [`testbed::faults::Fault`]; each must answer once, before
//! the deadline, naming the action and the code, and CloudFormation's next Delete must leave
//! nothing behind. The machinery is in `tests/src/faults.rs`; task-alerts' matrix is in
//! `faults_alerts.rs`, lifecycle-drain's in `faults_drain.rs`.

use std::time::Duration;

use serde_json::{Value, json};
use testbed::ec2::{endpoint_site, group_rules, routes, table, vpc};
use testbed::faults::{Case, Fault, Tally, WORKERS, cases, run_matrix, secrets_in, settle};
use testbed::{CfnRequest, Rig, response_url};

// ---- Custom resources ----------------------------------------------------------------------

/// A short timeout with a 1 s margin: the deadline guard answers 11 s in, so a slow answer (13 s)
/// outlasts it, while a persisting fault's retries (about 3 s) end first and leave the peering
/// wait the 5 s it keeps in reserve to undo a Create.
const CR_TIMEOUT: u32 = 12;
const CR_SLOW: Duration = Duration::from_secs(13);

fn cr_rig(function: &str) -> Rig {
    Rig::start_with(function, CR_TIMEOUT, &[("DEADLINE_MARGIN_MS", "1000")])
}

/// What a custom resource showed: its log, and the bodies of its responses (the URLs they were
/// PUT to carry the signature by design).
fn cr_output(rig: &Rig) -> String {
    let bodies: Vec<String> = rig.receiver.received().into_iter().map(|r| r.body).collect();
    format!("{}\n{}", rig.lambda.logs(), bodies.join("\n"))
}

/// Send one CloudFormation request and count its answers at the receiver; the answer, if one came.
fn cr_send(
    rig: &Rig,
    tally: &mut Tally,
    name: &str,
    event: &str,
    properties: &Value,
    physical_id: Option<&str>,
) -> Option<Value> {
    let url = response_url(&rig.receiver, name);
    let mut request = CfnRequest::sample(&rig.function, event, &url)
        .in_test_stack()
        .properties(properties)
        .physical_id(physical_id)
        .build();
    request["RequestId"] = json!(format!("{name}-0000-4000-8000-000000000000"));
    // One resource throughout, as in a stack (the sample events name different ones).
    request["LogicalResourceId"] = json!("Resource");
    let invocation = rig.lambda.invoke_json(&request);
    tally.secrets += secrets_in(&invocation.body);
    let answers = rig.receiver.received_at(&format!("/cloudformation-custom-resource-response/{name}"));
    let deadline = invocation.sent_at + f64::from(CR_TIMEOUT);
    if invocation.elapsed >= Duration::from_secs(CR_TIMEOUT.into()) || answers.iter().any(|a| a.time > deadline) {
        tally.hangs += 1;
        tally.problems.push(format!("{name}: no answer before the deadline ({:?})", invocation.elapsed));
    }
    tally.delivered(answers.len(), || format!("{name}: no response; invocation {invocation:?}"));
    let body = answers.first().map(|a| a.json());
    if let Some(body) = &body {
        let reason = body["Reason"].as_str().unwrap_or_default();
        tally.expect(!reason.contains('\n'), || format!("{name}: a reason of several lines: {reason}"));
    }
    body
}

/// A custom resource's case: the request that meets the fault (after a clean Create, if the fault
/// is in Delete), then what CloudFormation sends next (the rollback's Delete of whatever id the
/// answer gave, or the stack's Delete) without faults, and what must be left: nothing.
fn cr_case(rig: &Rig, tally: &mut Tally, case: &Case, properties: &Value, leftovers: impl Fn() -> Vec<String>) {
    let name = case.name();
    let create_event = create_event(&rig.function);
    rig.proxy.reset();
    let mut physical_id = None;
    if case.phase == "Delete" {
        let created = cr_send(rig, tally, &format!("{name}-setup"), create_event, properties, None);
        let created = created.unwrap_or_default();
        tally.expect(created["Status"] == "SUCCESS", || format!("{name}: the fault-free Create: {created}"));
        physical_id = created["PhysicalResourceId"].as_str().map(str::to_string);
    }
    rig.proxy.add_rule(case.fault.rule(&case.action, case.skip, CR_SLOW));
    let event = if case.phase == "Create" { create_event } else { "delete" };
    if let Some(body) = cr_send(rig, tally, &name, event, properties, physical_id.as_deref()) {
        let (status, reason) =
            (body["Status"].as_str().unwrap_or_default(), body["Reason"].as_str().unwrap_or_default());
        // A peering Delete whose peer role is denied goes on without it and says what it left.
        let without_peer = rig.function == "vpc-peering"
            && (case.phase, case.action.as_str(), case.fault) == ("Delete", "sts:AssumeRole", Fault::Denied);
        if case.fault == Fault::ThrottleClears {
            tally.expect(status == "SUCCESS", || format!("{name}: {status}: {reason}"));
        } else if without_peer {
            let said = status == "SUCCESS" && reason.contains("are left as blackholes: remove them there");
            tally.expect(said, || format!("{name}: expected SUCCESS naming what is left: {status}: {reason}"));
        } else {
            let code = case.fault.code(&case.action);
            let named = status == "FAILED" && reason.contains(&case.action) && reason.contains(code);
            tally.expect(named, || {
                format!("{name}: expected FAILED naming {} and {code}: {status}: {reason}", case.action)
            });
        }
        if case.phase == "Create" {
            physical_id = body["PhysicalResourceId"].as_str().map(str::to_string);
        }
    }
    settle(&rig.proxy);
    rig.proxy.reset();
    let cleanup = cr_send(rig, tally, &format!("{name}-cleanup"), "delete", properties, physical_id.as_deref());
    let cleanup = cleanup.unwrap_or_default();
    tally.expect(cleanup["Status"] == "SUCCESS", || format!("{name}: the Delete after it: {cleanup}"));
    let left = leftovers();
    tally.expect(left.is_empty(), || format!("{name}: left behind after the Delete: {left:?}"));
}

/// The sample event a custom resource's Create is sent as.
fn create_event(function: &str) -> &'static str {
    if function == "vpc-peering" { "create.cross-account" } else { "create" }
}

/// What a custom resource's case is set up with: the Create's properties, and what it left.
type Leftovers<'a> = Box<dyn Fn() -> Vec<String> + 'a>;
type Site = for<'a> fn(&'a Rig) -> (Value, Leftovers<'a>);

/// A custom resource's matrix: a fault-free Create and Delete give the actions by phase (and
/// leave nothing), then every case runs on a fresh site.
fn cr_matrix(function: &str, site: Site, expected: &[&str]) {
    let phases = {
        let rig = cr_rig(function);
        let mut tally = Tally::default();
        let (properties, leftovers) = site(&rig);
        let created =
            cr_send(&rig, &mut tally, "baseline", create_event(function), &properties, None).unwrap_or_default();
        assert_eq!(created["Status"], "SUCCESS", "{created}");
        let create = rig.proxy.calls();
        rig.proxy.reset();
        let id = created["PhysicalResourceId"].as_str().map(str::to_string);
        let deleted =
            cr_send(&rig, &mut tally, "baseline-delete", "delete", &properties, id.as_deref()).unwrap_or_default();
        assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
        assert_eq!(leftovers(), Vec::<String>::new());
        vec![("Create", create), ("Delete", rig.proxy.calls())]
    };
    let run = |rig: &Rig, case: &Case, tally: &mut Tally| {
        let (properties, leftovers) = site(rig);
        cr_case(rig, tally, case, &properties, leftovers);
    };
    let tally = run_matrix(cases(&phases, expected), WORKERS, || cr_rig(function), run, cr_output);
    tally.finish(function, "responses");
}

const PEER_ACCOUNT: &str = "222222222222";

/// Two VPCs in two accounts and regions, a route table on each side, DNS on; left behind: routes
/// in either table, a connection not deleted.
fn peering_site(rig: &Rig) -> (Value, Leftovers<'_>) {
    let ec2 = rig.aws.ec2("us-east-1");
    let peer_aws = rig.aws.as_account(PEER_ACCOUNT);
    let peer_ec2 = peer_aws.ec2("eu-west-1");
    let local = vpc(&rig.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&peer_aws, &peer_ec2, "10.2.0.0/16", &["10.3.0.0/16"], true);
    let (a, p) = (table(&rig.aws, &ec2, &local), table(&peer_aws, &peer_ec2, &peer));
    let properties = json!({
        "VpcId": local.id, "PeerVpcId": peer.id, "PeerOwnerId": PEER_ACCOUNT, "PeerRegion": "eu-west-1",
        "PeerRoleArn": format!("arn:aws:iam::{PEER_ACCOUNT}:role/peering"),
        "RouteTableIds": [a], "PeerRouteTableIds": [p], "AllowDnsResolution": "true",
    });
    let leftovers = move || {
        let (ec2, peer_aws) = (rig.aws.ec2("us-east-1"), rig.aws.as_account(PEER_ACCOUNT));
        let mut left: Vec<String> = routes(&rig.aws, &ec2, &a).into_iter().map(|r| format!("{a}: {r:?}")).collect();
        left.extend(routes(&peer_aws, &peer_aws.ec2("eu-west-1"), &p).into_iter().map(|r| format!("{p}: {r:?}")));
        let all =
            rig.aws.block_on(ec2.describe_vpc_peering_connections().send()).expect("DescribeVpcPeeringConnections");
        for c in all.vpc_peering_connections() {
            let status = c.status().and_then(|s| s.code()).map(|c| c.as_str().to_string()).unwrap_or_default();
            let ours = c.requester_vpc_info().and_then(|v| v.vpc_id()) == Some(local.id.as_str());
            if ours && !["deleted", "rejected", "failed", "expired"].contains(&status.as_str()) {
                left.push(format!("{} {status}", c.vpc_peering_connection_id().unwrap_or_default()));
            }
        }
        left
    };
    (properties, Box::new(leftovers))
}

#[test]
fn vpc_peering_answers_every_fault_once_in_time_and_leaves_nothing() {
    let expected = [
        "ec2:AcceptVpcPeeringConnection",
        "ec2:CreateRoute",
        "ec2:CreateVpcPeeringConnection",
        "ec2:DeleteRoute",
        "ec2:DeleteVpcPeeringConnection",
        "ec2:DescribeRouteTables",
        "ec2:DescribeVpcAttribute",
        "ec2:DescribeVpcPeeringConnections",
        "ec2:DescribeVpcs",
        "ec2:ModifyVpcPeeringConnectionOptions",
        "sts:AssumeRole",
    ];
    cr_matrix("vpc-peering", peering_site, &expected);
}

/// [`endpoint_site`]: a VPC with three interface endpoints, an S3 gateway and two task groups;
/// left behind: any rule carrying an owner tag.
fn access_site(rig: &Rig) -> (Value, Leftovers<'_>) {
    let site = endpoint_site(&rig.aws);
    let properties = json!({"VpcId": site.vpc.id, "TaskSecurityGroupIds": site.tasks});
    let groups: Vec<String> = site.endpoint_groups.iter().chain(&site.tasks).cloned().collect();
    let leftovers = move || {
        let ec2 = rig.aws.ec2("us-east-1");
        let owned = |g: &String| {
            let rules = group_rules(&rig.aws, &ec2, g).into_iter().filter(|r| r.owner.is_some());
            rules.map(|r| format!("{g}: {r:?}")).collect::<Vec<_>>()
        };
        groups.iter().flat_map(owned).collect()
    };
    (properties, Box::new(leftovers))
}

#[test]
fn endpoint_access_answers_every_fault_once_in_time_and_leaves_nothing() {
    let expected = [
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:DescribeManagedPrefixLists",
        "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeVpcs",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
    ];
    cr_matrix("endpoint-access", access_site, &expected);
}
