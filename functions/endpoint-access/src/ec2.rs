//! Effects: EC2 reads into domain structs (observe) and EC2 writes (apply: one batch of
//! [`crate::batch`] a call, paced to EC2's request-rate buckets), with AWS error codes mapped
//! explicitly.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup, SecurityGroupRule, Tag,
    TagSpecification, UserIdGroupPair, VpcEndpointType,
};
use ipnet::IpNet;
use shared::aws::{AwsFailure, every_item};
use shared::pace::Pace;
use tracing::{info, warn};

use crate::batch::{match_returned, permissions};
use crate::error::AccessError;
use crate::model::{Action, Direction, Endpoint, EndpointKind, Peer, Rule, RuleSpec};
use crate::plan::{pick_s3_prefix_list, s3_prefix_list_names};

/// The tag on every rule this resource adds; its value names the owner.
pub const OWNER_TAG: &str = "ecs-plumbing:owner";

/// Where rules are added and whose they are: one group, one direction, the owner tag's value and
/// the rules' description.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub group_id: &'a str,
    pub direction: Direction,
    pub owner: &'a str,
    pub description: &'a str,
}

/// EC2 in the stack's account and Region: reads into the model, writes what the plan says (the
/// same role as vpc-peering's `Ec2Api`, one per side there).
pub struct Ec2Api {
    pub ec2: Ec2,
}

impl Ec2Api {
    /// The VPC's IPv4 and IPv6 blocks (a CIDR rule covering them is as good as a group rule).
    pub async fn vpc_cidrs(&self, vpc_id: &str) -> Result<Vec<IpNet>, AccessError> {
        let out =
            match self.ec2.describe_vpcs().vpc_ids(vpc_id).send().await.map_err(AwsFailure::of("ec2:DescribeVpcs")) {
                Err(f) if f.code_is("InvalidVpcID.NotFound") => {
                    return Err(AccessError::VpcNotFound { vpc_id: vpc_id.into() });
                }
                other => other?,
            };
        let vpc = out.vpcs().first().ok_or_else(|| AccessError::VpcNotFound { vpc_id: vpc_id.into() })?;
        let v4 = vpc.cidr_block_association_set().iter().filter_map(|a| a.cidr_block());
        let v6 = vpc.ipv6_cidr_block_association_set().iter().filter_map(|a| a.ipv6_cidr_block());
        Ok(v4.chain(v6).filter_map(|c| c.parse::<IpNet>().ok()).collect())
    }

    /// Every endpoint of the VPC, in one paginated describe.
    pub async fn endpoints(&self, vpc_id: &str) -> Result<Vec<Endpoint>, AccessError> {
        let filter = Filter::builder().name("vpc-id").values(vpc_id).build();
        let pages = self.ec2.describe_vpc_endpoints().filters(filter).into_paginator().items().send();
        let found = every_item("ec2:DescribeVpcEndpoints", pages).await?;
        Ok(found
            .iter()
            .filter(|e| e.vpc_id() == Some(vpc_id))
            .map(|e| Endpoint {
                id: e.vpc_endpoint_id().unwrap_or_default().into(),
                service: e.service_name().unwrap_or_default().into(),
                kind: match e.vpc_endpoint_type() {
                    Some(VpcEndpointType::Gateway) => EndpointKind::Gateway,
                    _ => EndpointKind::Interface,
                },
                state: e.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
                private_dns: e.private_dns_enabled().unwrap_or(false),
                security_group_ids: e.groups().iter().filter_map(|g| g.group_id()).map(str::to_owned).collect(),
            })
            .collect())
    }

    /// The prefix list of S3's gateway endpoint in this region (egress to S3 goes there), asked
    /// for by each name it may carry in this partition (see [`s3_prefix_list_names`]).
    pub async fn s3_prefix_list(&self, region: &str) -> Result<Option<String>, AccessError> {
        let filter =
            Filter::builder().name("prefix-list-name").set_values(Some(s3_prefix_list_names(region).to_vec())).build();
        let out = self
            .ec2
            .describe_managed_prefix_lists()
            .filters(filter)
            .send()
            .await
            .map_err(AwsFailure::of("ec2:DescribeManagedPrefixLists"))?;
        let found: Vec<(String, String)> = out
            .prefix_lists()
            .iter()
            .filter_map(|p| Some((p.prefix_list_name()?.to_owned(), p.prefix_list_id()?.to_owned())))
            .collect();
        Ok(pick_s3_prefix_list(&found, region))
    }

