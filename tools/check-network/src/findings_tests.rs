//! The findings, table-tested on a small network: one subnet routing S3 to its gateway
//! endpoint, 10.1.0.0/16 to a peering connection and 0.0.0.0/0 to a NAT gateway.

use endpoint_access::model::{Direction, Endpoint, EndpointKind, Peer, Rule};

use super::*;
use crate::model::{Peering, Route, RouteTable};

fn endpoint(id: &str, name: &str, kind: EndpointKind, dns: bool, groups: &[&str]) -> Endpoint {
    Endpoint {
        id: id.into(),
        service: format!("com.amazonaws.us-east-1.{name}"),
        kind,
        state: "available".into(),
        private_dns: dns,
        security_group_ids: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn cidr(c: &str) -> RouteDestination {
    RouteDestination::Cidr(c.parse().unwrap())
}

fn route(destination: RouteDestination, target: Target) -> Route {
    Route { destination, target, active: true }
}

fn table(id: &str, routes: Vec<Route>) -> Option<RouteTable> {
    Some(RouteTable { id: id.into(), routes })
}

/// The network every case starts from: everything reachable.
fn network() -> Network {
    Network {
        region: "us-east-1".into(),
        vpc_id: "vpc-1".into(),
        vpc_cidrs: vec!["10.0.0.0/16".parse().unwrap()],
        subnets: vec![Subnet {
            id: "subnet-a".into(),
            route_table: table(
                "rtb-a",
                vec![
                    route(cidr("10.0.0.0/16"), Target::Local),
                    route(RouteDestination::PrefixList("pl-s3".into()), Target::Endpoint("vpce-s3".into())),
                    route(cidr("10.1.0.0/16"), Target::Peering("pcx-1".into())),
                    route(cidr("0.0.0.0/0"), Target::NatGateway("nat-1".into())),
                ],
            ),
        }],
        task_groups: vec!["sg-t1".into(), "sg-t2".into()],
        public_ip: Some(false),
        endpoints: vec![
            endpoint("vpce-api", "ecr.api", EndpointKind::Interface, true, &["sg-e1"]),
            endpoint("vpce-logs", "logs", EndpointKind::Interface, false, &["sg-e2"]),
            endpoint("vpce-s3", "s3", EndpointKind::Gateway, false, &[]),
        ],
        rules: vec![
            Rule::unowned("sgr-in", "sg-e1", Direction::Ingress, "tcp", (443, 443), Peer::Group("sg-t2".into())),
            Rule::unowned(
                "sgr-out",
                "sg-t1",
                Direction::Egress,
                "-1",
                (-1, -1),
                Peer::Cidr("0.0.0.0/0".parse().unwrap()),
            ),
            Rule::unowned("sgr-efs", "sg-d", Direction::Ingress, "tcp", (2049, 2049), Peer::Group("sg-t2".into())),
        ],
        s3_prefix_list: Some("pl-s3".into()),
        peerings: vec![Peering {
            id: "pcx-1".into(),
            status: "active".into(),
            requester_vpc: "vpc-1".into(),
            accepter_vpc: "vpc-2".into(),
            requester_dns: false,
            accepter_dns: true,
        }],
    }
}

fn ask(services: &[&str]) -> Ask {
    Ask { services: services.iter().map(|s| s.to_string()).collect(), ..Ask::default() }
}

fn lines(ask: &Ask, net: &Network) -> Vec<String> {
    findings(ask, net).iter().map(ToString::to_string).collect()
}

fn without_rule(mut net: Network, id: &str) -> Network {
    net.rules.retain(|r| r.id != id);
    net
}

fn with_routes(mut net: Network, routes: Vec<Route>) -> Network {
    net.subnets[0].route_table = table("rtb-a", routes);
    net
}

#[test]
fn services_table() {
    let local = || route(cidr("10.0.0.0/16"), Target::Local);
    let cases: Vec<(&str, Ask, Network, Vec<&str>)> = vec![
        (
            "an interface endpoint and the S3 gateway, all reachable; one allowed group is enough",
            ask(&["ecr.api", "s3"]),
            network(),
            vec![
                "ok ecr.api endpoint: vpce-api is available with private DNS on",
                "ok ecr.api ingress: sg-e1 ingress tcp/443 from sg-t2 is allowed by sgr-in",
                "ok ecr.api egress: sg-t1 egress tcp/443 to sg-e1 is allowed by sgr-out",
                "ok s3 endpoint: vpce-s3 is a gateway endpoint, available",
                "ok s3 route subnet-a: rtb-a sends s3's prefix list to vpce-s3",
                "ok s3 egress: sg-t1 egress tcp/443 to pl-s3 is allowed by sgr-out",
            ],
        ),
        (
            "the endpoint's group lacks the ingress, the task groups the egress",
            ask(&["ecr.api"]),
            without_rule(without_rule(network(), "sgr-in"), "sgr-out"),
            vec![
                "ok ecr.api endpoint: vpce-api is available with private DNS on",
                "missing ecr.api ingress: no ingress rule of sg-e1 (vpce-api's security groups) allows tcp/443 from sg-t1, sg-t2; fix: add sg-e1 ingress tcp/443 from sg-t1 (or deploy Custom::EndpointAccess with these task groups)",
                "missing ecr.api egress: no egress rule of sg-t1, sg-t2 allows tcp/443 to sg-e1 (vpce-api's security groups); fix: add sg-t1 egress tcp/443 to sg-e1",
            ],
        ),
        (
            "private DNS off, but a NAT gateway: reachable, a warning",
            ask(&["logs"]),
            network(),
            vec![
                "warn logs endpoint: logs (vpce-logs has private DNS off); the tasks reach it through the internet (see internet); fix: turn private DNS on for vpce-logs (PrivateDnsEnabled: true)",
                "ok internet route subnet-a: rtb-a sends 0.0.0.0/0 to nat-1",
                "ok internet egress: sg-t1 egress tcp/443 to 0.0.0.0/0 is allowed by sgr-out",
            ],
        ),
        (
            "no endpoint and no route out",
            ask(&["secretsmanager"]),
            with_routes(network(), vec![local()]),
            vec![
                "missing secretsmanager endpoint: secretsmanager (no endpoint); and the tasks cannot reach it through the internet either (see internet); fix: add an AWS::EC2::VPCEndpoint for secretsmanager (interface with PrivateDnsEnabled: true, s3 as a gateway)",
                "missing internet route subnet-a: rtb-a has no route to 0.0.0.0/0; fix: add a route 0.0.0.0/0 to a NAT gateway, or the endpoints above",
                "ok internet egress: sg-t1 egress tcp/443 to 0.0.0.0/0 is allowed by sgr-out",
            ],
        ),
        (
            "an internet gateway without a public IP",
            ask(&["kms"]),
            with_routes(network(), vec![route(cidr("0.0.0.0/0"), Target::InternetGateway("igw-1".into()))]),
            vec![
                "missing kms endpoint: kms (no endpoint); and the tasks cannot reach it through the internet either (see internet); fix: add an AWS::EC2::VPCEndpoint for kms (interface with PrivateDnsEnabled: true, s3 as a gateway)",
                "missing internet route subnet-a: rtb-a sends 0.0.0.0/0 to igw-1, but the tasks get no public IP; fix: set assignPublicIp: ENABLED, or route 0.0.0.0/0 to a NAT gateway",
                "ok internet egress: sg-t1 egress tcp/443 to 0.0.0.0/0 is allowed by sgr-out",
            ],
        ),
        (
            "the subnet's table has no S3 route",
            ask(&["s3"]),
            with_routes(network(), vec![local()]),
            vec![
                "ok s3 endpoint: vpce-s3 is a gateway endpoint, available",
                "missing s3 route subnet-a: rtb-a has no route to a s3 gateway endpoint; fix: add rtb-a to vpce-s3's route tables (RouteTableIds)",
                "ok s3 egress: sg-t1 egress tcp/443 to pl-s3 is allowed by sgr-out",
            ],
        ),
    ];
    for (case, ask, net, expected) in cases {
        assert_eq!(lines(&ask, &net), expected, "{case}");
    }
}

#[test]
fn an_internet_gateway_with_unknown_public_ip_is_a_warning() {
    let mut net = with_routes(network(), vec![route(cidr("0.0.0.0/0"), Target::InternetGateway("igw-1".into()))]);
    net.public_ip = None;
    let found = findings(&ask(&["kms"]), &net);
    assert_eq!(found.iter().map(|f| f.level).collect::<Vec<_>>(), [Level::Warn, Level::Warn, Level::Ok]);
    assert!(all_reachable(&found));
    net.public_ip = Some(true);
    assert_eq!(
        findings(&ask(&["kms"]), &net)[1].to_string(),
        "ok internet route subnet-a: rtb-a sends 0.0.0.0/0 to igw-1, and the tasks get a public IP"
    );
}

#[test]
fn destinations_table() {
    let to = |net: &str, port| Ask { to: vec![Destination { net: net.parse().unwrap(), port }], ..Ask::default() };
    let pending = {
        let mut net = network();
        net.peerings[0].status = "pending-acceptance".into();
        net
    };
    let no_default = with_routes(
        network(),
        vec![route(cidr("10.0.0.0/16"), Target::Local), route(cidr("10.1.0.0/16"), Target::Peering("pcx-1".into()))],
    );
    let cases: Vec<(&str, Ask, Network, Vec<&str>)> = vec![
        (
            "a peered address: the route, its state and DNS, the egress",
            to("10.1.2.3/32", Some(5432)),
            network(),
            vec![
                "ok to 10.1.2.3/32 route subnet-a: rtb-a sends 10.1.2.3/32 to pcx-1 (active, to vpc-2; DNS resolution of vpc-2's names from here on)",
                "ok to 10.1.2.3/32 egress: sg-t1 egress tcp/5432 to 10.1.2.3/32 is allowed by sgr-out",
            ],
        ),
        (
            "a peering connection not yet accepted",
            to("10.1.0.0/16", Some(443)),
            pending,
            vec![
                "missing to 10.1.0.0/16 route subnet-a: rtb-a sends 10.1.0.0/16 to pcx-1, which is pending-acceptance; fix: accept pcx-1 in the accepter's account and Region",
                "ok to 10.1.0.0/16 egress: sg-t1 egress tcp/443 to 10.1.0.0/16 is allowed by sgr-out",
            ],
        ),
        (
            "no route at all; no port, so no egress check",
            to("10.2.0.0/16", None),
            no_default,
            vec![
                "missing to 10.2.0.0/16 route subnet-a: rtb-a has no route to 10.2.0.0/16; fix: add a route to 10.2.0.0/16 in rtb-a (to a peering connection or a transit gateway)",
                "warn to 10.2.0.0/16 egress: no port given: egress not checked; fix: give one: --to 10.2.0.0/16:PORT",
            ],
        ),
        (
            "a private address only the NAT gateway's default route covers; egress closed",
            to("192.168.1.0/24", Some(443)),
            without_rule(network(), "sgr-out"),
            vec![
                "missing to 192.168.1.0/24 route subnet-a: rtb-a sends 192.168.1.0/24 only to nat-1, the internet, where a private address is not reachable; fix: add a route to 192.168.1.0/24 in rtb-a (to a peering connection or a transit gateway)",
                "missing to 192.168.1.0/24 egress: no egress rule of sg-t1, sg-t2 allows tcp/443 to 192.168.1.0/24; fix: add sg-t1 egress tcp/443 to 192.168.1.0/24",
            ],
        ),
        (
            "inside the VPC",
            to("10.0.5.5/32", Some(80)),
            network(),
            vec![
                "ok to 10.0.5.5/32 route subnet-a: 10.0.5.5/32 is inside vpc-1 (local)",
                "ok to 10.0.5.5/32 egress: sg-t1 egress tcp/80 to 10.0.5.5/32 is allowed by sgr-out",
            ],
        ),
    ];
    for (case, ask, net, expected) in cases {
        assert_eq!(lines(&ask, &net), expected, "{case}");
    }
}

#[test]
fn destination_groups_table() {
    let to = |port| Ask { to_groups: vec![GroupDestination { group_id: "sg-d".into(), port }], ..Ask::default() };
    let cases: Vec<(&str, Ask, Network, Vec<&str>)> = vec![
        (
            "the destination lets the second task group in on its port",
            to(Some(2049)),
            network(),
            vec![
                "ok to sg-d ingress: sg-d ingress tcp/2049 from sg-t2 is allowed by sgr-efs",
                "ok to sg-d egress: sg-t1 egress tcp/2049 to sg-d is allowed by sgr-out",
            ],
        ),
        (
            "without a port, its inbound rules' port",
            to(None),
            network(),
            vec![
                "ok to sg-d ingress: sg-d ingress tcp/2049 from sg-t2 is allowed by sgr-efs",
                "ok to sg-d egress: sg-t1 egress tcp/2049 to sg-d is allowed by sgr-out",
            ],
        ),
        (
            "another port",
            to(Some(5432)),
            network(),
            vec![
                "missing to sg-d ingress: no ingress rule of sg-d allows sg-t1, sg-t2 on tcp/5432; fix: add sg-d ingress tcp/5432 from sg-t1",
            ],
        ),
        (
            "let in, but not let out",
            to(Some(2049)),
            without_rule(network(), "sgr-out"),
            vec![
                "ok to sg-d ingress: sg-d ingress tcp/2049 from sg-t2 is allowed by sgr-efs",
                "missing to sg-d egress: no egress rule of sg-t1, sg-t2 allows tcp/2049 to sg-d; fix: add sg-t1 egress tcp/2049 to sg-d",
            ],
        ),
    ];
    for (case, ask, net, expected) in cases {
        assert_eq!(lines(&ask, &net), expected, "{case}");
    }
}
