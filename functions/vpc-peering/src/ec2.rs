//! Effects: EC2 reads into domain structs (observe) and EC2 writes (apply), for one side of
//! the connection, with AWS error codes mapped explicitly.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

use aws_sdk_ec2::Client as Ec2;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{
    Filter, PeeringConnectionOptionsRequest, ResourceType, RouteOrigin, RouteState, Tag, TagSpecification,
    VpcAttributeName, VpcCidrBlockStateCode, VpcPeeringConnection, VpcPeeringConnectionVpcInfo,
};
use ipnet::IpNet;
use shared::aws::{AwsFailure, every_item};
use shared::custom_resource::RequestContext;
use shared::pace::{self, Bucket};
use tokio::time::Instant;
use tracing::info;

use crate::error::{PeeringError, parse_cidr};
use crate::model::{Action, Conflict, Connection, PrefixListRoute, Route, RouteSpec, RouteTable, Target, Vpc};

/// EC2 in one side's account and Region (local or peer): reads into the model, writes what the
/// plan says (the same role as endpoint-access's `Ec2Api`).
#[derive(Clone)]
pub struct Ec2Api {
    pub ec2: Ec2,
    pub account: String,
    pub region: String,
    /// "local" or "peer", for logs.
    pub label: &'static str,
}

/// Tags that mark a connection as this stack resource's (how a repeated Create finds it).
pub const STACK_TAG: &str = "ecs-plumbing:stack-id";
pub const LOGICAL_TAG: &str = "ecs-plumbing:logical-id";

/// EC2 answers this for a connection it does not know, and also, for a while, for one just made
/// ("Eventual consistency in the Amazon EC2 API"; terraform-provider-aws #30423).
const PCX_NOT_FOUND: &str = "InvalidVpcPeeringConnectionID.NotFound";

/// How a DeleteVpcPeeringConnection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// EC2 does not know the id: long gone, or, right after its creation, not visible yet.
    NotFound,
    /// `InvalidStateTransition`: the connection is still being set up (`initiating-request`).
    NotYet,
}

impl Ec2Api {
    /// This process's model of the side's request-rate bucket for `action`: EC2 meters each
    /// action per account and Region, so two sides there share it.
    pub fn bucket(&self, action: &str) -> Arc<Bucket> {
        pace::bucket(&self.account, &self.region, action)
    }

    /// Send a write paced to its bucket, again while throttled, until a token would come after
    /// `until` (see `shared::pace`).
    async fn write<T, E, R, F, Fut>(&self, action: &'static str, until: Instant, send: F) -> Result<T, AwsFailure>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        pace::send(&self.bucket(action), until, action, send).await
    }

    pub async fn vpc(&self, vpc_id: &str, with_dns: bool) -> Result<Vpc, PeeringError> {
        let not_found = || PeeringError::VpcNotFound {
            vpc_id: vpc_id.into(),
            account: self.account.clone(),
            region: self.region.clone(),
        };
        let out =
            match self.ec2.describe_vpcs().vpc_ids(vpc_id).send().await.map_err(AwsFailure::of("ec2:DescribeVpcs")) {
                Err(f) if f.code_is("InvalidVpcID.NotFound") => return Err(not_found()),
                other => other?,
            };
        let vpc = out.vpcs().first().ok_or_else(not_found)?;
        let mut cidrs = Vec::new();
        for assoc in vpc.cidr_block_association_set() {
            if assoc.cidr_block_state().and_then(|s| s.state()) == Some(&VpcCidrBlockStateCode::Associated) {
                cidrs.extend(assoc.cidr_block().and_then(|c| parse_cidr(c).ok()));
            }
        }
        for assoc in vpc.ipv6_cidr_block_association_set() {
            if assoc.ipv6_cidr_block_state().and_then(|s| s.state()) == Some(&VpcCidrBlockStateCode::Associated) {
                cidrs.extend(assoc.ipv6_cidr_block().and_then(|c| parse_cidr(c).ok()));
            }
        }
        let (dns_support, dns_hostnames) = if with_dns {
            (
                self.vpc_flag(vpc_id, VpcAttributeName::EnableDnsSupport).await?,
                self.vpc_flag(vpc_id, VpcAttributeName::EnableDnsHostnames).await?,
            )
        } else {
            (true, true)
        };
        Ok(Vpc { id: vpc_id.into(), cidrs, dns_support, dns_hostnames })
    }

