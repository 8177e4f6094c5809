//! The decisions, apart from effects: from the observed network to one finding per thing the
//! tasks need, with the rules `Custom::EndpointAccess` applies (`endpoint_access::plan`: which
//! endpoint serves a service, which rule allows which traffic) and in its words. Pure,
//! table-tested (`findings_tests.rs`).
//!
//! Security groups are a union: traffic leaves a task when any of its groups allows it out, and
//! enters a destination when any of the destination's groups lets any of the task's groups in
//! (<https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html>: "the rules from
//! all the security groups associated with the instance are evaluated"). One allowed pair is
//! enough, and the finding names it.

use std::fmt;

use endpoint_access::model::{Direction, Endpoint, EndpointKind, Missing, MissingWhy, Peer, RuleSpec};
use endpoint_access::plan::{Pick, allows, pick, serves, usable_state};
use ipnet::IpNet;
use serde::Serialize;

use crate::model::{Ask, Destination, GroupDestination, Network, Peering, RouteDestination, Subnet, Target};

/// Interface endpoints and S3 answer on HTTPS.
const HTTPS: u16 = 443;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Reachable.
    Ok,
    /// Not reachable: the tasks will fail on it. Exit code 1.
    Missing,
    /// Reachable, or not known to be unreachable, but worth a look.
    Warn,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Ok => "ok",
            Level::Missing => "missing",
            Level::Warn => "warn",
        })
    }
}

/// One line of the report: `ok|missing|warn <what>: <detail>; fix: <fix>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Level,
    pub what: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn ok(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding { level: Level::Ok, what: what.into(), detail: detail.into(), fix: None }
    }

    fn missing(what: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding { level: Level::Missing, what: what.into(), detail: detail.into(), fix: Some(fix.into()) }
    }

    fn warn(what: impl Into<String>, detail: impl Into<String>, fix: Option<String>) -> Self {
        Finding { level: Level::Warn, what: what.into(), detail: detail.into(), fix }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.level, self.what, self.detail)?;
        match &self.fix {
            Some(fix) => write!(f, "; fix: {fix}"),
            None => Ok(()),
        }
    }
}

/// Whether everything checked is reachable (no finding is `missing`): exit code 0, else 1.
pub fn all_reachable(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.level != Level::Missing)
}

/// Every finding for `ask` on `net`, in the order asked: services, then destinations.
pub fn findings(ask: &Ask, net: &Network) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut without_endpoint = Vec::new();
    for name in &ask.services {
        match pick(name, &net.region, &net.endpoints) {
            Ok(Pick::Gateway(e)) => gateway(name, e, net, &mut out),
            Ok(Pick::Interface(e)) => interface(name, e, net, &mut out),
            Err(why) => without_endpoint.push(Missing { service: name.clone(), why }),
        }
    }
    if !without_endpoint.is_empty() {
        internet(&without_endpoint, net, &mut out);
    }
    for to in &ask.to {
        destination(to, net, &mut out);
    }
    for to in &ask.to_groups {
        group_destination(to, net, &mut out);
    }
    out
}

/// The first of `specs` that a rule of `net` allows, with that rule's id.
fn first_allowed(net: &Network, specs: impl IntoIterator<Item = RuleSpec>) -> Option<(RuleSpec, String)> {
    specs.into_iter().find_map(|spec| {
        let rule = net.rules.iter().find(|r| allows(r, &spec, &net.vpc_cidrs))?;
        Some((spec, rule.id.clone()))
    })
}

