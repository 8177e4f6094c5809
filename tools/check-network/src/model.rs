//! What `check-network` observes, as plain structs: the tasks' network (subnets and their route
//! tables, security groups, the VPC's endpoints and peering connections) and what to check.

use endpoint_access::model::{Endpoint, Rule};
use ipnet::IpNet;

/// What to check, from the arguments (and the service's task definition).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ask {
    /// Short service names (`ecr.api`), each to be reached through an endpoint or the internet.
    pub services: Vec<String>,
    /// Destinations by address (`--to`).
    pub to: Vec<Destination>,
    /// Destinations by security group (`--to-security-group`).
    pub to_groups: Vec<GroupDestination>,
}

/// `--to 10.1.0.0/16:5432`: a block (an address is a /32 or /128) and perhaps a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub net: IpNet,
    pub port: Option<u16>,
}

/// `--to-security-group sg-…:2049`: a destination's group and perhaps a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDestination {
    pub group_id: String,
    pub port: Option<u16>,
}

/// The tasks' network as observed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Network {
    pub region: String,
    pub vpc_id: String,
    pub vpc_cidrs: Vec<IpNet>,
    /// The tasks' subnets, each with the route table it uses.
    pub subnets: Vec<Subnet>,
    pub task_groups: Vec<String>,
    /// `assignPublicIp` of the service's tasks; `None` when not known (`--vpc` without
    /// `--assign-public-ip`).
    pub public_ip: Option<bool>,
    pub endpoints: Vec<Endpoint>,
    /// Every rule of the task groups, the endpoints' groups and the destination groups.
    pub rules: Vec<Rule>,
    /// S3's gateway prefix list in this region, when found.
    pub s3_prefix_list: Option<String>,
    /// The peering connections the subnets' routes name.
    pub peerings: Vec<Peering>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    /// Its explicitly associated table, else the VPC's main table; `None` if neither was found.
    pub route_table: Option<RouteTable>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub destination: RouteDestination,
    pub target: Target,
    /// `active`; a route whose target is gone is a `blackhole`.
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDestination {
    Cidr(IpNet),
    PrefixList(String),
}

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Local,
    InternetGateway(String),
    NatGateway(String),
    Peering(String),
    TransitGateway(String),
    /// A gateway endpoint (`vpce-…`), the target of S3's and DynamoDB's prefix-list routes.
    Endpoint(String),
    Other(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Local => f.write_str("local"),
            Target::InternetGateway(id)
            | Target::NatGateway(id)
            | Target::Peering(id)
            | Target::TransitGateway(id)
            | Target::Endpoint(id)
            | Target::Other(id) => f.write_str(id),
        }
    }
}

/// A VPC peering connection: its status code and each side's DNS resolution flag
/// (`AllowDnsResolutionFromRemoteVpc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peering {
    pub id: String,
    pub status: String,
    pub requester_vpc: String,
    pub accepter_vpc: String,
    pub requester_dns: bool,
    pub accepter_dns: bool,
}
