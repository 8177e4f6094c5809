//! `Custom::VpcPeering` end to end: the built function in the Lambda emulator, moto behind the
//! counting proxy, the responses at the receiver. Tests seed and read moto directly.

use serde_json::{Value, json};
use testbed::ec2::{connection, peering_realism, route_to_gateway, routes, table, vpc};
use testbed::{Aws, Rig};

const PEER_ACCOUNT: &str = "222222222222";

fn world() -> Rig {
    Rig::start("vpc-peering", 30)
}

fn via(cidrs: &[&str], target: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = cidrs.iter().map(|c| (c.to_string(), target.to_string())).collect();
    v.sort();
    v
}

/// Forget the calls counted so far; under realism, turn its rules on again (a reset clears them).
fn reset(w: &Rig, realism: bool) {
    w.proxy.reset();
    if realism {
        w.proxy.realism(peering_realism());
    }
}

#[test]
fn same_account_same_region_create_update_delete() {
    same_account_crud(false);
}

/// The same, with EC2's eventual consistency as AWS has it (a new connection reads NotFound, its
/// CIDR blocks missing from the first describe).
#[test]
fn same_account_same_region_create_update_delete_under_aws_realism() {
    same_account_crud(true);
}

fn same_account_crud(realism: bool) {
    let w = world();
    reset(&w, realism);
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &["10.1.0.0/16"], true);
    let peer = vpc(&w.aws, &ec2, "10.2.0.0/16", &["100.64.0.0/16"], true);
    let (a, b, p) = (table(&w.aws, &ec2, &local), table(&w.aws, &ec2, &local), table(&w.aws, &ec2, &peer));
    let igw = route_to_gateway(&w.aws, &ec2, &local, &a, "0.0.0.0/0");
    let properties = json!({
        "VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [a, b], "PeerRouteTableIds": [p],
        "AllowDnsResolution": "true", "ExcludeCidrs": ["100.64.0.0/16"],
    });

    let body = w.send("create", "create.same-account", &properties, None, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let pcx = body["PhysicalResourceId"].as_str().unwrap().to_string();
    assert!(pcx.starts_with("pcx-"));
    assert_eq!(body["Data"]["PeeringConnectionId"], json!(pcx));
    assert_eq!(body["Data"]["Status"], "active");
    assert_eq!(connection(&w.aws, &ec2, &pcx), ("active".into(), true, true), "active, DNS on both sides");
    // Exactly one route per (table, CIDR), IPv6 and secondary included, the excluded block absent.
    let peer_routed = [peer.cidrs[0].as_str(), peer.cidrs[2].as_str()];
    let mut with_igw = via(&peer_routed, &pcx);
    with_igw.push(("0.0.0.0/0".into(), igw.clone()));
    with_igw.sort();
    assert_eq!(routes(&w.aws, &ec2, &a), with_igw);
    assert_eq!(routes(&w.aws, &ec2, &b), via(&peer_routed, &pcx));
    let local_cidrs: Vec<&str> = local.cidrs.iter().map(String::as_str).collect();
    assert_eq!(routes(&w.aws, &ec2, &p), via(&local_cidrs, &pcx));

    // The same Create again (a retried deployment): the same answer, reads only.
    reset(&w, realism);
    let again = w.send("create-again", "create.same-account", &properties, None, None);
    assert_eq!((again["Status"].as_str(), again["PhysicalResourceId"].as_str()), (Some("SUCCESS"), Some(pcx.as_str())));
    assert_eq!(w.writes(), Vec::<String>::new(), "a repeated Create changes nothing");

    // Update that drops table b: only our routes there go.
    reset(&w, realism);
    let mut fewer = properties.clone();
    fewer["RouteTableIds"] = json!([a]);
    let body = w.send("drop-table", "update.add-table", &fewer, Some(&pcx), Some(&properties));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["PhysicalResourceId"], json!(pcx));
    assert_eq!(routes(&w.aws, &ec2, &b), vec![]);
    assert_eq!(routes(&w.aws, &ec2, &a), with_igw);
    assert_eq!(w.writes(), ["ec2:DeleteRoute", "ec2:DeleteRoute"]);

    // The same Update again: reads only.
    reset(&w, realism);
    let body = w.send("drop-table-again", "update.add-table", &fewer, Some(&pcx), Some(&properties));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(w.writes(), Vec::<String>::new(), "a repeated Update changes nothing");

    // Delete: our routes and the connection go; the gateway route someone else added stays.
    for name in ["delete", "delete-again"] {
        let body = w.send(name, "delete", &fewer, Some(&pcx), None);
        assert_eq!(body["Status"], "SUCCESS", "{name}: {body}");
        assert_eq!(routes(&w.aws, &ec2, &a), vec![("0.0.0.0/0".to_string(), igw.clone())], "{name}");
        assert_eq!(routes(&w.aws, &ec2, &p), vec![], "{name}");
        assert_eq!(connection(&w.aws, &ec2, &pcx).0, "deleted", "{name}");
    }
}

