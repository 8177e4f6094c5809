//! Effects: EC2 reads into the model. The endpoints, groups and rules are read as
//! `Custom::EndpointAccess` reads them (`endpoint_access::ec2::Ec2Api`); the subnets, route
//! tables and peering connections here.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{Filter, RouteState};
use endpoint_access::AccessError;
use endpoint_access::ec2::Ec2Api;
use ipnet::IpNet;
use shared::aws::{AwsFailure, every_item};

use crate::error::CheckError;
use crate::model::{Ask, Network, Peering, Route, RouteDestination, RouteTable, Subnet, Target};

/// The tasks' network as given or as the service has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub vpc_id: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub public_ip: Option<bool>,
}

/// A route table as read: its routes, the subnets associated with it, whether it is the main one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadTable {
    pub table: RouteTable,
    pub subnets: Vec<String>,
    pub main: bool,
}

/// Each subnet with the table it uses: its own association, else the VPC's main table
/// (<https://docs.aws.amazon.com/vpc/latest/userguide/RouteTables.html#RouteTableDetails>: "a
/// subnet that is not explicitly associated with any route table is implicitly associated with
/// the main route table"). Pure.
pub fn subnet_tables(subnets: &[String], tables: &[ReadTable]) -> Vec<Subnet> {
    let main = tables.iter().find(|t| t.main);
    subnets
        .iter()
        .map(|id| {
            let own = tables.iter().find(|t| t.subnets.contains(id)).or(main);
            Subnet { id: id.clone(), route_table: own.map(|t| t.table.clone()) }
        })
        .collect()
}

pub struct Reader {
    pub api: Ec2Api,
    pub region: String,
}

