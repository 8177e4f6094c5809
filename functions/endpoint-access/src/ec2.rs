//! Effects: EC2 reads into domain structs (observe) and EC2 writes (apply), with AWS error
//! codes mapped explicitly.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ec2::types::{
    Filter, IpPermission, PrefixListId, ResourceType, SecurityGroupRule, Tag, TagSpecification, UserIdGroupPair,
    VpcEndpointType,
};
use ipnet::IpNet;
use shared::aws::AwsFailure;
use tracing::info;

use crate::error::AccessError;
use crate::model::{Direction, Endpoint, EndpointKind, Peer, Rule, RuleSpec};
use crate::plan::{pick_s3_prefix_list, s3_prefix_list_names};

/// The tag on every rule this resource adds; its value names the owner.
pub const OWNER_TAG: &str = "ecs-plumbing:owner";

pub struct Network {
    pub ec2: Ec2,
}

impl Network {
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
        let found = self
            .ec2
            .describe_vpc_endpoints()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(AwsFailure::of("ec2:DescribeVpcEndpoints"))?;
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
        match self
            .ec2
            .describe_security_groups()
            .set_group_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(AwsFailure::of("ec2:DescribeSecurityGroups"))
        {
            Ok(out) => Ok(out
                .security_groups()
                .iter()
                .map(|g| (g.group_id().unwrap_or_default().to_string(), g.vpc_id().unwrap_or_default().to_string()))
                .collect()),
            Err(f) if f.code_is("InvalidGroup.NotFound") || f.code_is("InvalidGroupId.Malformed") => {
                for id in ids {
                    match self
                        .ec2
                        .describe_security_groups()
                        .group_ids(id)
                        .send()
                        .await
                        .map_err(AwsFailure::of("ec2:DescribeSecurityGroups"))
                    {
                        Ok(_) => {}
                        Err(one) if one.code_is("InvalidGroup.NotFound") || one.code_is("InvalidGroupId.Malformed") => {
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

    /// The rules of these groups and every rule carrying `owner`, wherever it is.
    pub async fn rules(&self, group_ids: &[String], owner: &str) -> Result<Vec<Rule>, AccessError> {
        let by_owner = Filter::builder().name(format!("tag:{OWNER_TAG}")).values(owner).build();
        // AWS rejects a filter without values: no groups, no group filter.
        let by_group = (!group_ids.is_empty())
            .then(|| Filter::builder().name("group-id").set_values(Some(group_ids.to_vec())).build());
        let mut rules: BTreeMap<String, Rule> = BTreeMap::new();
        for filter in by_group.into_iter().chain([by_owner]) {
            let found = self
                .ec2
                .describe_security_group_rules()
                .filters(filter)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(AwsFailure::of("ec2:DescribeSecurityGroupRules"))?;
            rules.extend(found.iter().filter_map(rule).map(|r| (r.id.clone(), r)));
        }
        Ok(rules.into_values().collect())
    }

    /// Add one rule, tagged with its owner. Returns the new rule's id (none when AWS says an
    /// identical rule appeared meanwhile: it is not ours, and that is fine).
    pub async fn authorize(
        &self,
        spec: &RuleSpec,
        owner: &str,
        description: &str,
    ) -> Result<Option<String>, AccessError> {
        let mut permission =
            IpPermission::builder().ip_protocol("tcp").from_port(spec.port.into()).to_port(spec.port.into());
        permission =
            match &spec.peer {
                Peer::Group(id) => permission
                    .user_id_group_pairs(UserIdGroupPair::builder().group_id(id).description(description).build()),
                Peer::PrefixList(id) => permission
                    .prefix_list_ids(PrefixListId::builder().prefix_list_id(id).description(description).build()),
                Peer::Cidr(_) => unreachable!("the plan never asks for CIDR rules"),
            };
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::SecurityGroupRule)
            .tags(Tag::builder().key(OWNER_TAG).value(owner).build())
            .build();
        let sent = match spec.direction {
            Direction::Ingress => self
                .ec2
                .authorize_security_group_ingress()
                .group_id(&spec.group_id)
                .ip_permissions(permission.build())
                .tag_specifications(tags)
                .send()
                .await
                .map(|o| o.security_group_rules().first().and_then(|r| r.security_group_rule_id()).map(str::to_owned))
                .map_err(AwsFailure::of("ec2:AuthorizeSecurityGroupIngress")),
            Direction::Egress => self
                .ec2
                .authorize_security_group_egress()
                .group_id(&spec.group_id)
                .ip_permissions(permission.build())
                .tag_specifications(tags)
                .send()
                .await
                .map(|o| o.security_group_rules().first().and_then(|r| r.security_group_rule_id()).map(str::to_owned))
                .map_err(AwsFailure::of("ec2:AuthorizeSecurityGroupEgress")),
        };
        match sent {
            Ok(id) => {
                info!(rule = %spec, id = id.as_deref().unwrap_or("?"), "added rule");
                Ok(id)
            }
            Err(f) if f.code_is("InvalidPermission.Duplicate") => Ok(None),
            Err(f) if f.code_is("RulesPerSecurityGroupLimitExceeded") => {
                Err(AccessError::RuleLimit { group_id: spec.group_id.clone() })
            }
            Err(f) if f.code_is("InvalidGroup.NotFound") => {
                Err(AccessError::GroupNotFound { group_id: spec.group_id.clone() })
            }
            Err(f) => Err(f.into()),
        }
    }

    /// Revoke one rule by id. Already gone is success; but a rule id this function just added or
    /// just read can answer `InvalidSecurityGroupRuleId.NotFound` for a while ("Eventual
    /// consistency in the Amazon EC2 API"), so that answer is tried again a few times (about 2 s
    /// in all) before it counts as gone.
    pub async fn revoke(&self, group_id: &str, rule_id: &str, direction: Direction) -> Result<(), AccessError> {
        let mut pause = std::time::Duration::from_millis(250);
        loop {
            match self.revoke_once(group_id, rule_id, direction).await? {
                Revoked::Done => return Ok(()),
                Revoked::RuleNotFound if pause <= std::time::Duration::from_secs(1) => {
                    info!(group = %group_id, rule = %rule_id, "rule not found yet; trying again in {} ms", pause.as_millis());
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Revoked::RuleNotFound => return Ok(()),
            }
        }
    }

    async fn revoke_once(&self, group_id: &str, rule_id: &str, direction: Direction) -> Result<Revoked, AccessError> {
        let sent = match direction {
            Direction::Ingress => self
                .ec2
                .revoke_security_group_ingress()
                .group_id(group_id)
                .security_group_rule_ids(rule_id)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsFailure::of("ec2:RevokeSecurityGroupIngress")),
            Direction::Egress => self
                .ec2
                .revoke_security_group_egress()
                .group_id(group_id)
                .security_group_rule_ids(rule_id)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsFailure::of("ec2:RevokeSecurityGroupEgress")),
        };
        match sent {
            Ok(()) => {
                info!(group = %group_id, rule = %rule_id, "revoked rule");
                Ok(Revoked::Done)
            }
            Err(f) if f.code_is("InvalidSecurityGroupRuleId.NotFound") => Ok(Revoked::RuleNotFound),
            Err(f) if f.code_is("InvalidPermission.NotFound") || f.code_is("InvalidGroup.NotFound") => {
                Ok(Revoked::Done)
            }
            Err(f) => Err(f.into()),
        }
    }
}

/// How one RevokeSecurityGroup… call ended.
enum Revoked {
    /// Revoked, or its group is gone.
    Done,
    /// EC2 does not know the rule id: gone, or, right after it was made, not visible yet.
    RuleNotFound,
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
