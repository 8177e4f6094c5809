//! `Custom::VpcPeering` at AWS's request rates (issue #17): the proxy meters every call with a
//! token bucket per account, Region and action, as EC2 does (tests/servers/rates.py), here ten
//! times faster than AWS refills them (the same bursts) so CI keeps its time. The function's
//! pacing is not told: it follows what it meets. Nothing here is timed; `bench/run` shows the
//! times at AWS's own rates.

use serde_json::{Value, json};
use testbed::ec2::{routes, table, vpc};
use testbed::{Aws, Rig};

const PEER_ACCOUNT: &str = "222222222222";
/// How much faster than AWS the proxy's buckets refill.
const SCALE: u32 = 10;

/// A VPC with six blocks (its primary, four secondaries and an IPv6 block) and `tables` route
/// tables, in `aws`'s account.
fn site(aws: &Aws, region: &str, second_octet: u32, tables: usize) -> (testbed::ec2::Vpc, Vec<String>) {
    let ec2 = aws.ec2(region);
    let secondary: Vec<String> = (1..=4).map(|i| format!("10.{}.0.0/16", second_octet + i)).collect();
    let secondary: Vec<&str> = secondary.iter().map(String::as_str).collect();
    let vpc = vpc(aws, &ec2, &format!("10.{second_octet}.0.0/16"), &secondary, true);
    assert_eq!(vpc.cidrs.len(), 6, "six blocks: {:?}", vpc.cidrs);
    let tables = (0..tables).map(|_| table(aws, &ec2, &vpc)).collect();
    (vpc, tables)
}

/// The routes through `pcx` in every table, as (table, destination) pairs.
fn routed(aws: &Aws, region: &str, tables: &[String], pcx: &str) -> usize {
    let ec2 = aws.ec2(region);
    tables.iter().map(|t| routes(aws, &ec2, t).iter().filter(|(_, target)| target == pcx).count()).sum()
}

fn reads(w: &Rig) -> Vec<String> {
    let mut reads: Vec<String> =
        w.proxy.calls().calls.into_iter().map(|c| c.action).filter(|a| a.contains(":Describe")).collect();
    reads.sort();
    reads
}

/// The rate model on, `scale` times AWS's refill, every bucket full; `busy`: what another client
/// of the account spends a second from these actions' buckets (AWS's units).
fn meter(w: &Rig, scale: u32, busy: Value) {
    w.proxy.reset();
    w.proxy.rates(json!({"scale": scale, "busy": busy}));
}