impl Reader {
    /// Everything `ask` needs to know of the placement's network.
    pub async fn network(&self, placement: &Placement, ask: &Ask) -> Result<Network, CheckError> {
        let vpc_id = self.subnets_vpc(&placement.subnets, placement.vpc_id.as_deref()).await?;
        let vpc_cidrs = self.api.vpc_cidrs(&vpc_id).await?;
        let endpoints = self.api.endpoints(&vpc_id).await?;
        let mut groups: BTreeSet<String> = placement.security_groups.iter().cloned().collect();
        // The task groups must exist and be the VPC's; destination groups may be a peer's.
        let vpcs = self.api.group_vpcs(&placement.security_groups).await?;
        for group in &placement.security_groups {
            match vpcs.get(group) {
                Some(vpc) if vpc != &vpc_id => {
                    return Err(AccessError::GroupInOtherVpc {
                        group_id: group.clone(),
                        vpc_id: vpc_id.clone(),
                        actual_vpc: vpc.clone(),
                    }
                    .into());
                }
                Some(_) => {}
                None => return Err(AccessError::GroupNotFound { group_id: group.clone() }.into()),
            }
        }
        let destination_groups: Vec<String> = ask.to_groups.iter().map(|g| g.group_id.clone()).collect();
        if !destination_groups.is_empty() {
            self.api.group_vpcs(&destination_groups).await?;
        }
        groups.extend(destination_groups);
        groups.extend(endpoints.iter().flat_map(|e| e.security_group_ids.iter().cloned()));
        let rules = self.api.group_rules(&groups.into_iter().collect::<Vec<_>>()).await?;
        let s3_prefix_list =
            if ask.services.iter().any(|s| s == "s3") { self.api.s3_prefix_list(&self.region).await? } else { None };
        let tables = self.route_tables(&vpc_id).await?;
        let subnets = subnet_tables(&placement.subnets, &tables);
        let pcx: BTreeSet<String> = subnets
            .iter()
            .filter_map(|s| s.route_table.as_ref())
            .flat_map(|t| &t.routes)
            .filter_map(|r| match &r.target {
                Target::Peering(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
        let peerings = if ask.to.is_empty() || pcx.is_empty() { Vec::new() } else { self.peerings(&pcx).await? };
        Ok(Network {
            region: self.region.clone(),
            vpc_id,
            vpc_cidrs,
            subnets,
            task_groups: placement.security_groups.clone(),
            public_ip: placement.public_ip,
            endpoints,
            rules,
            s3_prefix_list,
            peerings,
        })
    }

    /// The one VPC of `subnets` (each must exist, and all in `vpc_id` when given).
    async fn subnets_vpc(&self, subnets: &[String], vpc_id: Option<&str>) -> Result<String, CheckError> {
        let call = self.api.ec2.describe_subnets().set_subnet_ids(Some(subnets.to_vec()));
        let found = match call.send().await.map_err(AwsFailure::of("ec2:DescribeSubnets")) {
            Ok(out) => out.subnets.unwrap_or_default(),
            Err(f) if f.code_is("InvalidSubnetID.NotFound") || f.code_is("InvalidSubnetID.Malformed") => {
                // The error names the subnet in its message only; the first not found is named.
                let missing = subnets.iter().find(|s| f.message.contains(s.as_str())).or(subnets.first());
                return Err(CheckError::SubnetNotFound { subnet_id: missing.cloned().unwrap_or_default() });
            }
            Err(f) => return Err(f.into()),
        };
        let mut vpc: Option<String> = vpc_id.map(str::to_owned);
        for id in subnets {
            let subnet = found
                .iter()
                .find(|s| s.subnet_id() == Some(id.as_str()))
                .ok_or_else(|| CheckError::SubnetNotFound { subnet_id: id.clone() })?;
            let actual = subnet.vpc_id().unwrap_or_default().to_string();
            match &vpc {
                Some(v) if v != &actual => {
                    return Err(CheckError::SubnetInOtherVpc {
                        subnet_id: id.clone(),
                        vpc_id: v.clone(),
                        actual_vpc: actual,
                    });
                }
                Some(_) => {}
                None => vpc = Some(actual),
            }
        }
        vpc.ok_or_else(|| CheckError::Usage("no subnet given".into()))
    }

    /// Every route table of the VPC, in one paginated describe.
    async fn route_tables(&self, vpc_id: &str) -> Result<Vec<ReadTable>, CheckError> {
        let filter = Filter::builder().name("vpc-id").values(vpc_id).build();
        let pages = self.api.ec2.describe_route_tables().filters(filter).into_paginator().items().send();
        let found = every_item("ec2:DescribeRouteTables", pages).await?;
        Ok(found
            .iter()
            .map(|t| ReadTable {
                table: RouteTable {
                    id: t.route_table_id().unwrap_or_default().into(),
                    routes: t.routes().iter().filter_map(route).collect(),
                },
                subnets: t.associations().iter().filter_map(|a| a.subnet_id()).map(str::to_owned).collect(),
                main: t.associations().iter().any(|a| a.main() == Some(true)),
            })
            .collect())
    }

    /// The peering connections `ids`, with their status and DNS options.
    async fn peerings(&self, ids: &BTreeSet<String>) -> Result<Vec<Peering>, CheckError> {
        let call = self
            .api
            .ec2
            .describe_vpc_peering_connections()
            .set_vpc_peering_connection_ids(Some(ids.iter().cloned().collect()));
        let out = call.send().await.map_err(AwsFailure::of("ec2:DescribeVpcPeeringConnections"))?;
        let dns = |i: Option<&aws_sdk_ec2::types::VpcPeeringConnectionVpcInfo>| {
            i.and_then(|i| i.peering_options()).and_then(|o| o.allow_dns_resolution_from_remote_vpc()).unwrap_or(false)
        };
        let vpc = |i: Option<&aws_sdk_ec2::types::VpcPeeringConnectionVpcInfo>| {
            i.and_then(|i| i.vpc_id()).unwrap_or_default().to_string()
        };
        Ok(out
            .vpc_peering_connections()
            .iter()
            .map(|p| Peering {
                id: p.vpc_peering_connection_id().unwrap_or_default().into(),
                status: p.status().and_then(|s| s.code()).map(|c| c.as_str().to_string()).unwrap_or_default(),
                requester_vpc: vpc(p.requester_vpc_info()),
                accepter_vpc: vpc(p.accepter_vpc_info()),
                requester_dns: dns(p.requester_vpc_info()),
                accepter_dns: dns(p.accepter_vpc_info()),
            })
            .collect())
    }
}

/// Empty strings count as absent (some emulators send empty elements).
fn present(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

fn route(r: &aws_sdk_ec2::types::Route) -> Option<Route> {
    let destination = if let Some(pl) = present(r.destination_prefix_list_id()) {
        RouteDestination::PrefixList(pl.into())
    } else {
        RouteDestination::Cidr(
            present(r.destination_cidr_block()).or(present(r.destination_ipv6_cidr_block()))?.parse::<IpNet>().ok()?,
        )
    };
    let target = if let Some(id) = present(r.nat_gateway_id()) {
        Target::NatGateway(id.into())
    } else if let Some(id) = present(r.vpc_peering_connection_id()) {
        Target::Peering(id.into())
    } else if let Some(id) = present(r.transit_gateway_id()) {
        Target::TransitGateway(id.into())
    } else if let Some(id) = present(r.gateway_id()) {
        match id {
            "local" => Target::Local,
            _ if id.starts_with("igw-") => Target::InternetGateway(id.into()),
            _ if id.starts_with("vpce-") => Target::Endpoint(id.into()),
            _ => Target::Other(id.into()),
        }
    } else {
        let other =
            [r.network_interface_id(), r.instance_id(), r.egress_only_internet_gateway_id(), r.carrier_gateway_id()];
        Target::Other(other.into_iter().find_map(present).unwrap_or("unknown").into())
    };
    Some(Route { destination, target, active: r.state() != Some(&RouteState::Blackhole) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A case: its name, the tables read, each subnet's table.
    type Case = (&'static str, Vec<ReadTable>, Vec<Option<&'static str>>);

    fn read(id: &str, subnets: &[&str], main: bool) -> ReadTable {
        ReadTable {
            table: RouteTable { id: id.into(), routes: vec![] },
            subnets: subnets.iter().map(|s| s.to_string()).collect(),
            main,
        }
    }

    #[test]
    fn subnet_tables_table() {
        let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: Vec<Case> = vec![
            (
                "own table, else the main one",
                vec![read("rtb-main", &[], true), read("rtb-a", &["subnet-a"], false)],
                vec![Some("rtb-a"), Some("rtb-main")],
            ),
            ("no main table", vec![read("rtb-a", &["subnet-a"], false)], vec![Some("rtb-a"), None]),
        ];
        for (case, tables, expected) in cases {
            let got: Vec<Option<String>> = subnet_tables(&names(&["subnet-a", "subnet-b"]), &tables)
                .into_iter()
                .map(|s| s.route_table.map(|t| t.id))
                .collect();
            let expected: Vec<Option<String>> = expected.into_iter().map(|e| e.map(str::to_owned)).collect();
            assert_eq!(got, expected, "{case}");
        }
    }
}