    async fn vpc_flag(&self, vpc_id: &str, attribute: VpcAttributeName) -> Result<bool, PeeringError> {
        let out = self
            .ec2
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(attribute.clone())
            .send()
            .await
            .map_err(AwsFailure::of("ec2:DescribeVpcAttribute"))?;
        let value = match attribute {
            VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
            _ => out.enable_dns_hostnames(),
        };
        Ok(value.and_then(|v| v.value()).unwrap_or(false))
    }

    /// The tables that exist among `ids`, in one paginated describe. A filter, not the id
    /// list: a table deleted since the last run must not fail the whole read.
    pub async fn route_tables(&self, ids: &[String]) -> Result<Vec<RouteTable>, PeeringError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let filter = Filter::builder().name("route-table-id").set_values(Some(ids.to_vec())).build();
        let tables = self.describe_route_tables(filter).await?;
        // Our filter, applied again: some emulators ignore filters.
        let tables: Vec<_> = tables.iter().filter(|t| ids.iter().any(|id| t.route_table_id() == Some(id))).collect();
        let lists: BTreeSet<&str> =
            tables.iter().flat_map(|t| t.routes()).filter_map(|r| r.destination_prefix_list_id()).collect();
        let mut entries = BTreeMap::new();
        for list in lists {
            entries.insert(list, self.prefix_list_entries(list).await?);
        }
        Ok(tables
            .iter()
            .map(|t| RouteTable {
                id: t.route_table_id().unwrap_or_default().into(),
                vpc_id: t.vpc_id().unwrap_or_default().into(),
                routes: t.routes().iter().filter_map(route).collect(),
                prefix_list_routes: t
                    .routes()
                    .iter()
                    .filter_map(|r| {
                        let list = r.destination_prefix_list_id()?;
                        let entries = entries.get(list).cloned().unwrap_or_default();
                        Some(PrefixListRoute { list_id: list.into(), entries, target: target(r) })
                    })
                    .collect(),
            })
            .collect())
    }

    async fn describe_route_tables(&self, filter: Filter) -> Result<Vec<aws_sdk_ec2::types::RouteTable>, PeeringError> {
        let pages = self.ec2.describe_route_tables().filters(filter).into_paginator().items().send();
        Ok(every_item("ec2:DescribeRouteTables", pages).await?)
    }

    /// The CIDR blocks of a managed prefix list (AWS-managed ones included).
    async fn prefix_list_entries(&self, list_id: &str) -> Result<Vec<IpNet>, PeeringError> {
        let pages = self.ec2.get_managed_prefix_list_entries().prefix_list_id(list_id).into_paginator().items().send();
        let entries = every_item("ec2:GetManagedPrefixListEntries", pages).await?;
        Ok(entries.iter().filter_map(|e| e.cidr().and_then(|c| parse_cidr(c).ok())).collect())
    }

    /// The ids of the tables in this side's account and region with a route through `connection`
    /// (for a Delete that no longer knows its tables).
    pub async fn tables_routing_through(&self, connection: &str) -> Result<Vec<String>, PeeringError> {
        let filter = Filter::builder().name("route.vpc-peering-connection-id").values(connection).build();
        let tables = self.describe_route_tables(filter).await?;
        Ok(tables
            .iter()
            // Our filter, applied again: some emulators ignore filters.
            .filter(|t| t.routes().iter().any(|r| r.vpc_peering_connection_id() == Some(connection)))
            .filter_map(|t| t.route_table_id().map(str::to_owned))
            .collect())
    }

    pub async fn connection(&self, id: &str) -> Result<Option<Connection>, PeeringError> {
        let Some(found) = self.describe_connections(vec![id.into()]).await? else {
            return Ok(None);
        };
        Ok(found.iter().map(connection).find(|c| c.id == id))
    }

    /// The connections `ids` as EC2 describes them; `None` when it does not know one of them (gone,
    /// another account's, or just made: [`PCX_NOT_FOUND`]), as it then describes none.
    async fn describe_connections(&self, ids: Vec<String>) -> Result<Option<Vec<VpcPeeringConnection>>, AwsFailure> {
        let call = self.ec2.describe_vpc_peering_connections().set_vpc_peering_connection_ids(Some(ids));
        match call.send().await.map_err(AwsFailure::of("ec2:DescribeVpcPeeringConnections")) {
            Ok(out) => Ok(Some(out.vpc_peering_connections.unwrap_or_default())),
            Err(f) if f.code_is(PCX_NOT_FOUND) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// Which of `ids` carry this stack resource's tags (a replacement's old connection does).
    pub async fn ours_among(
        &self,
        ids: &BTreeSet<String>,
        stack_id: &str,
        logical_id: &str,
    ) -> Result<BTreeSet<String>, PeeringError> {
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let Some(found) = self.describe_connections(ids.iter().cloned().collect()).await? else {
            // One of them is not visible here (another account's): ask one by one.
            let mut ours = BTreeSet::new();
            if ids.len() > 1 {
                for id in ids {
                    ours.extend(Box::pin(self.ours_among(&[id.clone()].into(), stack_id, logical_id)).await?);
                }
            }
            return Ok(ours);
        };
        Ok(found
            .iter()
            .filter(|p| tagged(p, STACK_TAG, stack_id) && tagged(p, LOGICAL_TAG, logical_id))
            .filter_map(|p| p.vpc_peering_connection_id().map(str::to_owned))
            .filter(|id| ids.contains(id))
            .collect())
    }

    /// The live connection between the two VPCs that this stack resource created earlier.
    /// Empty VPC ids (a Delete whose properties no longer parse) match any VPCs.
    pub async fn find_ours(
        &self,
        vpc_id: &str,
        peer_vpc_id: &str,
        stack_id: &str,
        logical_id: &str,
    ) -> Result<Option<Connection>, PeeringError> {
        let mut filters = vec![Filter::builder().name(format!("tag:{LOGICAL_TAG}")).values(logical_id).build()];
        if !vpc_id.is_empty() {
            filters.push(Filter::builder().name("requester-vpc-info.vpc-id").values(vpc_id).build());
            filters.push(Filter::builder().name("accepter-vpc-info.vpc-id").values(peer_vpc_id).build());
        }
        let pages =
            self.ec2.describe_vpc_peering_connections().set_filters(Some(filters)).into_paginator().items().send();
        let found = every_item("ec2:DescribeVpcPeeringConnections", pages).await?;
        let any_vpc = vpc_id.is_empty();
        Ok(found
            .iter()
            .filter(|p| tagged(p, STACK_TAG, stack_id) && tagged(p, LOGICAL_TAG, logical_id))
            .map(connection)
            .find(|c| (any_vpc || (c.requester_vpc_id == vpc_id && c.accepter_vpc_id == peer_vpc_id)) && !c.is_gone()))
    }

    pub async fn create_connection(
        &self,
        vpc_id: &str,
        peer_vpc_id: &str,
        peer_owner: Option<&str>,
        peer_region: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<Connection, PeeringError> {
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::VpcPeeringConnection)
            .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .build();
        let out = self
            .ec2
            .create_vpc_peering_connection()
            .vpc_id(vpc_id)
            .peer_vpc_id(peer_vpc_id)
            .set_peer_owner_id(peer_owner.map(str::to_owned))
            .set_peer_region(peer_region.map(str::to_owned))
            .tag_specifications(tags)
            .send()
            .await
            .map_err(AwsFailure::of("ec2:CreateVpcPeeringConnection"))?;
        let created = out.vpc_peering_connection().map(connection).ok_or_else(|| AwsFailure {
            action: "ec2:CreateVpcPeeringConnection",
            code: "InvalidResponse".into(),
            message: "the response has no connection".into(),
        })?;
        info!(side = self.label, connection = %created.id, "created peering connection");
        Ok(created)
    }

    /// Accept `id`; `Ok(false)` while this region cannot see it yet. `OperationNotPermitted`
    /// (another account or region must accept) is returned as is: the caller knows which.
    pub async fn accept(&self, id: &str) -> Result<bool, AwsFailure> {
        match self
            .ec2
            .accept_vpc_peering_connection()
            .vpc_peering_connection_id(id)
            .send()
            .await
            .map_err(AwsFailure::of("ec2:AcceptVpcPeeringConnection"))
        {
            Err(f) if f.code_is(PCX_NOT_FOUND) => Ok(false),
            Err(f) => Err(f),
            Ok(_) => {
                info!(side = self.label, connection = %id, "accepted peering connection");
                Ok(true)
            }
        }
    }

    /// Set this side's `AllowDnsResolutionFromRemoteVpc` (each owner sets its own side).
    /// `Ok(false)` while this region does not read the connection active yet ("Peering options
    /// can be added only to active peerings").
    pub async fn set_dns(&self, id: &str, requester: bool, allow: bool) -> Result<bool, PeeringError> {
        let options = PeeringConnectionOptionsRequest::builder().allow_dns_resolution_from_remote_vpc(allow).build();
        let call = self.ec2.modify_vpc_peering_connection_options().vpc_peering_connection_id(id);
        let call = if requester {
            call.requester_peering_connection_options(options)
        } else {
            call.accepter_peering_connection_options(options)
        };
        match call.send().await.map_err(AwsFailure::of("ec2:ModifyVpcPeeringConnectionOptions")) {
            Err(f) if f.code_is("OperationNotPermitted") && f.message.contains("not active") => Ok(false),
            Err(f) => Err(f.into()),
            Ok(_) => {
                info!(side = self.label, connection = %id, allow, "set DNS resolution from the remote VPC");
                Ok(true)
            }
        }
    }

    pub async fn delete_connection(&self, id: &str) -> Result<Deletion, PeeringError> {
        match self
            .ec2
            .delete_vpc_peering_connection()
            .vpc_peering_connection_id(id)
            .send()
            .await
            .map_err(AwsFailure::of("ec2:DeleteVpcPeeringConnection"))
        {
            Err(f) if f.code_is(PCX_NOT_FOUND) => Ok(Deletion::NotFound),
            Err(f) if f.code_is("InvalidStateTransition") => Ok(Deletion::NotYet),
            Err(f) => Err(f.into()),
            Ok(_) => {
                info!(side = self.label, connection = %id, "deleted peering connection");
                Ok(Deletion::Deleted)
            }
        }
    }

    /// Apply route actions in order, each paced to its bucket and retried while throttled until
    /// `until`; returns what was done so a failure can be undone.
    pub async fn apply(
        &self,
        actions: &[Action],
        connection_id: &str,
        ctx: &RequestContext,
        until: Instant,
    ) -> Result<Vec<Action>, (PeeringError, Vec<Action>)> {
        let mut done = Vec::new();
        for action in actions {
            let result = match action {
                Action::AddRoute(spec) => {
                    ctx.step(format!("adding a route to {} in {}", spec.destination, spec.table_id));
                    self.add_route(spec, connection_id, until).await
                }
                Action::AddOverPropagated(spec) => {
                    info!(side = self.label, table = %spec.table_id, destination = %spec.destination, "a propagated route has this destination: the static route through the peering takes precedence over it");
                    ctx.step(format!("adding a route to {} in {}", spec.destination, spec.table_id));
                    self.add_route(spec, connection_id, until).await
                }
                Action::ReplaceRoute { spec, from } => {
                    ctx.step(format!("moving the route to {} in {} from {from}", spec.destination, spec.table_id));
                    self.replace_route(spec, from, connection_id, until).await
                }
                Action::RemoveRoute(spec) => {
                    ctx.step(format!("removing the route to {} from {}", spec.destination, spec.table_id));
                    self.remove_route(spec, until).await
                }
            };
            match result {
                Ok(()) => done.push(action.clone()),
                Err(e) => return Err((e, done)),
            }
        }
        Ok(done)
    }

    async fn add_route(&self, spec: &RouteSpec, connection_id: &str, until: Instant) -> Result<(), PeeringError> {
        let call = self.ec2.create_route().route_table_id(&spec.table_id).vpc_peering_connection_id(connection_id);
        let call = match spec.destination {
            IpNet::V4(d) => call.destination_cidr_block(d.to_string()),
            IpNet::V6(d) => call.destination_ipv6_cidr_block(d.to_string()),
        };
        match self.write("ec2:CreateRoute", until, || call.clone().send()).await {
            Ok(_) => {
                info!(side = self.label, table = %spec.table_id, destination = %spec.destination, connection = %connection_id, "added route");
                Ok(())
            }
            // Someone was faster: ours is success, anything else is a conflict.
            Err(f) if f.code_is("RouteAlreadyExists") => {
                let tables = self.route_tables(std::slice::from_ref(&spec.table_id)).await?;
                let existing =
                    tables.iter().flat_map(|t| &t.routes).find(|r| r.destination == spec.destination && !r.propagated);
                match existing {
                    Some(r) if r.target == Target::Peering(connection_id.into()) => Ok(()),
                    Some(r) => Err(PeeringError::RouteConflicts(vec![Conflict {
                        table_id: spec.table_id.clone(),
                        destination: spec.destination,
                        target: r.target.clone(),
                        blackhole: r.blackhole,
                        prefix_list: None,
                    }])),
                    None => Err(f.into()),
                }
            }
            Err(f) => Err(self.route_failure(f, spec)),
        }
    }

    /// Point an existing route of this resource's old connection at `connection_id`.
    async fn replace_route(
        &self,
        spec: &RouteSpec,
        from: &str,
        connection_id: &str,
        until: Instant,
    ) -> Result<(), PeeringError> {
        let call = self.ec2.replace_route().route_table_id(&spec.table_id).vpc_peering_connection_id(connection_id);
        let call = match spec.destination {
            IpNet::V4(d) => call.destination_cidr_block(d.to_string()),
            IpNet::V6(d) => call.destination_ipv6_cidr_block(d.to_string()),
        };
        match self.write("ec2:ReplaceRoute", until, || call.clone().send()).await {
            Ok(_) => {
                info!(side = self.label, table = %spec.table_id, destination = %spec.destination, from, connection = %connection_id, "moved route to the new connection");
                Ok(())
            }
            // Gone since we looked (the old connection's cleanup ran): add it instead.
            Err(f) if f.code_is("InvalidRoute.NotFound") => self.add_route(spec, connection_id, until).await,
            Err(f) => Err(self.route_failure(f, spec)),
        }
    }

    /// The failures of a route write that users can act on, with the fix.
    fn route_failure(&self, failure: AwsFailure, spec: &RouteSpec) -> PeeringError {
        if failure.code_is("RouteLimitExceeded") {
            return PeeringError::RouteLimit {
                table_id: spec.table_id.clone(),
                account: self.account.clone(),
                region: self.region.clone(),
            };
        }
        failure.into()
    }

    async fn remove_route(&self, spec: &RouteSpec, until: Instant) -> Result<(), PeeringError> {
        let call = self.ec2.delete_route().route_table_id(&spec.table_id);
        let call = match spec.destination {
            IpNet::V4(d) => call.destination_cidr_block(d.to_string()),
            IpNet::V6(d) => call.destination_ipv6_cidr_block(d.to_string()),
        };
        match self.write("ec2:DeleteRoute", until, || call.clone().send()).await {
            Ok(_) => {
                info!(side = self.label, table = %spec.table_id, destination = %spec.destination, "removed route");
                Ok(())
            }
            Err(f) if f.code_is("InvalidRoute.NotFound") || f.code_is("InvalidRouteTableID.NotFound") => Ok(()),
            Err(f) => Err(f.into()),
        }
    }
}

fn tagged(p: &VpcPeeringConnection, key: &str, value: &str) -> bool {
    p.tags().iter().any(|t| t.key() == Some(key) && t.value() == Some(value))
}

fn route(r: &aws_sdk_ec2::types::Route) -> Option<Route> {
    let destination =
        r.destination_cidr_block().or(r.destination_ipv6_cidr_block()).and_then(|d| parse_cidr(d).ok())?;
    Some(Route {
        destination,
        target: target(r),
        blackhole: r.state() == Some(&RouteState::Blackhole),
        propagated: r.origin() == Some(&RouteOrigin::EnableVgwRoutePropagation),
    })
}

fn target(r: &aws_sdk_ec2::types::Route) -> Target {
    let other = |kind: &'static str, id: &str| Target::Other { kind, id: id.to_string() };
    if let Some(id) = r.vpc_peering_connection_id() {
        Target::Peering(id.into())
    } else if let Some(id) = r.gateway_id() {
        other("gateway", id)
    } else if let Some(id) = r.nat_gateway_id() {
        other("NAT gateway", id)
    } else if let Some(id) = r.transit_gateway_id() {
        other("transit gateway", id)
    } else if let Some(id) = r.network_interface_id() {
        other("network interface", id)
    } else if let Some(id) = r.instance_id() {
        other("instance", id)
    } else if let Some(id) = r.egress_only_internet_gateway_id() {
        other("egress-only internet gateway", id)
    } else if let Some(id) = r.local_gateway_id() {
        other("local gateway", id)
    } else if let Some(id) = r.carrier_gateway_id() {
        other("carrier gateway", id)
    } else if let Some(arn) = r.core_network_arn() {
        other("core network", arn)
    } else {
        other("target", "unknown")
    }
}

fn connection(p: &VpcPeeringConnection) -> Connection {
    let status = p.status();
    let info = |i: Option<&VpcPeeringConnectionVpcInfo>| {
        let vpc_id = i.and_then(|i| i.vpc_id()).unwrap_or_default().to_string();
        let mut cidrs: Vec<IpNet> = i
            .map(|i| i.cidr_block_set())
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.cidr_block())
            .filter_map(|c| parse_cidr(c).ok())
            .collect();
        // Some emulators leave the set empty and fill only the primary block.
        if cidrs.is_empty() {
            cidrs.extend(i.and_then(|i| i.cidr_block()).and_then(|c| parse_cidr(c).ok()));
        }
        cidrs.extend(
            i.map(|i| i.ipv6_cidr_block_set())
                .unwrap_or_default()
                .iter()
                .filter_map(|c| c.ipv6_cidr_block())
                .filter_map(|c| parse_cidr(c).ok()),
        );
        let dns =
            i.and_then(|i| i.peering_options()).and_then(|o| o.allow_dns_resolution_from_remote_vpc()).unwrap_or(false);
        (vpc_id, cidrs, dns)
    };
    let (requester_vpc_id, requester_cidrs, requester_dns) = info(p.requester_vpc_info());
    let (accepter_vpc_id, accepter_cidrs, accepter_dns) = info(p.accepter_vpc_info());
    let accepter = p.accepter_vpc_info();
    Connection {
        id: p.vpc_peering_connection_id().unwrap_or_default().into(),
        status: status.and_then(|s| s.code()).map(|c| c.as_str().to_string()).unwrap_or_default(),
        message: status.and_then(|s| s.message()).unwrap_or_default().into(),
        requester_vpc_id,
        accepter_vpc_id,
        requester_cidrs,
        accepter_cidrs,
        requester_dns,
        accepter_dns,
        accepter_owner: accepter.and_then(|i| i.owner_id()).unwrap_or_default().into(),
        accepter_region: accepter.and_then(|i| i.region()).unwrap_or_default().into(),
    }
}

#[cfg(test)]
#[path = "ec2_tests.rs"]
mod tests;
