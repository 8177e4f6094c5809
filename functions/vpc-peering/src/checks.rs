//! The refusals a Create or Update makes before any write, each with its reason: overlapping
//! CIDRs, DNS attributes off, and route work that cannot finish before CloudFormation's deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use ipnet::IpNet;
use shared::custom_resource::RequestContext;
use shared::pace;

use crate::ec2::Ec2Api;
use crate::error::PeeringError;
use crate::model::{Action, Vpc};
use crate::plan::overlaps;
use crate::properties::PeeringProperties;
use crate::settle::RESERVE;

/// Refuse peer CIDRs that overlap the local VPC's (less those excluded): a route to them could
/// not be made.
pub(crate) fn check_overlaps(
    props: &PeeringProperties,
    local: &Vpc,
    peer_cidrs: &[IpNet],
    excluded: &[IpNet],
) -> Result<(), PeeringError> {
    let found = overlaps(&local.cidrs, peer_cidrs, excluded);
    if found.is_empty() {
        return Ok(());
    }
    Err(PeeringError::Overlap { local_vpc: props.vpc_id.clone(), peer_vpc: props.peer_vpc_id.clone(), overlaps: found })
}
/// Refuse, before any write, a plan whose route writes cannot finish in the time left at the
/// pace of each side's request-rate buckets: sides in different accounts or Regions write at
/// once, so the slower one counts; in one account and Region their calls add up.
pub(crate) fn check_time(ctx: &RequestContext, planned: &[(&Ec2Api, Vec<Action>)]) -> Result<(), PeeringError> {
    let mut calls: BTreeMap<(&str, &str), BTreeMap<&'static str, usize>> = BTreeMap::new();
    for (side, actions) in planned {
        for action in actions {
            *calls.entry((&side.account, &side.region)).or_default().entry(action.api()).or_default() += 1;
        }
    }
    let estimate = calls
        .iter()
        .map(|((account, region), per_action)| {
            per_action.iter().map(|(action, n)| pace::bucket(account, region, action).estimate(*n)).sum::<Duration>()
        })
        .max()
        .unwrap_or_default();
    let left = ctx.time_left();
    if estimate + RESERVE <= left {
        return Ok(());
    }
    let limits = planned[0].0.bucket("ec2:CreateRoute").limits();
    Err(PeeringError::TooSlowForTimeout {
        changes: planned.iter().map(|(_, actions)| actions.len()).sum(),
        estimate_secs: estimate.as_secs_f64().ceil() as u64,
        rate: format!(
            "each route action {} at once, then {} a second, per account and Region",
            limits.burst,
            (limits.refill * 10.0).round() / 10.0
        ),
        left_secs: left.as_secs(),
        timeout_secs: ctx.timeout().as_secs_f64().round() as u64,
    })
}

/// Refuse a VPC without DNS support and hostnames: the connection's DNS resolution needs both.
pub(crate) fn check_dns(vpc: &Vpc) -> Result<(), PeeringError> {
    let off = |attribute| Err(PeeringError::DnsDisabled { vpc_id: vpc.id.clone(), attribute });
    if !vpc.dns_support {
        return off("enableDnsSupport");
    }
    if !vpc.dns_hostnames {
        return off("enableDnsHostnames");
    }
    Ok(())
}