#[test]
fn a_route_in_the_way_fails_create_and_stays() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&w.aws, &ec2, "10.2.0.0/16", &[], true);
    let a = table(&w.aws, &ec2, &local);
    let igw = route_to_gateway(&w.aws, &ec2, &local, &a, "10.2.0.0/16");
    let before = routes(&w.aws, &ec2, &a);

    let body = w.send(
        "conflict",
        "create.same-account",
        &json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [a]}),
        None,
        None,
    );
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("route conflict: {a} already sends 10.2.0.0/16 to gateway {igw};")),
        "{reason}"
    );
    assert_eq!(routes(&w.aws, &ec2, &a), before, "the route in the way is unchanged");
    assert_eq!(w.writes(), Vec::<String>::new(), "nothing was created");
}

#[test]
fn overlapping_cidrs_fail_before_anything_is_created() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&w.aws, &ec2, "10.0.128.0/17", &[], true);
    let body = w.send("overlap", "create.same-account", &json!({"VpcId": local.id, "PeerVpcId": peer.id}), None, None);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "overlapping CIDR blocks: 10.0.0.0/16 ({}) and 10.0.128.0/17 ({})",
            local.id, peer.id
        )),
        "{reason}"
    );
    assert_eq!(w.proxy.calls().count("ec2:CreateVpcPeeringConnection"), 0);
    assert_eq!(w.writes(), Vec::<String>::new());
}

#[test]
fn cross_region_and_cross_account_end_active_with_routes_and_dns_on_both_sides() {
    cross_region_and_cross_account(false);
}

/// The same under realism: the connection reads NotFound at first in both regions, the accepter's
/// region reads it provisioning after the accept (refusing its DNS option and routes meanwhile),
/// and the peer role is denied for its first 3 s (IAM propagation).
#[test]
fn cross_region_and_cross_account_under_aws_realism_end_active_with_routes_and_dns_on_both_sides() {
    cross_region_and_cross_account(true);
}