    /// The VPC of each group, in one describe; a missing group is named (found one at a time,
    /// since the batch error does not say which).
    pub async fn group_vpcs(&self, ids: &[String]) -> Result<BTreeMap<String, String>, AccessError> {
        match self.describe_groups(ids).await {
            Ok(groups) => Ok(groups
                .iter()
                .map(|g| (g.group_id().unwrap_or_default().to_string(), g.vpc_id().unwrap_or_default().to_string()))
                .collect()),
            Err(f) if names_missing_group(&f) => {
                for id in ids {
                    match self.describe_groups(std::slice::from_ref(id)).await {
                        Ok(_) => {}
                        Err(one) if names_missing_group(&one) => {
                            return Err(AccessError::GroupNotFound { group_id: id.clone() });
                        }
                        Err(other) => return Err(other.into()),
                    }
                }
                Err(f.into())
            }
            Err(f) => Err(f.into()),
        }
    }

    /// The groups `ids`, in one describe (EC2 refuses the whole call for one unknown id).
    async fn describe_groups(&self, ids: &[String]) -> Result<Vec<SecurityGroup>, AwsFailure> {
        let call = self.ec2.describe_security_groups().set_group_ids(Some(ids.to_vec()));
        let out = call.send().await.map_err(AwsFailure::of("ec2:DescribeSecurityGroups"))?;
        Ok(out.security_groups.unwrap_or_default())
    }

    /// The rules of these groups and every rule carrying `owner`, wherever it is.
    pub async fn rules(&self, group_ids: &[String], owner: &str) -> Result<Vec<Rule>, AccessError> {
        let by_owner = Filter::builder().name(format!("tag:{OWNER_TAG}")).values(owner).build();
        // AWS rejects a filter without values: no groups, no group filter.
        let by_group = (!group_ids.is_empty())
            .then(|| Filter::builder().name("group-id").set_values(Some(group_ids.to_vec())).build());
        let mut rules: BTreeMap<String, Rule> = BTreeMap::new();
        for filter in by_group.into_iter().chain([by_owner]) {
            rules.extend(self.rules_by(filter).await?.into_iter().map(|r| (r.id.clone(), r)));
        }
        Ok(rules.into_values().collect())
    }

    /// Every rule of these groups, whoever owns it (none for no groups).
    pub async fn group_rules(&self, group_ids: &[String]) -> Result<Vec<Rule>, AccessError> {
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.rules_by(Filter::builder().name("group-id").set_values(Some(group_ids.to_vec())).build()).await
    }

    /// The rules `filter` selects, in one paginated describe.
    async fn rules_by(&self, filter: Filter) -> Result<Vec<Rule>, AccessError> {
        let pages = self.ec2.describe_security_group_rules().filters(filter).into_paginator().items().send();
        let found = every_item("ec2:DescribeSecurityGroupRules", pages).await?;
        Ok(found.iter().filter_map(rule).collect())
    }

    /// Add `rules` (one group, one direction) in one call, each tagged with its owner; every
    /// rule made goes into `undo` (the revoke that undoes it) as soon as EC2 says it is made. When
    /// EC2 refuses the call because one of the rules exists already (someone added it since the
    /// rules were read: `InvalidPermission.Duplicate`, and EC2 then makes none of the call's
    /// rules), they are added one at a time instead, and a rule already there is left alone: it
    /// is not ours.
    pub async fn authorize(
        &self,
        pace: &Pace,
        grant: &Grant<'_>,
        rules: &[RuleSpec],
        undo: &mut Vec<Action>,
    ) -> Result<(), AccessError> {
        let group_id = grant.group_id;
        if rules.len() > 1 {
            match self.authorize_call(pace, grant, rules).await {
                Ok(returned) => {
                    record(rules, &returned, undo);
                    return Ok(());
                }
                Err(f) if f.code_is(DUPLICATE) => {
                    info!(group = %group_id, rules = rules.len(), "one of the rules exists already (InvalidPermission.Duplicate: EC2 made none of them); adding them one at a time");
                }
                Err(f) => return Err(refused(f, group_id)),
            }
        }
        for spec in rules {
            let one = std::slice::from_ref(spec);
            match self.authorize_call(pace, grant, one).await {
                Ok(returned) => record(one, &returned, undo),
                Err(f) if f.code_is(DUPLICATE) => {
                    info!(rule = %spec, "left alone: the same rule exists already (InvalidPermission.Duplicate), not ours");
                }
                Err(f) => return Err(refused(f, group_id)),
            }
        }
        Ok(())
    }