fn spec(group_id: &str, direction: Direction, port: u16, peer: Peer) -> RuleSpec {
    RuleSpec { group_id: group_id.into(), direction, port, peer }
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

/// The tasks' egress on `port` to `peer`, as a union over the task groups.
fn egress(what: String, net: &Network, port: u16, peer: &Peer) -> Finding {
    let specs = net.task_groups.iter().map(|t| spec(t, Direction::Egress, port, peer.clone()));
    match first_allowed(net, specs) {
        Some((allowed, rule)) => Finding::ok(what, format!("{allowed} is allowed by {rule}")),
        None => {
            let first = net.task_groups.first().map(String::as_str).unwrap_or("the task group");
            Finding::missing(
                what,
                format!("no egress rule of {} allows tcp/{port} to {peer}", list(&net.task_groups)),
                format!("add {}", spec(first, Direction::Egress, port, peer.clone())),
            )
        }
    }
}

/// An interface endpoint: its state and private DNS (usable, or `pick` would not have chosen
/// it), its groups' ingress from the task groups, the task groups' egress to its groups.
fn interface(name: &str, e: &Endpoint, net: &Network, out: &mut Vec<Finding>) {
    out.push(Finding::ok(format!("{name} endpoint"), format!("{} is {} with private DNS on", e.id, e.state)));
    let specs = e
        .security_group_ids
        .iter()
        .flat_map(|g| net.task_groups.iter().map(move |t| spec(g, Direction::Ingress, HTTPS, Peer::Group(t.clone()))));
    out.push(match first_allowed(net, specs) {
        Some((allowed, rule)) => Finding::ok(format!("{name} ingress"), format!("{allowed} is allowed by {rule}")),
        None => {
            let (endpoint_group, task) = (e.security_group_ids.first(), net.task_groups.first());
            let fix = match (endpoint_group, task) {
                (Some(g), Some(t)) => format!(
                    "add {} (or deploy Custom::EndpointAccess with these task groups)",
                    spec(g, Direction::Ingress, HTTPS, Peer::Group(t.clone()))
                ),
                _ => format!("give {} a security group that lets the tasks in on tcp/{HTTPS}", e.id),
            };
            Finding::missing(
                format!("{name} ingress"),
                format!(
                    "no ingress rule of {} ({}'s security groups) allows tcp/{HTTPS} from {}",
                    list(&e.security_group_ids),
                    e.id,
                    list(&net.task_groups)
                ),
                fix,
            )
        }
    });
    let specs = net.task_groups.iter().flat_map(|t| {
        e.security_group_ids.iter().map(move |g| spec(t, Direction::Egress, HTTPS, Peer::Group(g.clone())))
    });
    out.push(match first_allowed(net, specs) {
        Some((allowed, rule)) => Finding::ok(format!("{name} egress"), format!("{allowed} is allowed by {rule}")),
        None => {
            let to = e.security_group_ids.first().map(String::as_str).unwrap_or("the endpoint's group");
            let first = net.task_groups.first().map(String::as_str).unwrap_or("the task group");
            Finding::missing(
                format!("{name} egress"),
                format!(
                    "no egress rule of {} allows tcp/{HTTPS} to {} ({}'s security groups)",
                    list(&net.task_groups),
                    list(&e.security_group_ids),
                    e.id
                ),
                format!("add {}", spec(first, Direction::Egress, HTTPS, Peer::Group(to.into()))),
            )
        }
    });
}

/// A gateway endpoint (S3): on each subnet's route table, and for S3 the task groups' egress to
/// its prefix list.
fn gateway(name: &str, e: &Endpoint, net: &Network, out: &mut Vec<Finding>) {
    out.push(Finding::ok(format!("{name} endpoint"), format!("{} is a gateway endpoint, {}", e.id, e.state)));
    let usable: Vec<&str> = net
        .endpoints
        .iter()
        .filter(|g| g.kind == EndpointKind::Gateway && usable_state(&g.state) && serves(&g.service, &net.region, name))
        .map(|g| g.id.as_str())
        .collect();
    for subnet in &net.subnets {
        let what = format!("{name} route {}", subnet.id);
        let Some(table) = &subnet.route_table else {
            out.push(no_table(what, subnet));
            continue;
        };
        let route =
            table.routes.iter().find(|r| matches!(&r.target, Target::Endpoint(id) if usable.contains(&id.as_str())));
        out.push(match route {
            Some(r) => Finding::ok(what, format!("{} sends {name}'s prefix list to {}", table.id, r.target)),
            None => Finding::missing(
                what,
                format!("{} has no route to a {name} gateway endpoint", table.id),
                format!("add {} to {}'s route tables (RouteTableIds)", table.id, e.id),
            ),
        });
    }
    if name == "s3" {
        out.push(match &net.s3_prefix_list {
            Some(pl) => egress(format!("{name} egress"), net, HTTPS, &Peer::PrefixList(pl.clone())),
            None => Finding::warn(
                format!("{name} egress"),
                "S3's prefix list was not found in this region: egress to it not checked",
                None,
            ),
        });
    }
}

fn no_table(what: String, subnet: &Subnet) -> Finding {
    Finding::missing(
        what,
        format!("{} has no route table, and the VPC no main route table", subnet.id),
        format!("associate a route table with {}", subnet.id),
    )
}

/// The README's words for each reason a service counts as missing.
fn endpoint_fix(m: &Missing) -> String {
    match &m.why {
        MissingWhy::NoEndpoint => format!(
            "add an AWS::EC2::VPCEndpoint for {} (interface with PrivateDnsEnabled: true, s3 as a gateway)",
            m.service
        ),
        MissingWhy::NotAvailable { endpoint_id, .. } => {
            format!("replace {endpoint_id}, an endpoint that is not available")
        }
        MissingWhy::PrivateDnsOff { endpoint_id } => {
            format!("turn private DNS on for {endpoint_id} (PrivateDnsEnabled: true)")
        }
    }
}

/// Services without a usable endpoint: reachable only through each subnet's route to the
/// internet (a NAT gateway; an internet gateway when the tasks get a public IP:
/// <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html>) and
/// the task groups' egress to 0.0.0.0/0 on 443.
fn internet(without: &[Missing], net: &Network, out: &mut Vec<Finding>) {
    let mut paths = Vec::new();
    for subnet in &net.subnets {
        paths.push(internet_route(subnet, net.public_ip));
    }
    let anywhere: IpNet = IpNet::V4(ipnet::Ipv4Net::default());
    paths.push(egress("internet egress".into(), net, HTTPS, &Peer::Cidr(anywhere)));
    let worst = if paths.iter().any(|p| p.level == Level::Missing) { Level::Missing } else { Level::Warn };
    for m in without {
        let how = match worst {
            Level::Missing => "and the tasks cannot reach it through the internet either (see internet)",
            _ => "the tasks reach it through the internet (see internet)",
        };
        out.push(Finding {
            level: worst,
            what: format!("{} endpoint", m.service),
            detail: format!("{m}; {how}"),
            fix: Some(endpoint_fix(m)),
        });
    }
    out.extend(paths);
}

/// The default route of the subnet's table, and what it means for a task there.
fn internet_route(subnet: &Subnet, public_ip: Option<bool>) -> Finding {
    let what = format!("internet route {}", subnet.id);
    let Some(table) = &subnet.route_table else {
        return no_table(what, subnet);
    };
    let to_nat = "add a route 0.0.0.0/0 to a NAT gateway, or the endpoints above";
    let default = table
        .routes
        .iter()
        .find(|r| matches!(r.destination, RouteDestination::Cidr(IpNet::V4(n)) if n.prefix_len() == 0));
    let Some(route) = default else {
        return Finding::missing(what, format!("{} has no route to 0.0.0.0/0", table.id), to_nat);
    };
    let id = &table.id;
    if !route.active {
        return Finding::missing(what, format!("{id} sends 0.0.0.0/0 to {}, a blackhole", route.target), to_nat);
    }
    match (&route.target, public_ip) {
        (Target::NatGateway(nat), _) => Finding::ok(what, format!("{id} sends 0.0.0.0/0 to {nat}")),
        (Target::InternetGateway(igw), Some(true)) => {
            Finding::ok(what, format!("{id} sends 0.0.0.0/0 to {igw}, and the tasks get a public IP"))
        }
        (Target::InternetGateway(igw), Some(false)) => Finding::missing(
            what,
            format!("{id} sends 0.0.0.0/0 to {igw}, but the tasks get no public IP"),
            "set assignPublicIp: ENABLED, or route 0.0.0.0/0 to a NAT gateway",
        ),
        (Target::InternetGateway(igw), None) => Finding::warn(
            what,
            format!("{id} sends 0.0.0.0/0 to {igw}: the tasks need a public IP"),
            Some("make sure the tasks get one (assignPublicIp: ENABLED, or --assign-public-ip here)".into()),
        ),
        (other, _) => Finding::warn(what, format!("{id} sends 0.0.0.0/0 to {other}: not checked beyond it"), None),
    }
}

/// `--to`: each subnet's route to the block (the longest prefix covering it), then the egress.
fn destination(to: &Destination, net: &Network, out: &mut Vec<Finding>) {
    for subnet in &net.subnets {
        let what = format!("to {} route {}", to.net, subnet.id);
        let Some(table) = &subnet.route_table else {
            out.push(no_table(what, subnet));
            continue;
        };
        let route = table
            .routes
            .iter()
            .filter(|r| matches!(&r.destination, RouteDestination::Cidr(c) if c.contains(&to.net)))
            .max_by_key(|r| match &r.destination {
                RouteDestination::Cidr(c) => c.prefix_len(),
                RouteDestination::PrefixList(_) => 0,
            });
        let id = &table.id;
        let Some(route) = route else {
            out.push(Finding::missing(
                what,
                format!("{id} has no route to {}", to.net),
                format!("add a route to {} in {id} (to a peering connection or a transit gateway)", to.net),
            ));
            continue;
        };
        let target = &route.target;
        out.push(if !route.active {
            Finding::missing(
                what,
                format!("{id} sends {} to {target}, a blackhole", to.net),
                format!("replace the route to {} in {id}", to.net),
            )
        } else {
            match target {
                Target::Peering(pcx) => peered(what, id, to, net, net.peerings.iter().find(|p| &p.id == pcx), pcx),
                Target::TransitGateway(tgw) => {
                    Finding::ok(what, format!("{id} sends {} to {tgw} (its own route tables are not checked)", to.net))
                }
                Target::Local => Finding::ok(what, format!("{} is inside {} (local)", to.net, net.vpc_id)),
                Target::NatGateway(_) | Target::InternetGateway(_) if private(&to.net) => Finding::missing(
                    what,
                    format!(
                        "{id} sends {} only to {target}, the internet, where a private address is not reachable",
                        to.net
                    ),
                    format!("add a route to {} in {id} (to a peering connection or a transit gateway)", to.net),
                ),
                other => Finding::ok(what, format!("{id} sends {} to {other}", to.net)),
            }
        });
    }
    out.push(match to.port {
        Some(port) => egress(format!("to {} egress", to.net), net, port, &Peer::Cidr(to.net)),
        None => Finding::warn(
            format!("to {} egress", to.net),
            "no port given: egress not checked",
            Some(format!("give one: --to {}:PORT", to.net)),
        ),
    });
}

/// A private address (RFC 1918, shared 100.64/10, IPv6 unique local): not reachable through the
/// internet.
fn private(net: &IpNet) -> bool {
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"]
        .iter()
        .filter_map(|block| block.parse::<IpNet>().ok())
        .any(|block| block.contains(net))
}

/// A route to a peering connection: its status and whether the peer's private DNS names resolve
/// here (the peer side's `AllowDnsResolutionFromRemoteVpc`:
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_PeeringConnectionOptions.html>).
fn peered(what: String, table: &str, to: &Destination, net: &Network, p: Option<&Peering>, pcx: &str) -> Finding {
    let Some(p) = p else {
        return Finding::warn(what, format!("{table} sends {} to {pcx}, which was not found", to.net), None);
    };
    if p.status != "active" {
        let fix = match p.status.as_str() {
            "pending-acceptance" => format!("accept {pcx} in the accepter's account and Region"),
            _ => format!("replace {pcx} and the route to it"),
        };
        return Finding::missing(what, format!("{table} sends {} to {pcx}, which is {}", to.net, p.status), fix);
    }
    let (peer_vpc, peer_dns) = if p.requester_vpc == net.vpc_id {
        (&p.accepter_vpc, p.accepter_dns)
    } else {
        (&p.requester_vpc, p.requester_dns)
    };
    let dns = if peer_dns { "on" } else { "off" };
    Finding::ok(
        what,
        format!(
            "{table} sends {} to {pcx} (active, to {peer_vpc}; DNS resolution of {peer_vpc}'s names from here {dns})",
            to.net
        ),
    )
}

