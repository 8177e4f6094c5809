//! Everything that can go wrong, each with what to do about it. `Display` is the one line the
//! stack event shows.

use ipnet::IpNet;
use shared::aws::AwsFailure;

use crate::model::{Conflict, Overlap};

#[derive(Debug, thiserror::Error)]
pub enum PeeringError {
    #[error("property `{name}`: {problem}")]
    InvalidProperty { name: &'static str, problem: String },

    #[error(
        "{vpc_id} not found in account {account}, region {region}: check the id, the account (PeerOwnerId) and the region (PeerRegion)"
    )]
    VpcNotFound { vpc_id: String, account: String, region: String },

    #[error(
        "route table {table_id} ({property}) not found in account {account}, region {region}: check the id and that it is on that side"
    )]
    RouteTableNotFound { table_id: String, property: &'static str, account: String, region: String },

    #[error("route table {table_id} ({property}) belongs to {actual_vpc}, not {vpc_id}: list only that VPC's tables")]
    RouteTableNotInVpc { table_id: String, property: &'static str, vpc_id: String, actual_vpc: String },

    #[error("overlapping CIDR blocks: {} ({local_vpc}) and {} ({peer_vpc}){}; peering cannot route between overlapping blocks: add one to ExcludeCidrs or peer other VPCs", .overlaps[0].local, .overlaps[0].peer, more(.overlaps.len()))]
    Overlap { local_vpc: String, peer_vpc: String, overlaps: Vec<Overlap> },

    #[error(
        "{vpc_id} has {attribute} turned off; DNS resolution over a peering needs enableDnsSupport and enableDnsHostnames on both VPCs: turn it on, or set AllowDnsResolution to false"
    )]
    DnsDisabled { vpc_id: String, attribute: &'static str },

    #[error("route conflict: {}{}; a route the stack did not create is never replaced: change or remove it, exclude the block (ExcludeCidrs), or leave the table out", .0[0], more(.0.len()))]
    RouteConflicts(Vec<Conflict>),

    #[error("cannot assume {role_arn}: {failure}; check that the role's trust policy allows this function's role{}", if *.external_id { " and that PeerRoleExternalId matches its sts:ExternalId condition" } else { "" })]
    AssumeRole { role_arn: String, external_id: bool, failure: AwsFailure },

    #[error(
        "the peer is in account {peer_account}: give PeerRoleArn (a role there this function may assume) to route ({property}) and set DNS on its side, or let that account's stack accept with PeeringConnectionId"
    )]
    PeerUnreachable { peer_account: String, property: &'static str },

    #[error(
        "peering connection {id} not found in this account and region: check PeeringConnectionId (accept mode accepts a connection requested from the other side)"
    )]
    ConnectionNotFound { id: String },

    #[error("peering connection {id} is {status}: {message}")]
    ConnectionFailed { id: String, status: String, message: String },

    /// A wait for AWS to catch up (a connection visible, active on both sides, its CIDR blocks
    /// reported) that the deadline cut short; `what` says what it was still waiting for.
    #[error("{what} after {waited_secs} s; raise the function's Timeout, or check that the peer side can accept it")]
    NotReadyInTime { what: String, waited_secs: u64 },

    #[error(
        "peering connection {id}, made by this resource, no longer exists in this account and region: it was deleted outside CloudFormation; change VpcId or PeerVpcId, or the resource's logical id, so that the stack makes a new one"
    )]
    OwnConnectionGone { id: String },

    #[error(
        "peering connection {id} can only be accepted by account {account} in {region} ({failure}): set PeerOwnerId and PeerRegion to that account and region (with PeerRoleArn for another account), or accept it there with a Custom::VpcPeering in accept mode"
    )]
    AcceptElsewhere { id: String, account: String, region: String, failure: Box<AwsFailure> },

    #[error(
        "route table {table_id} (account {account}, region {region}) has reached its route quota (50 routes per table by default): raise \"Routes per route table\" in Service Quotas (Amazon VPC), summarize its routes, or leave blocks out with ExcludeCidrs"
    )]
    RouteLimit { table_id: String, account: String, region: String },

    /// A plan whose writes cannot finish before the deadline at EC2's request rate: refused
    /// before any write.
    #[error(
        "{changes} route changes need about {estimate_secs} s at EC2's request rate ({rate}), more than the {left_secs} s this request has left of the function's {timeout_secs} s: split the route tables (route PeerRouteTableIds from a second Custom::VpcPeering in accept mode, PeeringConnectionId: this one's Ref), or raise the function's Timeout (at most 900 s); nothing was changed"
    )]
    TooSlowForTimeout { changes: usize, estimate_secs: u64, rate: String, left_secs: u64, timeout_secs: u64 },

    #[error("{}", aws_reason(.0))]
    Aws(#[from] AwsFailure),

    /// Route changes that failed part-way: what was already done stays (a retry or the
    /// Delete reconciles it), and the reason says so.
    #[error("{cause}; {done} route change(s) on the {side} side were made before this failure")]
    PartlyApplied { cause: Box<PeeringError>, done: usize, side: &'static str },

    /// A Create that failed after making something: what it undid (or could not).
    #[error("{cause}; {cleanup}")]
    RolledBack { cause: Box<PeeringError>, cleanup: String },
}

fn more(n: usize) -> String {
    if n > 1 { format!(" (and {} more)", n - 1) } else { String::new() }
}

/// An AWS error with the fix for the codes users meet.
fn aws_reason(failure: &AwsFailure) -> String {
    let hint = if failure.is_throttling() {
        "AWS kept throttling after retries: retry the stack operation later"
    } else if failure.is_access_denied() {
        "the role that made the call lacks this permission"
    } else if failure.code_is("VpcPeeringConnectionAlreadyExists") {
        "a connection between these VPCs already exists outside this stack: use accept mode or delete it"
    } else {
        ""
    };
    if hint.is_empty() { failure.to_string() } else { format!("{failure}; {hint}") }
}

pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    s.trim().parse::<IpNet>().map(|n| n.trunc()).map_err(|_| format!("`{s}` is not a CIDR block such as 10.0.0.0/16"))
}