fn cross_region_and_cross_account(realism: bool) {
    let w = world();
    reset(&w, realism);
    let ec2 = w.aws.ec2("us-east-1");
    let peer_account = w.aws.as_account(PEER_ACCOUNT);
    // (case, peer account's view, extra properties)
    let cases: [(&str, &Aws, Value); 2] = [
        ("same account, other region", &w.aws, json!({"PeerRegion": "eu-west-1"})),
        (
            "other account via its role, other region",
            &peer_account,
            json!({"PeerRegion": "eu-west-1", "PeerOwnerId": PEER_ACCOUNT, "PeerRoleArn": format!("arn:aws:iam::{PEER_ACCOUNT}:role/peering")}),
        ),
    ];
    for (i, (case, peer_aws, extra)) in cases.into_iter().enumerate() {
        let peer_ec2 = peer_aws.ec2("eu-west-1");
        let local = vpc(&w.aws, &ec2, &format!("10.{}.0.0/16", 10 * i), &[&format!("10.{}.0.0/16", 10 * i + 1)], true);
        let shared_block = format!("100.{}.0.0/16", 64 + i);
        let peer = vpc(
            peer_aws,
            &peer_ec2,
            &format!("10.{}.0.0/16", 10 * i + 2),
            &[&format!("10.{}.0.0/16", 10 * i + 3), &shared_block],
            true,
        );
        let (a, p) = (table(&w.aws, &ec2, &local), table(peer_aws, &peer_ec2, &peer));
        let mut properties = json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [a], "PeerRouteTableIds": [p], "ExcludeCidrs": [shared_block]});
        for (k, v) in extra.as_object().unwrap() {
            properties[k] = v.clone();
        }
        if realism && let Some(role) = properties["PeerRoleArn"].as_str() {
            w.proxy.realism(json!({"assume_role_denied": {role: 3}}));
        }
        let body = w.send(&format!("cross-{i}"), "create.cross-account", &properties, None, None);
        assert_eq!(body["Status"], "SUCCESS", "{case}: {body}");
        let pcx = body["PhysicalResourceId"].as_str().unwrap().to_string();
        assert_eq!(connection(&w.aws, &ec2, &pcx), ("active".into(), true, true), "{case}: seen from the requester");
        assert_eq!(connection(peer_aws, &peer_ec2, &pcx).0, "active", "{case}: seen from the accepter");
        let peer_cidrs: Vec<&str> = peer.cidrs.iter().map(String::as_str).filter(|c| *c != shared_block).collect();
        let local_cidrs: Vec<&str> = local.cidrs.iter().map(String::as_str).collect();
        assert_eq!(peer_cidrs.len(), 3, "{case}: primary, secondary and IPv6 are routed; the shared block is not");
        assert_eq!(routes(&w.aws, &ec2, &a), via(&peer_cidrs, &pcx), "{case}: local routes");
        assert_eq!(routes(peer_aws, &peer_ec2, &p), via(&local_cidrs, &pcx), "{case}: peer routes");
    }
}

#[test]
fn a_new_peer_is_a_new_connection_and_the_old_delete_removes_only_the_old() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let (old_peer, new_peer) =
        (vpc(&w.aws, &ec2, "10.2.0.0/16", &[], true), vpc(&w.aws, &ec2, "10.3.0.0/16", &[], true));
    let a = table(&w.aws, &ec2, &local);
    let old_props = json!({"VpcId": local.id, "PeerVpcId": old_peer.id, "RouteTableIds": [a]});
    let body = w.send("first", "create.same-account", &old_props, None, None);
    let old_pcx = body["PhysicalResourceId"].as_str().unwrap().to_string();

    let mut new_props = old_props.clone();
    new_props["PeerVpcId"] = json!(new_peer.id);
    let body = w.send("replace", "update.replace-peer", &new_props, Some(&old_pcx), Some(&old_props));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let new_pcx = body["PhysicalResourceId"].as_str().unwrap().to_string();
    assert_ne!(new_pcx, old_pcx, "a new physical id");

    // CloudFormation's cleanup: Delete of the old id, with the old properties.
    let body = w.send("cleanup", "delete", &old_props, Some(&old_pcx), None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let new_peer_cidrs: Vec<&str> = new_peer.cidrs.iter().map(String::as_str).collect();
    assert_eq!(routes(&w.aws, &ec2, &a), via(&new_peer_cidrs, &new_pcx), "only the old routes went");
    assert_eq!(connection(&w.aws, &ec2, &old_pcx).0, "deleted");
    assert_eq!(connection(&w.aws, &ec2, &new_pcx).0, "active");
}

#[test]
fn accept_mode_accepts_routes_and_never_deletes_the_connection() {
    accept_mode(false);
}

/// The same under realism: the other side's connection, just made, reads NotFound to the first
/// describes and accepts, and its CIDR blocks are missing from the first describe.
#[test]
fn accept_mode_under_aws_realism_accepts_and_routes_every_requester_block() {
    accept_mode(true);
}

