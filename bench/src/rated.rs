//! Rows at AWS's request rates (issue #17): the proxy meters every call with a token bucket per
//! account, Region and action at the EC2 guide's figures (tests/servers/rates.py, unscaled), and
//! each row shows the Create's elapsed time beside the physical minimum those buckets allow: for
//! each bucket, the calls beyond its burst at its refill rate; buckets in different accounts are
//! drained at once, so the slowest counts. One run each: they take minutes.

use std::time::Instant;

use serde_json::json;
use shared::pace::documented;
use testbed::CfnRequest;

use crate::scenarios::{Stage, access_site, peering_site, send};

/// The function's timeout in these rows: the template's, Lambda's maximum.
const TIMEOUT_SECS: u32 = 900;
/// The peer account of the cross-account row.
const PEER_ACCOUNT: &str = "222222222222";
/// The bench's goal: within this factor of the physical minimum.
const GOAL: f64 = 1.15;

pub struct Rated {
    pub function: &'static str,
    pub scenario: String,
    /// Write calls answered (throttled ones apart).
    pub writes: u64,
    pub throttled: u64,
    pub elapsed_secs: f64,
    pub minimum_secs: f64,
}

/// The time `calls` calls of `action` need from a full bucket at the documented figures.
fn minimum(action: &str, calls: u64) -> f64 {
    let limits = documented(action);
    (calls as f64 - limits.burst).max(0.0) / limits.refill
}

/// A Create of a peering with `tables` route tables per side and 6 CIDR blocks per VPC, the peer in
/// this account (one CreateRoute bucket) or another (one each, written at once).
pub fn peering(tables: usize, cross_account: bool) -> Rated {
    let stage = Stage::start();
    let other_account;
    let peer_aws = if cross_account {
        other_account = stage.aws.as_account(PEER_ACCOUNT);
        &other_account
    } else {
        &stage.aws
    };
    let mut properties = peering_site(&stage.aws, peer_aws, tables);
    let event = if cross_account {
        properties["PeerOwnerId"] = json!(PEER_ACCOUNT);
        properties["PeerRoleArn"] = json!(format!("arn:aws:iam::{PEER_ACCOUNT}:role/peering"));
        "create.cross-account"
    } else {
        "create.same-account"
    };
    let lambda = stage.lambda_with_timeout("vpc-peering", TIMEOUT_SECS);
    stage.proxy.reset();
    stage.proxy.rates(json!({"scale": 1}));
    let request = CfnRequest::sample("vpc-peering", event, "").in_test_stack().properties(&properties).build();
    let started = Instant::now();
    send(&lambda, &stage.receiver, "rated-create", request);
    let elapsed_secs = started.elapsed().as_secs_f64();
    let calls = stage.proxy.calls();
    let routes = calls.count("ec2:CreateRoute") - calls.throttled("ec2:CreateRoute");
    let per_bucket = if cross_account { routes / 2 } else { routes };
    let accounts = if cross_account { "two accounts, a bucket each" } else { "one account, one bucket" };
    let throttled: u64 = calls.throttled.values().sum();
    let calls_made = calls.calls.iter().filter(|c| !crate::report::is_read(&c.action)).count() as u64;
    Rated {
        function: "vpc-peering",
        scenario: format!("Create, {tables} tables/side × 6 CIDRs, {accounts}"),
        writes: calls_made.saturating_sub(throttled),
        throttled,
        elapsed_secs,
        minimum_secs: minimum("ec2:CreateRoute", per_bucket),
    }
}

/// A Create of endpoint access for `endpoints` endpoints and `groups` task groups: one Authorize
/// call per group and direction, each in the bucket of its action.
pub fn endpoint_access(endpoints: usize, groups: usize) -> Rated {
    let stage = Stage::start();
    let properties = access_site(&stage.aws, endpoints, groups);
    let lambda = stage.lambda_with_timeout("endpoint-access", TIMEOUT_SECS);
    stage.proxy.reset();
    stage.proxy.rates(json!({"scale": 1}));
    let request = CfnRequest::sample("endpoint-access", "create", "").in_test_stack().properties(&properties).build();
    let started = Instant::now();
    send(&lambda, &stage.receiver, "rated-create", request);
    let elapsed_secs = started.elapsed().as_secs_f64();
    let calls = stage.proxy.calls();
    let throttled: u64 = calls.throttled.values().sum();
    let answered = |action: &str| calls.count(action) - calls.throttled(action);
    let writes = calls.calls.iter().filter(|c| !crate::report::is_read(&c.action)).count() as u64;
    Rated {
        function: "endpoint-access",
        scenario: format!("Create, {endpoints} endpoints, {groups} task groups"),
        writes: writes.saturating_sub(throttled),
        throttled,
        elapsed_secs,
        minimum_secs: ["ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress"]
            .iter()
            .map(|action| minimum(action, answered(action)))
            .fold(0.0, f64::max),
    }
}

pub fn print(rows: &[Rated]) {
    if rows.is_empty() {
        return;
    }
    println!(
        "\nAt AWS's request rates: the proxy's token buckets at the EC2 guide's figures (CreateRoute: 50 at once, then 5 a second, per account and Region); one run each, the shipped artifact."
    );
    println!(
        "{:<17} {:<58} {:>7} {:>9} {:>10} {:>10} {:>7}  goal",
        "function", "scenario", "writes", "throttled", "elapsed s", "minimum s", "×min"
    );
    for row in rows {
        let ratio = if row.minimum_secs > 0.0 { row.elapsed_secs / row.minimum_secs } else { f64::NAN };
        let goal = if row.minimum_secs > 0.0 {
            format!("≤ {GOAL}× {}", if ratio <= GOAL { "✓" } else { "✗" })
        } else {
            "within the bursts".to_string()
        };
        println!(
            "{:<17} {:<58} {:>7} {:>9} {:>10.1} {:>10.1} {:>7}  {goal}",
            row.function,
            row.scenario,
            row.writes,
            row.throttled,
            row.elapsed_secs,
            row.minimum_secs,
            if ratio.is_nan() { "-".to_string() } else { format!("{ratio:.2}×") },
        );
    }
}