#[test]
fn two_hundred_and_forty_routes_in_one_bucket_create_update_and_delete() {
    // Enough for the plan at AWS's documented rate: (240 - 50) / 5 = 38 s, with the reserve.
    let w = Rig::start("vpc-peering", 120);
    let ec2 = w.aws.ec2("us-east-1");

    // The same Create at 1 table a side: its reads are what 20 tables a side may read.
    let (small_local, small_a) = site(&w.aws, "us-east-1", 200, 1);
    let (small_peer, small_p) = site(&w.aws, "us-east-1", 210, 1);
    meter(&w, SCALE, json!({}));
    let small = json!({"VpcId": small_local.id, "PeerVpcId": small_peer.id, "RouteTableIds": small_a, "PeerRouteTableIds": small_p});
    let body = w.send("small", "create.same-account", &small, None, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let small_reads = reads(&w);

    let (local, a) = site(&w.aws, "us-east-1", 0, 20);
    let (peer, p) = site(&w.aws, "us-east-1", 100, 20);
    let properties = json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": a, "PeerRouteTableIds": p});
    meter(&w, SCALE, json!({}));
    let body = w.send("create", "create.same-account", &properties, None, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let pcx = body["PhysicalResourceId"].as_str().unwrap().to_string();
    assert_eq!((routed(&w.aws, "us-east-1", &a, &pcx), routed(&w.aws, "us-east-1", &p, &pcx)), (120, 120));
    let calls = w.proxy.calls();
    println!("240 routes, one bucket: {} CreateRoute throttled", calls.throttled("ec2:CreateRoute"));
    assert_eq!(calls.count("ec2:CreateRoute") - calls.throttled("ec2:CreateRoute"), 240, "each route made once");
    assert_eq!(reads(&w), small_reads, "the same reads at 1 and at 20 tables a side");

    // The same properties again (a no-op Update): reads only.
    meter(&w, SCALE, json!({}));
    let body = w.send("no-op", "update.add-table", &properties, Some(&pcx), Some(&properties));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(w.writes(), Vec::<String>::new(), "a no-op Update writes nothing");

    meter(&w, SCALE, json!({}));
    let body = w.send("delete", "delete", &properties, Some(&pcx), None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!((routed(&w.aws, "us-east-1", &a, &pcx), routed(&w.aws, "us-east-1", &p, &pcx)), (0, 0));
    assert_eq!(testbed::ec2::connection(&w.aws, &ec2, &pcx).0, "deleted");
}

#[test]
fn across_two_accounts_each_side_writes_to_its_own_bucket() {
    let w = Rig::start("vpc-peering", 120);
    let peer_aws = w.aws.as_account(PEER_ACCOUNT);
    let (local, a) = site(&w.aws, "us-east-1", 0, 20);
    let (peer, p) = site(&peer_aws, "us-east-1", 100, 20);
    let role = format!("arn:aws:iam::{PEER_ACCOUNT}:role/peering");
    let properties = json!({
        "VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": a, "PeerRouteTableIds": p,
        "PeerOwnerId": PEER_ACCOUNT, "PeerRoleArn": role,
    });
    meter(&w, SCALE, json!({}));
    let body = w.send("create", "create.cross-account", &properties, None, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let pcx = body["PhysicalResourceId"].as_str().unwrap().to_string();
    assert_eq!((routed(&w.aws, "us-east-1", &a, &pcx), routed(&peer_aws, "us-east-1", &p, &pcx)), (120, 120));

    meter(&w, SCALE, json!({}));
    let body = w.send("no-op", "update.add-table", &properties, Some(&pcx), Some(&properties));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(w.writes().iter().filter(|a| !a.starts_with("sts:")).count(), 0, "{:?}", w.writes());

    meter(&w, SCALE, json!({}));
    let body = w.send("delete", "delete", &properties, Some(&pcx), None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!((routed(&w.aws, "us-east-1", &a, &pcx), routed(&peer_aws, "us-east-1", &p, &pcx)), (0, 0));
}

#[test]
fn a_plan_too_big_for_the_time_left_is_refused_before_any_write() {
    // 240 route changes need about 38 s at AWS's rate; this function has 20 s.
    let w = Rig::start("vpc-peering", 20);
    let (local, a) = site(&w.aws, "us-east-1", 0, 20);
    let (peer, p) = site(&w.aws, "us-east-1", 100, 20);
    let properties = json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": a, "PeerRouteTableIds": p});
    meter(&w, SCALE, json!({}));
    let body = w.send("too-big", "create.same-account", &properties, None, None);
    assert_eq!(body["Status"], "FAILED", "{body}");
    let reason = body["Reason"].as_str().unwrap_or_default();
    assert!(reason.contains("240 route changes need about 38 s"), "{reason}");
    assert!(reason.contains("of the function's 20 s"), "{reason}");
    assert!(reason.contains("split the route tables") && reason.contains("raise the function's Timeout"), "{reason}");
    assert_eq!(w.writes(), Vec::<String>::new(), "nothing changed");
}

/// Another client of the account spends 4.5 of CreateRoute's and DeleteRoute's 5 tokens a
/// second: 120 routes still go in and out (at AWS's rates the share left takes about 140 s).
#[test]
fn a_busy_account_slows_the_writes_but_never_fails_them() {
    let w = Rig::start("vpc-peering", 300);
    let (local, a) = site(&w.aws, "us-east-1", 0, 10);
    let (peer, p) = site(&w.aws, "us-east-1", 100, 10);
    let properties = json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": a, "PeerRouteTableIds": p});
    let busy = json!({"ec2:CreateRoute": 4.5, "ec2:DeleteRoute": 4.5});

    meter(&w, SCALE, busy.clone());
    let body = w.send("create", "create.same-account", &properties, None, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let pcx = body["PhysicalResourceId"].as_str().unwrap().to_string();
    assert_eq!((routed(&w.aws, "us-east-1", &a, &pcx), routed(&w.aws, "us-east-1", &p, &pcx)), (60, 60));
    println!("busy account, Create: {} CreateRoute throttled", w.proxy.calls().throttled("ec2:CreateRoute"));

    meter(&w, SCALE, busy);
    let body = w.send("delete", "delete", &properties, Some(&pcx), None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!((routed(&w.aws, "us-east-1", &a, &pcx), routed(&w.aws, "us-east-1", &p, &pcx)), (0, 0));
    println!("busy account, Delete: {} DeleteRoute throttled", w.proxy.calls().throttled("ec2:DeleteRoute"));
}

/// The same share left at AWS's own refill (half a token a second), with a bucket of 5 so that it
/// shows in seconds: a throttled write waits for its token. A loop that leaves throttling to the
/// SDK's three attempts (about 1.5 s of backoff) fails here: it finds the bucket empty three times.
#[test]
fn at_aws_own_rate_a_throttled_write_waits_for_its_token() {
    let w = Rig::start("vpc-peering", 60);
    let (local, a) = site(&w.aws, "us-east-1", 0, 1);
    let (peer, p) = site(&w.aws, "us-east-1", 100, 1);
    let properties = json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": a, "PeerRouteTableIds": p});
    w.proxy.reset();
    w.proxy.rates(json!({"scale": 1, "buckets": {"ec2:CreateRoute": [5, 5]}, "busy": {"ec2:CreateRoute": 4.5}}));
    let body = w.send("create", "create.same-account", &properties, None, None);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let pcx = body["PhysicalResourceId"].as_str().unwrap().to_string();
    assert_eq!((routed(&w.aws, "us-east-1", &a, &pcx), routed(&w.aws, "us-east-1", &p, &pcx)), (6, 6));
    println!(
        "12 routes at half a token a second: {} CreateRoute throttled",
        w.proxy.calls().throttled("ec2:CreateRoute")
    );
}