fn accept_mode(realism: bool) {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let requester = w.aws.as_account(PEER_ACCOUNT);
    let requester_ec2 = requester.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let theirs = vpc(&requester, &requester_ec2, "10.2.0.0/16", &[], true);
    let a = table(&w.aws, &ec2, &local);
    // The other account requests; this account's stack accepts.
    let requested = w.aws.block_on(
        requester_ec2
            .create_vpc_peering_connection()
            .vpc_id(&theirs.id)
            .peer_vpc_id(&local.id)
            .peer_owner_id("123456789012")
            .send(),
    );
    let pcx = requested.unwrap().vpc_peering_connection().unwrap().vpc_peering_connection_id().unwrap().to_string();
    let properties = json!({"VpcId": local.id, "PeerVpcId": theirs.id, "PeerOwnerId": PEER_ACCOUNT, "PeeringConnectionId": pcx, "RouteTableIds": [a]});
    if realism {
        let mut rules = peering_realism();
        rules["just_created"] = json!([pcx]);
        w.proxy.realism(rules);
    }

    let body = w.send("accept", "create.accept", &properties, None, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["PhysicalResourceId"], json!(pcx));
    let (status, _, accepter_dns) = connection(&w.aws, &ec2, &pcx);
    assert_eq!((status.as_str(), accepter_dns), ("active", true), "accepted, DNS on our (accepter) side");
    // moto reports only the requester's primary block on the connection (AWS reports all).
    assert_eq!(routes(&w.aws, &ec2, &a), via(&["10.2.0.0/16"], &pcx));

    let body = w.send("accept-delete", "delete", &properties, Some(&pcx), None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(routes(&w.aws, &ec2, &a), vec![], "our routes go");
    assert_eq!(connection(&w.aws, &ec2, &pcx).0, "active", "the connection we did not create stays");
    assert_eq!(w.proxy.calls().count("ec2:DeleteVpcPeeringConnection"), 0);
}

#[test]
fn throttled_routes_are_retried_and_a_denied_peer_role_is_named() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&w.aws, &ec2, "10.2.0.0/16", &[], true);
    let a = table(&w.aws, &ec2, &local);

    w.proxy.add_rule(json!({"action": "ec2:CreateRoute", "times": 2, "status": 503, "code": "RequestLimitExceeded", "message": "Request limit exceeded."}));
    let body = w.send(
        "throttled",
        "create.same-account",
        &json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [a]}),
        None,
        None,
    );
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let pcx = body["PhysicalResourceId"].as_str().unwrap().to_string();
    let peer_cidrs: Vec<&str> = peer.cidrs.iter().map(String::as_str).collect();
    assert_eq!(routes(&w.aws, &ec2, &a), via(&peer_cidrs, &pcx));
    assert_eq!(w.proxy.calls().count("ec2:CreateRoute"), 4, "the first route throttled twice, then both through");

    // An Update whose second new route is denied: FAILED, saying what was already done.
    let b = table(&w.aws, &ec2, &local);
    w.proxy.add_rule(json!({"action": "ec2:CreateRoute", "skip": 1, "times": 1, "status": 403, "code": "UnauthorizedOperation", "message": "You are not authorized to perform this operation."}));
    let old = json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [a]});
    let new = json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [a, b]});
    let body = w.send("denied-route", "update.add-table", &new, Some(&pcx), Some(&old));
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["PhysicalResourceId"], json!(pcx), "a failed Update keeps its id");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("ec2:CreateRoute failed with UnauthorizedOperation: You are not authorized to perform this operation.; the role that made the call lacks this permission; 1 route change(s) on the local side were made before this failure"),
        "{reason}"
    );

    let role = format!("arn:aws:iam::{PEER_ACCOUNT}:role/peering");
    w.proxy.add_rule(json!({"action": "sts:AssumeRole", "status": 403, "code": "AccessDenied", "message": "User is not authorized to perform: sts:AssumeRole"}));
    let properties = json!({"VpcId": local.id, "PeerVpcId": "vpc-0f9e8d7c6b5a40312", "PeerOwnerId": PEER_ACCOUNT, "PeerRoleArn": role, "PeerRegion": "eu-west-1"});
    let body = w.send("denied", "create.cross-account", &properties, None, None);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("cannot assume {role}: sts:AssumeRole failed with AccessDenied: User is not authorized to perform: sts:AssumeRole; check that the role's trust policy allows this function's role")),
        "{reason}"
    );
}