/// `--to-security-group`: which task group the destination's inbound rules let in (and on which
/// port), then the task groups' egress to the destination group on that port.
fn group_destination(to: &GroupDestination, net: &Network, out: &mut Vec<Finding>) {
    let d = &to.group_id;
    let what = format!("to {d} ingress");
    // Without a port, the ports of the destination's inbound rules are the candidates.
    let ports: Vec<u16> = match to.port {
        Some(p) => vec![p],
        None => net
            .rules
            .iter()
            .filter(|r| &r.group_id == d && r.direction == Direction::Ingress)
            .filter_map(|r| u16::try_from(r.from_port).ok())
            .collect(),
    };
    let specs = ports.iter().flat_map(|port| {
        net.task_groups.iter().map(move |t| spec(d, Direction::Ingress, *port, Peer::Group(t.clone())))
    });
    let Some((allowed, rule)) = first_allowed(net, specs) else {
        let first = net.task_groups.first().map(String::as_str).unwrap_or("the task group");
        let port = to.port.map_or("PORT".to_string(), |p| p.to_string());
        let on = to.port.map_or(String::new(), |p| format!(" on tcp/{p}"));
        out.push(Finding::missing(
            what,
            format!("no ingress rule of {d} allows {}{on}", list(&net.task_groups)),
            format!("add {d} ingress tcp/{port} from {first}"),
        ));
        return;
    };
    out.push(Finding::ok(what, format!("{allowed} is allowed by {rule}")));
    out.push(egress(format!("to {d} egress"), net, allowed.port, &Peer::Group(d.clone())));
}

#[cfg(test)]
#[path = "findings_tests.rs"]
mod tests;
