//! Plain domain types: what the function observes of a VPC's endpoints and security groups, and
//! the rule changes it decides on.

use std::fmt;

use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    Interface,
    Gateway,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    /// The full service name: `com.amazonaws.<region>.<name>`, or in the China regions often
    /// `cn.com.amazonaws.<region>.<name>` (see `plan::serves`).
    pub service: String,
    pub kind: EndpointKind,
    pub state: String,
    pub private_dns: bool,
    pub security_group_ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    Ingress,
    Egress,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        })
    }
}

/// The other end of a rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    Group(String),
    Cidr(IpNet),
    PrefixList(String),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Group(id) | Peer::PrefixList(id) => f.write_str(id),
            Peer::Cidr(net) => write!(f, "{net}"),
        }
    }
}

/// A security-group rule as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub group_id: String,
    pub direction: Direction,
    /// `-1` for all traffic, else a protocol name or number.
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub peer: Peer,
    /// The owner tag's value, when the rule carries one.
    pub owner: Option<String>,
}

impl Rule {
    /// The rule EC2 makes for `spec`, with this id and owner tag (for the planners' tests and
    /// the bench).
    pub fn made(id: &str, spec: &RuleSpec, owner: Option<&str>) -> Self {
        Rule {
            id: id.into(),
            group_id: spec.group_id.clone(),
            direction: spec.direction,
            protocol: "tcp".into(),
            from_port: spec.port.into(),
            to_port: spec.port.into(),
            peer: spec.peer.clone(),
            owner: owner.map(str::to_owned),
        }
    }

    /// A rule as EC2 describes one made by someone else: any protocol and port range, no owner tag
    /// (for the planners' tests and check-network's).
    pub fn unowned(
        id: &str,
        group_id: &str,
        direction: Direction,
        protocol: &str,
        ports: (i32, i32),
        peer: Peer,
    ) -> Self {
        Rule {
            id: id.into(),
            group_id: group_id.into(),
            direction,
            protocol: protocol.into(),
            from_port: ports.0,
            to_port: ports.1,
            peer,
            owner: None,
        }
    }
}

/// One rule this resource wants: TCP on `port` between `group_id` and `peer`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleSpec {
    pub group_id: String,
    pub direction: Direction,
    pub port: u16,
    pub peer: Peer,
}

impl fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.direction {
            Direction::Ingress => write!(f, "{} ingress tcp/{} from {}", self.group_id, self.port, self.peer),
            Direction::Egress => write!(f, "{} egress tcp/{} to {}", self.group_id, self.port, self.peer),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Authorize(RuleSpec),
    Revoke { rule_id: String, group_id: String, direction: Direction },
}

/// Why a service counts as missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissingWhy {
    NoEndpoint,
    NotAvailable { endpoint_id: String, state: String },
    PrivateDnsOff { endpoint_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The short name the user wrote (`secretsmanager`).
    pub service: String,
    pub why: MissingWhy,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.why {
            MissingWhy::NoEndpoint => write!(f, "{} (no endpoint)", self.service),
            MissingWhy::NotAvailable { endpoint_id, state } => write!(f, "{} ({endpoint_id} is {state})", self.service),
            MissingWhy::PrivateDnsOff { endpoint_id } => {
                write!(f, "{} ({endpoint_id} has private DNS off)", self.service)
            }
        }
    }
}