    /// One Authorize… call, paced; the rules EC2 says it made.
    async fn authorize_call(
        &self,
        pace: &Pace,
        grant: &Grant<'_>,
        rules: &[RuleSpec],
    ) -> Result<Vec<Rule>, AwsFailure> {
        let Grant { group_id, direction, owner, description } = *grant;
        let permissions = Some(ip_permissions(rules, description));
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::SecurityGroupRule)
            .tags(Tag::builder().key(OWNER_TAG).value(owner).build())
            .build();
        Ok(match direction {
            Direction::Ingress => {
                let call = self
                    .ec2
                    .authorize_security_group_ingress()
                    .group_id(group_id)
                    .set_ip_permissions(permissions)
                    .tag_specifications(tags);
                let sent = pace.send(AUTHORIZE_INGRESS, || call.clone().send()).await?;
                sent.security_group_rules().iter().filter_map(rule).collect()
            }
            Direction::Egress => {
                let call = self
                    .ec2
                    .authorize_security_group_egress()
                    .group_id(group_id)
                    .set_ip_permissions(permissions)
                    .tag_specifications(tags);
                let sent = pace.send(AUTHORIZE_EGRESS, || call.clone().send()).await?;
                sent.security_group_rules().iter().filter_map(rule).collect()
            }
        })
    }

    /// Revoke `rule_ids` (one group, one direction) in one call; `revoked` counts each rule gone.
    /// EC2 refuses the whole call when it does not know one of the ids
    /// (`InvalidSecurityGroupRuleId.NotFound`; moto says `InvalidPermission.NotFound`) and then
    /// revokes none: they are revoked one at a time instead, each as `revoke_one` does.
    pub async fn revoke(
        &self,
        pace: &Pace,
        group_id: &str,
        direction: Direction,
        rule_ids: &[String],
        revoked: &mut usize,
    ) -> Result<(), AccessError> {
        if rule_ids.len() > 1 {
            match self.revoke_call(pace, group_id, direction, rule_ids).await {
                Ok(()) => {
                    for id in rule_ids {
                        info!(group = %group_id, rule = %id, "revoked rule");
                    }
                    *revoked += rule_ids.len();
                    return Ok(());
                }
                Err(f) if f.code_is("InvalidGroup.NotFound") => {
                    info!(group = %group_id, rules = rule_ids.len(), "the group is gone, and its rules with it");
                    *revoked += rule_ids.len();
                    return Ok(());
                }
                Err(f) if f.code_is(RULE_NOT_FOUND) || f.code_is("InvalidPermission.NotFound") => {
                    info!(group = %group_id, rules = rule_ids.len(), code = %f.code, "EC2 does not know one of the rule ids (it revoked none of them); revoking them one at a time");
                }
                Err(f) => return Err(f.into()),
            }
        }
        for id in rule_ids {
            self.revoke_one(pace, group_id, id, direction).await?;
            *revoked += 1;
        }
        Ok(())
    }

    /// Revoke one rule by id. Already gone is success; but a rule id this function just added or
    /// just read can answer `InvalidSecurityGroupRuleId.NotFound` for a while ("Eventual
    /// consistency in the Amazon EC2 API"), so that answer is tried again a few times (about 2 s
    /// in all) before it counts as gone.
    async fn revoke_one(
        &self,
        pace: &Pace,
        group_id: &str,
        rule_id: &str,
        direction: Direction,
    ) -> Result<(), AccessError> {
        let mut pause = std::time::Duration::from_millis(250);
        let ids = [rule_id.to_string()];
        loop {
            match self.revoke_call(pace, group_id, direction, &ids).await {
                Ok(()) => {
                    info!(group = %group_id, rule = %rule_id, "revoked rule");
                    return Ok(());
                }
                Err(f) if f.code_is(RULE_NOT_FOUND) && pause <= std::time::Duration::from_secs(1) => {
                    info!(group = %group_id, rule = %rule_id, "rule not found yet; trying again in {} ms", pause.as_millis());
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(f)
                    if f.code_is(RULE_NOT_FOUND)
                        || f.code_is("InvalidPermission.NotFound")
                        || f.code_is("InvalidGroup.NotFound") =>
                {
                    info!(group = %group_id, rule = %rule_id, code = %f.code, "rule already gone");
                    return Ok(());
                }
                Err(f) => return Err(f.into()),
            }
        }
    }

    /// One Revoke… call naming `rule_ids`, paced.
    async fn revoke_call(
        &self,
        pace: &Pace,
        group_id: &str,
        direction: Direction,
        rule_ids: &[String],
    ) -> Result<(), AwsFailure> {
        let ids = Some(rule_ids.to_vec());
        match direction {
            Direction::Ingress => {
                let call = self.ec2.revoke_security_group_ingress().group_id(group_id).set_security_group_rule_ids(ids);
                pace.send(REVOKE_INGRESS, || call.clone().send()).await?;
            }
            Direction::Egress => {
                let call = self.ec2.revoke_security_group_egress().group_id(group_id).set_security_group_rule_ids(ids);
                pace.send(REVOKE_EGRESS, || call.clone().send()).await?;
            }
        }
        Ok(())
    }
}

