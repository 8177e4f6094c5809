//! Plain domain types: what the function observes of AWS and what it decides to do.

use std::fmt;

use ipnet::IpNet;

/// A VPC as far as peering cares: its associated CIDR blocks (IPv4 and IPv6) and DNS flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vpc {
    pub id: String,
    pub cidrs: Vec<IpNet>,
    pub dns_support: bool,
    pub dns_hostnames: bool,
}

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Peering(String),
    /// Anything else (gateway, NAT, transit gateway, ENI, instance, local…): kind and id.
    Other {
        kind: &'static str,
        id: String,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Peering(id) => write!(f, "peering connection {id}"),
            Target::Other { kind, id } => write!(f, "{kind} {id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub destination: IpNet,
    pub target: Target,
    /// A route whose target no longer exists (AWS keeps it, doing nothing).
    pub blackhole: bool,
    /// Propagated from a virtual private gateway (`Origin: EnableVgwRoutePropagation`): a static
    /// route to the same destination is accepted and takes precedence.
    pub propagated: bool,
}

/// A route to a managed prefix list (`DestinationPrefixListId`), with the list's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixListRoute {
    pub list_id: String,
    pub entries: Vec<IpNet>,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: String,
    pub routes: Vec<Route>,
    pub prefix_list_routes: Vec<PrefixListRoute>,
}

/// One route this resource wants: in `table_id`, to `destination`, through its connection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteSpec {
    pub table_id: String,
    pub destination: IpNet,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    AddRoute(RouteSpec),
    /// A static route where a propagated one has the same destination (AWS prefers the static).
    AddOverPropagated(RouteSpec),
    /// Move a route from another connection of this resource (a replacement) to this one.
    ReplaceRoute {
        spec: RouteSpec,
        from: String,
    },
    RemoveRoute(RouteSpec),
}

impl Action {
    /// The EC2 API action (and so the request-rate bucket) it takes.
    pub fn api(&self) -> &'static str {
        match self {
            Action::AddRoute(_) | Action::AddOverPropagated(_) => "ec2:CreateRoute",
            Action::ReplaceRoute { .. } => "ec2:ReplaceRoute",
            Action::RemoveRoute(_) => "ec2:DeleteRoute",
        }
    }
}

/// A destination we need that a route table already sends somewhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub table_id: String,
    pub destination: IpNet,
    pub target: Target,
    pub blackhole: bool,
    /// The route is to a prefix list holding the destination: a more specific route through
    /// the peering would silently take its traffic.
    pub prefix_list: Option<String>,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.blackhole { " (blackhole)" } else { "" };
        match &self.prefix_list {
            Some(list) => write!(
                f,
                "{} already sends prefix list {list}, which holds {}, to {}{state}",
                self.table_id, self.destination, self.target
            ),
            None => write!(f, "{} already sends {} to {}{state}", self.table_id, self.destination, self.target),
        }
    }
}

/// Two blocks that overlap, one from each side: peering cannot route between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub local: IpNet,
    pub peer: IpNet,
}

/// A peering connection as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: String,
    pub status: String,
    pub message: String,
    pub requester_vpc_id: String,
    pub accepter_vpc_id: String,
    /// The other side's CIDRs as the connection reports them (used when that VPC is not ours to read).
    pub requester_cidrs: Vec<IpNet>,
    pub accepter_cidrs: Vec<IpNet>,
    pub requester_dns: bool,
    pub accepter_dns: bool,
    /// Who must accept it, and where (for a request accepted in the wrong account or region).
    pub accepter_owner: String,
    pub accepter_region: String,
}

impl Connection {
    /// Gone for good: nothing can route through it again.
    pub fn is_gone(&self) -> bool {
        matches!(self.status.as_str(), "deleted" | "deleting" | "rejected" | "failed" | "expired")
    }
}
