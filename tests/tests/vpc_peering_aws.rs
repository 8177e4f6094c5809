//! `Custom::VpcPeering` where real AWS is less kind than moto: CloudFormation's replacement
//! (the old connection and its routes still there during the Update), a peer role removed before
//! the Delete, properties an upgrade renamed, a rollback before EC2 shows the connection, and
//! route tables with propagated routes, prefix lists and a full quota. Every test runs under the
//! proxy's AWS-realism rules (`tests/servers/realism.py`: a new connection not visible at first,
//! the accepter's region lagging, CIDR blocks missing from the first describe), and its fault
//! rules play AWS's error codes.

use serde_json::{Value, json};
use testbed::Rig;
use testbed::ec2::{Vpc, connection, peering_realism, routes, table, vpc};

const PEER_ACCOUNT: &str = "222222222222";

fn world() -> Rig {
    let w = Rig::start("vpc-peering", 30);
    w.proxy.realism(peering_realism());
    w
}

fn via(cidrs: &[String], target: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = cidrs.iter().map(|c| (c.clone(), target.to_string())).collect();
    v.sort();
    v
}

fn id_of(body: &Value) -> String {
    body["PhysicalResourceId"].as_str().unwrap_or_default().to_string()
}

/// A peer VPC recreated with the same blocks (a new `PeerVpcId`): CloudFormation replaces the
/// resource, and during that Update the old connection's routes still sit in the same tables.
#[test]
fn a_replacement_with_the_same_cidrs_moves_the_routes_and_the_cleanup_leaves_them() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peers: Vec<Vpc> = (0..3).map(|_| vpc(&w.aws, &ec2, "10.2.0.0/16", &["10.3.0.0/16"], true)).collect();
    let a = table(&w.aws, &ec2, &local);
    let peer_tables: Vec<String> = peers.iter().map(|p| table(&w.aws, &ec2, p)).collect();
    let props = |i: usize| json!({"VpcId": local.id, "PeerVpcId": peers[i].id, "RouteTableIds": [a], "PeerRouteTableIds": [peer_tables[i]]});

    let first = w.send("first", "create.same-account", &props(0), None, None);
    assert_eq!(first["Status"], "SUCCESS", "{first}");
    let old = id_of(&first);

    // The replacing Update: routes in `a` to the same blocks move to the new connection.
    let body = w.send("replace", "update.replace-peer", &props(1), Some(&old), Some(&props(0)));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let new = id_of(&body);
    assert_ne!(new, old, "a new physical id");
    let now = routes(&w.aws, &ec2, &a);
    assert!(via(&peers[1].cidrs, &new).iter().all(|r| now.contains(r)), "every block routes through {new}: {now:?}");
    // Each VPC has its own IPv6 block: only the IPv4 blocks they share move.
    let shared = peers[1].cidrs.iter().filter(|c| peers[0].cidrs.contains(c)).count();
    assert_eq!((shared, w.proxy.calls().count("ec2:ReplaceRoute")), (2, 2), "one ReplaceRoute per shared block");

    // CloudFormation's cleanup: Delete of the old id with the old properties.
    let body = w.send("cleanup", "delete", &props(0), Some(&old), None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(connection(&w.aws, &ec2, &old).0, "deleted");
    assert_eq!(routes(&w.aws, &ec2, &a), via(&peers[1].cidrs, &new), "no route through the new one removed");
    assert_eq!(routes(&w.aws, &ec2, &peer_tables[0]), vec![], "the old peer's routes went");
    assert_eq!(connection(&w.aws, &ec2, &new).0, "active");

    // A replacing Update that fails after making its connection answers with that connection's
    // id, so that CloudFormation's rollback cleanup deletes it.
    w.proxy.add_rule(json!({"action": "ec2:CreateRoute", "times": 1, "status": 403, "code": "UnauthorizedOperation", "message": "You are not authorized to perform this operation."}));
    let failed = w.send("replace-fails", "update.replace-peer", &props(2), Some(&new), Some(&props(1)));
    assert_eq!(failed["Status"], "FAILED", "{failed}");
    let newest = id_of(&failed);
    assert!(newest.starts_with("pcx-") && newest != new, "the new connection's id: {failed}");
    // The rollback: an Update back to the previous properties, then Delete of the failed id.
    let back = w.send("rollback", "update.replace-peer", &props(1), Some(&newest), Some(&props(2)));
    assert_eq!((back["Status"].as_str(), id_of(&back)), (Some("SUCCESS"), new.clone()), "{back}");
    let body = w.send("rollback-cleanup", "delete", &props(2), Some(&newest), None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(connection(&w.aws, &ec2, &newest).0, "deleted", "the failed Update's connection is gone");
    assert_eq!(routes(&w.aws, &ec2, &a), via(&peers[1].cidrs, &new), "routes through the kept one");
}

/// The peer account removed the role before the stack's Delete; another resource's properties
/// were renamed by an upgrade: both Deletes remove what this account holds and succeed.
#[test]
fn a_delete_goes_on_without_the_peer_role_or_its_properties() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let peer_aws = w.aws.as_account(PEER_ACCOUNT);
    let peer_ec2 = peer_aws.ec2("eu-west-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&peer_aws, &peer_ec2, "10.2.0.0/16", &[], true);
    let (a, p) = (table(&w.aws, &ec2, &local), table(&peer_aws, &peer_ec2, &peer));
    let role = format!("arn:aws:iam::{PEER_ACCOUNT}:role/peering");
    let properties = json!({"VpcId": local.id, "PeerVpcId": peer.id, "PeerOwnerId": PEER_ACCOUNT, "PeerRegion": "eu-west-1", "PeerRoleArn": role, "RouteTableIds": [a], "PeerRouteTableIds": [p]});
    let body = w.send("create", "create.cross-account", &properties, None, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let pcx = id_of(&body);

    w.proxy.reset();
    w.proxy.realism(peering_realism());
    w.proxy.add_rule(json!({"action": "sts:AssumeRole", "status": 403, "code": "AccessDenied", "message": format!("User: arn:aws:sts::123456789012:assumed-role/fn is not authorized to perform: sts:AssumeRole on resource: {role}")}));
    let body = w.send("delete-no-role", "delete", &properties, Some(&pcx), None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let reason = body["Reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with(&format!("deleted; cannot assume {role}: sts:AssumeRole failed with AccessDenied"))
            && reason.contains(&format!(
                "so the routes through {pcx} in {p} (account {PEER_ACCOUNT}, eu-west-1) are left as blackholes: remove them there"
            )),
        "{reason}"
    );
    assert_eq!(routes(&w.aws, &ec2, &a), vec![], "the local routes went");
    assert_eq!(connection(&w.aws, &ec2, &pcx).0, "deleted");
    assert_eq!(w.proxy.calls().count("sts:AssumeRole"), 1, "a Delete does not wait for IAM");

    // Properties renamed by an upgrade (`VpcID`): the Delete acts on the id and its tags.
    w.proxy.reset();
    w.proxy.realism(peering_realism());
    let second = vpc(&w.aws, &ec2, "10.4.0.0/16", &[], true);
    let properties = json!({"VpcId": local.id, "PeerVpcId": second.id, "RouteTableIds": [a]});
    let body = w.send("create-2", "create.same-account", &properties, None, None);
    let pcx = id_of(&body);
    assert_eq!(routes(&w.aws, &ec2, &a).len(), 2, "IPv4 and IPv6: {body}");
    let renamed = json!({"VpcID": local.id, "PeerVpcId": second.id, "RouteTableIds": [a]});
    let body = w.send("delete-renamed", "delete", &renamed, Some(&pcx), None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(routes(&w.aws, &ec2, &a), vec![], "its routes went");
    assert_eq!(connection(&w.aws, &ec2, &pcx).0, "deleted");
}

/// A Create that fails while EC2 does not show its new connection yet: the rollback deletes it
/// all the same (it does not take NotFound for "already gone").
#[test]
fn a_rollback_deletes_the_connection_it_made_even_before_ec2_shows_it() {
    let w = world();
    w.proxy.realism(json!({"new_pcx_not_found": 3}));
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&w.aws, &ec2, "10.2.0.0/16", &[], true);
    let a = table(&w.aws, &ec2, &local);
    w.proxy.add_rule(json!({"action": "ec2:CreateRoute", "status": 403, "code": "UnauthorizedOperation", "message": "You are not authorized to perform this operation."}));
    let properties = json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [a]});
    let body = w.send("rollback", "create.same-account", &properties, None, None);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap_or_default();
    let pcx = id_of(&body);
    assert!(reason.contains(&format!("; rolled back: removed its routes and deleted {pcx}")), "{reason}");
    assert_eq!(connection(&w.aws, &ec2, &pcx).0, "deleted", "what the answer says is true");
    assert!(!reason.contains("PeeringConnectionId"), "our own connection is not the user's property: {reason}");
}

/// Route tables as AWS has them, one Create each (each with its own peer VPC).
#[test]
fn route_tables_as_aws_has_them() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = |cidr: &str| vpc(&w.aws, &ec2, cidr, &[], true);
    let create = |name: &str, peer: &Vpc, table: &str| {
        let properties = json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [table]});
        w.send(name, "create.same-account", &properties, None, None)
    };
    let reason = |body: &Value| body["Reason"].as_str().unwrap_or_default().to_string();

    // A route a VPN gateway propagates to the same block: not a conflict (the static one wins).
    let (p1, t1) = (peer("10.2.0.0/16"), table(&w.aws, &ec2, &local));
    w.proxy.realism(json!({"propagated": {t1.clone(): [["10.2.0.0/16", "vgw-0123456789abcdef0"]]}}));
    let body = create("propagated", &p1, &t1);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(routes(&w.aws, &ec2, &t1), via(&p1.cidrs, &id_of(&body)));
    assert!(w.lambda.logs().contains("a propagated route has this destination"), "said in the log");

    // A prefix list holding the peer's block, routed elsewhere: a conflict naming the list.
    let (p2, t2) = (peer("10.3.0.0/16"), table(&w.aws, &ec2, &local));
    let list = w.aws.block_on(
        ec2.create_managed_prefix_list()
            .prefix_list_name("corp")
            .max_entries(5)
            .address_family("IPv4")
            .entries(aws_sdk_ec2::types::AddPrefixListEntry::builder().cidr("10.0.0.0/8").build())
            .send(),
    );
    let list = list.unwrap().prefix_list().unwrap().prefix_list_id().unwrap().to_string();
    let igw = w.aws.block_on(ec2.create_internet_gateway().send()).unwrap();
    let igw = igw.internet_gateway().unwrap().internet_gateway_id().unwrap().to_string();
    w.aws.block_on(ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&local.id).send()).unwrap();
    w.aws
        .block_on(ec2.create_route().route_table_id(&t2).destination_prefix_list_id(&list).gateway_id(&igw).send())
        .unwrap();
    let body = create("prefix-list", &p2, &t2);
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(
        reason(&body).starts_with(&format!(
            "route conflict: {t2} already sends prefix list {list}, which holds 10.3.0.0/16, to gateway {igw};"
        )),
        "{body}"
    );

    // A table at its route quota.
    let (p3, t3) = (peer("10.4.0.0/16"), table(&w.aws, &ec2, &local));
    w.proxy.add_rule(json!({"action": "ec2:CreateRoute", "times": 1, "status": 400, "code": "RouteLimitExceeded", "message": "The maximum number of routes has been reached."}));
    let body = create("route-limit", &p3, &t3);
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(reason(&body).starts_with(&format!("route table {t3} (account 123456789012, region us-east-1) has reached its route quota (50 routes per table by default): raise \"Routes per route table\" in Service Quotas")), "{body}");

    // Accepted from the wrong account or region: which one must accept.
    let p4 = peer("10.5.0.0/16");
    w.proxy.add_rule(json!({"action": "ec2:AcceptVpcPeeringConnection", "times": 1, "status": 400, "code": "OperationNotPermitted", "message": "User 123456789012 cannot accept peering pcx-1"}));
    let body = create("accept-elsewhere", &p4, &t3);
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(reason(&body).contains("can only be accepted by account 123456789012 in us-east-1"), "{body}");

    // A Delete while the connection is still being set up: waits and deletes it.
    let p5 = peer("10.6.0.0/16");
    let body = create("initiating", &p5, &t3);
    let pcx = id_of(&body);
    w.proxy.reset();
    w.proxy.realism(peering_realism());
    w.proxy.add_rule(json!({"action": "ec2:DeleteVpcPeeringConnection", "times": 1, "status": 400, "code": "InvalidStateTransition", "message": "Peering connection is in state initiating-request"}));
    let props = json!({"VpcId": local.id, "PeerVpcId": p5.id, "RouteTableIds": [t3]});
    let body = w.send("delete-initiating", "delete", &props, Some(&pcx), None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(connection(&w.aws, &ec2, &pcx).0, "deleted");
    assert!(w.proxy.calls().count("ec2:DeleteVpcPeeringConnection") >= 2, "tried again");
}