#[test]
fn cross_account_without_a_role_waits_for_the_peer_then_routes_on_update() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let peer_aws = w.aws.as_account(PEER_ACCOUNT);
    let peer_ec2 = peer_aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&peer_aws, &peer_ec2, "10.2.0.0/16", &[], true);
    let a = table(&w.aws, &ec2, &local);
    let properties =
        json!({"VpcId": local.id, "PeerVpcId": peer.id, "PeerOwnerId": PEER_ACCOUNT, "RouteTableIds": [a]});

    let body = w.send("pending", "create.cross-account", &properties, None, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["Status"], "pending-acceptance");
    let pcx = body["PhysicalResourceId"].as_str().unwrap().to_string();
    assert_eq!(routes(&w.aws, &ec2, &a), vec![], "no routes while the peer has not accepted");

    // The peer account accepts (its own stack, in accept mode, would).
    w.aws.block_on(peer_ec2.accept_vpc_peering_connection().vpc_peering_connection_id(&pcx).send()).unwrap();

    // The README's next step: any property change makes an Update that routes and sets DNS.
    let mut tagged = properties.clone();
    tagged["Tags"] = json!([{"Key": "accepted", "Value": "yes"}]);
    let body = w.send("after-accept", "update.add-table", &tagged, Some(&pcx), Some(&properties));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["Status"], "active");
    assert_eq!(routes(&w.aws, &ec2, &a), via(&["10.2.0.0/16"], &pcx), "moto reports the accepter's primary block only");
    assert!(connection(&w.aws, &ec2, &pcx).1, "requester DNS on");
}

#[test]
fn wrong_ids_are_named() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&w.aws, &ec2, "10.2.0.0/16", &[], false);
    let peer_table = table(&w.aws, &ec2, &peer);
    let cases = [
        (
            "missing-vpc",
            json!({"VpcId": "vpc-0123456789abcdef0", "PeerVpcId": peer.id, "AllowDnsResolution": "false"}),
            "vpc-0123456789abcdef0 not found in account 123456789012, region us-east-1".to_string(),
        ),
        (
            "table-elsewhere",
            json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [peer_table], "AllowDnsResolution": "false"}),
            format!("route table {peer_table} (RouteTableIds) belongs to {}, not {}", peer.id, local.id),
        ),
        (
            "dns-off",
            json!({"VpcId": local.id, "PeerVpcId": peer.id}),
            format!("{} has enableDnsSupport turned off", peer.id),
        ),
    ];
    for (name, properties, expected) in cases {
        let body = w.send(name, "create.same-account", &properties, None, None);
        assert_eq!(body["Status"], "FAILED", "{name}");
        let reason = body["Reason"].as_str().unwrap();
        assert!(reason.starts_with(&expected), "{name}: {reason}");
    }
    assert_eq!(w.writes(), Vec::<String>::new(), "nothing was created");
}

#[test]
fn a_create_that_fails_halfway_undoes_itself() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&w.aws, &ec2, "10.2.0.0/16", &[], true);
    let (a, p) = (table(&w.aws, &ec2, &local), table(&w.aws, &ec2, &peer));
    // The local side routes, then the peer side's first route is denied.
    w.proxy.add_rule(json!({"action": "ec2:CreateRoute", "skip": 2, "times": 1, "status": 403, "code": "UnauthorizedOperation", "message": "You are not authorized to perform this operation."}));
    let properties = json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [a], "PeerRouteTableIds": [p]});
    let body = w.send("halfway", "create.same-account", &properties, None, None);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with("ec2:CreateRoute failed with UnauthorizedOperation"), "{reason}");
    let created = w.proxy.calls().calls.iter().filter(|c| c.action == "ec2:CreateVpcPeeringConnection").count();
    assert_eq!(created, 1);
    assert!(reason.contains("; rolled back: removed its routes and deleted pcx-"), "{reason}");
    assert_eq!(routes(&w.aws, &ec2, &a), vec![], "the local routes were removed");
    assert_eq!(routes(&w.aws, &ec2, &p), vec![]);
    let all = w.aws.block_on(ec2.describe_vpc_peering_connections().send()).unwrap();
    let live: Vec<_> = all
        .vpc_peering_connections()
        .iter()
        .filter(|c| c.status().and_then(|s| s.code()).map(|c| c.as_str()) != Some("deleted"))
        .collect();
    assert!(live.is_empty(), "no connection left behind: {live:?}");
}