const AUTHORIZE_INGRESS: &str = "ec2:AuthorizeSecurityGroupIngress";
const AUTHORIZE_EGRESS: &str = "ec2:AuthorizeSecurityGroupEgress";
const REVOKE_INGRESS: &str = "ec2:RevokeSecurityGroupIngress";
const REVOKE_EGRESS: &str = "ec2:RevokeSecurityGroupEgress";
/// One of an Authorize's rules exists already; EC2 made none of them.
const DUPLICATE: &str = "InvalidPermission.Duplicate";
/// EC2 does not know a rule id: gone, or, right after it was made, not visible yet.
const RULE_NOT_FOUND: &str = "InvalidSecurityGroupRuleId.NotFound";

/// A describe of groups by id refused because one of them does not exist (or is no group id).
fn names_missing_group(f: &AwsFailure) -> bool {
    f.code_is("InvalidGroup.NotFound") || f.code_is("InvalidGroupId.Malformed")
}

/// What an Authorize's refusal means for the user.
fn refused(f: AwsFailure, group_id: &str) -> AccessError {
    if f.code_is("RulesPerSecurityGroupLimitExceeded") {
        AccessError::RuleLimit { group_id: group_id.into() }
    } else if f.code_is("InvalidGroup.NotFound") {
        AccessError::GroupNotFound { group_id: group_id.into() }
    } else {
        f.into()
    }
}

/// The permissions of an Authorize carrying `rules`, each peer with the rule description.
fn ip_permissions(rules: &[RuleSpec], description: &str) -> Vec<IpPermission> {
    permissions(rules)
        .into_iter()
        .map(|p| {
            let port = i32::from(p.port);
            let mut permission = IpPermission::builder().ip_protocol("tcp").from_port(port).to_port(port);
            for id in &p.groups {
                permission = permission
                    .user_id_group_pairs(UserIdGroupPair::builder().group_id(id).description(description).build());
            }
            for id in &p.prefix_lists {
                permission = permission
                    .prefix_list_ids(PrefixListId::builder().prefix_list_id(id).description(description).build());
            }
            for net in &p.cidrs {
                permission = match net {
                    IpNet::V4(_) => permission
                        .ip_ranges(IpRange::builder().cidr_ip(net.to_string()).description(description).build()),
                    IpNet::V6(_) => permission
                        .ipv6_ranges(Ipv6Range::builder().cidr_ipv6(net.to_string()).description(description).build()),
                };
            }
            permission.build()
        })
        .collect()
}

/// Log each rule an Authorize made, and keep the revoke that undoes it.
fn record(planned: &[RuleSpec], returned: &[Rule], undo: &mut Vec<Action>) {
    let matched = match_returned(planned, returned);
    for (spec, id) in &matched.added {
        info!(rule = %spec, id = %id, "added rule");
    }
    for rule in &matched.unplanned {
        warn!(group = %rule.group_id, id = %rule.id, peer = %rule.peer, "EC2 returned a rule not asked for; it carries the owner tag and is undone with the others");
    }
    for spec in &matched.unreported {
        warn!(rule = %spec, "added, but EC2 returned no rule id for it: only a Delete (by its owner tag) can revoke it");
    }
    undo.extend(returned.iter().map(|r| Action::Revoke {
        rule_id: r.id.clone(),
        group_id: r.group_id.clone(),
        direction: r.direction,
    }));
}

/// Empty strings count as absent (some emulators send empty elements).
fn present(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

fn rule(r: &SecurityGroupRule) -> Option<Rule> {
    let peer = if let Some(g) = present(r.referenced_group_info().and_then(|g| g.group_id())) {
        Peer::Group(g.into())
    } else if let Some(pl) = present(r.prefix_list_id()) {
        Peer::PrefixList(pl.into())
    } else {
        Peer::Cidr(present(r.cidr_ipv4()).or(present(r.cidr_ipv6()))?.parse().ok()?)
    };
    Some(Rule {
        id: r.security_group_rule_id()?.into(),
        group_id: r.group_id()?.into(),
        direction: if r.is_egress() == Some(true) { Direction::Egress } else { Direction::Ingress },
        protocol: r.ip_protocol().unwrap_or("-1").into(),
        from_port: r.from_port().unwrap_or(-1),
        to_port: r.to_port().unwrap_or(-1),
        peer,
        owner: r.tags().iter().find(|t| t.key() == Some(OWNER_TAG)).and_then(|t| t.value()).map(str::to_owned),
    })
}

#[cfg(test)]
#[path = "ec2_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "ec2_error_tests.rs"]
mod error_tests;
