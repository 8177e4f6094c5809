//! The decisions, apart from effects: which endpoints serve the asked services, which rules the
//! task groups need, and which to add or revoke. Pure, table-tested.

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::model::{Action, Direction, Endpoint, EndpointKind, Missing, MissingWhy, Peer, Rule, RuleSpec};

/// The endpoints that serve the asked services, and the services left without one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolution {
    /// Security groups of the usable interface endpoints.
    pub endpoint_groups: BTreeSet<String>,
    /// Whether S3 goes through a usable gateway endpoint (egress to its prefix list).
    pub s3_gateway: bool,
    pub missing: Vec<Missing>,
}

/// An endpoint in this state serves traffic (or will, once `pending` is done).
pub fn usable_state(state: &str) -> bool {
    state.eq_ignore_ascii_case("available") || state.eq_ignore_ascii_case("pending")
}

/// Whether the endpoint service `service_name` is the short `name` in `region`: it ends with
/// `.<region>.<name>`. The prefix varies by partition *and* service: in the China regions most
/// interface services are `cn.com.amazonaws.<region>.<name>` (`ecr.api`, `ecr.dkr`, `sts`,
/// `sqs` …) while others stay `com.amazonaws.<region>.<name>` (`logs`, `sns`, the S3 gateway), as
/// `DescribeVpcEndpointServices` lists them (aws/aws-cdk#25329, aws/aws-cdk#16139,
/// terraform-aws-modules/terraform-aws-vpc#1121). The region anchors the match: `api` is not
/// `ecr.api`, and another region's endpoint is not this one's.
pub fn serves(service_name: &str, region: &str, name: &str) -> bool {
    service_name
        .strip_suffix(name)
        .and_then(|rest| rest.strip_suffix('.'))
        .and_then(|rest| rest.strip_suffix(region))
        .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
}

/// The names S3's gateway prefix list may carry in `region`, the documented one first: AWS lists
/// it as `com.amazonaws.<region>.s3`, in the China regions too
/// (<https://docs.amazonaws.cn/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html>);
/// the `cn.com.amazonaws` form is asked for as well, in case AWS names it as its endpoint services.
pub fn s3_prefix_list_names(region: &str) -> [String; 2] {
    [format!("com.amazonaws.{region}.s3"), format!("cn.com.amazonaws.{region}.s3")]
}

/// Of the prefix lists found by those names, as (name, id), the one to use: the documented name
/// first, then any other that serves S3 in `region`.
pub fn pick_s3_prefix_list(found: &[(String, String)], region: &str) -> Option<String> {
    let [documented, _] = s3_prefix_list_names(region);
    found
        .iter()
        .find(|(name, _)| *name == documented)
        .or_else(|| found.iter().find(|(name, _)| serves(name, region, "s3")))
        .map(|(_, id)| id.clone())
}

/// What serves one short service name in a VPC: a usable gateway endpoint, a usable interface
/// endpoint with private DNS, or why there is none (the rule [`resolve`] applies to each name;
/// `check-network` reports with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick<'a> {
    Gateway(&'a Endpoint),
    Interface(&'a Endpoint),
}

/// The endpoint that serves `name` in `region`, as [`resolve`] decides: a usable gateway first
/// (S3), then a usable interface endpoint with private DNS on; else why not, for the best other
/// candidate.
pub fn pick<'a>(name: &str, region: &str, endpoints: &'a [Endpoint]) -> Result<Pick<'a>, MissingWhy> {
    let candidates: Vec<&Endpoint> = endpoints.iter().filter(|e| serves(&e.service, region, name)).collect();
    let gateway = candidates.iter().find(|e| e.kind == EndpointKind::Gateway && usable_state(&e.state));
    let interface =
        candidates.iter().find(|e| e.kind == EndpointKind::Interface && usable_state(&e.state) && e.private_dns);
    match (gateway, interface) {
        (Some(e), _) => Ok(Pick::Gateway(e)),
        (None, Some(e)) => Ok(Pick::Interface(e)),
        (None, None) => Err(match candidates.first() {
            None => MissingWhy::NoEndpoint,
            Some(e) if !usable_state(&e.state) => {
                MissingWhy::NotAvailable { endpoint_id: e.id.clone(), state: e.state.clone() }
            }
            Some(e) => MissingWhy::PrivateDnsOff { endpoint_id: e.id.clone() },
        }),
    }
}

/// Match each short service name (`ecr.api`) to an endpoint whose service name [`serves`] it.
/// `s3` means the gateway endpoint unless only an interface endpoint exists. An interface
/// endpoint without private DNS does not count: tasks would still resolve the public name.
pub fn resolve(services: &[String], region: &str, endpoints: &[Endpoint]) -> Resolution {
    let mut out = Resolution::default();
    for name in services {
        match pick(name, region, endpoints) {
            Ok(Pick::Gateway(_)) => out.s3_gateway |= name == "s3",
            Ok(Pick::Interface(e)) => out.endpoint_groups.extend(e.security_group_ids.iter().cloned()),
            Err(why) => out.missing.push(Missing { service: name.clone(), why }),
        }
    }
    out
}

/// The rules the task groups need: ingress on every endpoint group from every task group, and
/// (when managing egress) egress from every task group to every endpoint group and to the S3
/// prefix list.
pub fn desired_rules(
    task_groups: &[String],
    resolution: &Resolution,
    s3_prefix_list: Option<&str>,
    port: u16,
    manage_egress: bool,
) -> Vec<RuleSpec> {
    let tasks: BTreeSet<&String> = task_groups.iter().collect();
    let mut rules = BTreeSet::new();
    for endpoint_group in &resolution.endpoint_groups {
        for task in &tasks {
            let peer = Peer::Group((*task).clone());
            rules.insert(RuleSpec { group_id: endpoint_group.clone(), direction: Direction::Ingress, port, peer });
            if manage_egress {
                let peer = Peer::Group(endpoint_group.clone());
                rules.insert(RuleSpec { group_id: (*task).clone(), direction: Direction::Egress, port, peer });
            }
        }
    }
    if let (true, true, Some(pl)) = (manage_egress, resolution.s3_gateway, s3_prefix_list) {
        for task in &tasks {
            // S3 is HTTPS whatever port the interface endpoints use.
            let peer = Peer::PrefixList(pl.to_string());
            rules.insert(RuleSpec { group_id: (*task).clone(), direction: Direction::Egress, port: 443, peer });
        }
    }
    rules.into_iter().collect()
}

/// A desired rule left alone because another rule already allows its traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Covered {
    pub spec: RuleSpec,
    pub by_rule: String,
}

/// The plan: rules to add, owned rules to revoke, and desired rules already covered by others.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub covered: Vec<Covered>,
}

/// Compare desired rules with the rules observed on the managed groups. A rule carrying
/// `owner` is ours: kept when desired, revoked when not. A desired rule that another rule
/// already allows (the same pair, or wider) is left alone and not counted as ours.
pub fn plan_rules(desired: &[RuleSpec], observed: &[Rule], owner: &str, vpc_cidrs: &[IpNet]) -> Plan {
    let mut plan = Plan::default();
    let ours = |r: &Rule| r.owner.as_deref() == Some(owner);
    for spec in desired {
        let same = observed.iter().find(|r| ours(r) && exactly(r, spec));
        if same.is_some() {
            continue;
        }
        match observed.iter().find(|r| !ours(r) && allows(r, spec, vpc_cidrs)) {
            Some(r) => plan.covered.push(Covered { spec: spec.clone(), by_rule: r.id.clone() }),
            None => plan.actions.push(Action::Authorize(spec.clone())),
        }
    }
    for rule in observed.iter().filter(|r| ours(r)) {
        if !desired.iter().any(|spec| exactly(rule, spec)) {
            plan.actions.push(Action::Revoke {
                rule_id: rule.id.clone(),
                group_id: rule.group_id.clone(),
                direction: rule.direction,
            });
        }
    }
    plan
}

fn is_tcp(protocol: &str) -> bool {
    protocol.eq_ignore_ascii_case("tcp") || protocol == "6"
}

/// The rule is the one this spec would create.
pub(crate) fn exactly(rule: &Rule, spec: &RuleSpec) -> bool {
    rule.group_id == spec.group_id
        && rule.direction == spec.direction
        && is_tcp(&rule.protocol)
        && rule.from_port == i32::from(spec.port)
        && rule.to_port == i32::from(spec.port)
        && rule.peer == spec.peer
}

/// The rule lets the spec's traffic through: same group and direction, all traffic or TCP
/// ports covering the port, and a peer that is the same or wider (a CIDR covering the VPC for a
/// group in it; 0.0.0.0/0 for a prefix list; a block covering a destination block).
pub fn allows(rule: &Rule, spec: &RuleSpec, vpc_cidrs: &[IpNet]) -> bool {
    let port = i32::from(spec.port);
    let ports = rule.protocol == "-1" || (is_tcp(&rule.protocol) && rule.from_port <= port && port <= rule.to_port);
    let peer = match (&rule.peer, &spec.peer) {
        (a, b) if a == b => true,
        (Peer::Cidr(c), Peer::Group(_)) => {
            let v4: Vec<&IpNet> = vpc_cidrs.iter().filter(|v| matches!(v, IpNet::V4(_))).collect();
            !v4.is_empty() && v4.iter().all(|v| c.contains(*v))
        }
        (Peer::Cidr(c), Peer::PrefixList(_)) => c.prefix_len() == 0 && matches!(c, IpNet::V4(_)),
        // A destination block (`check-network --to`): a rule's block covering it.
        (Peer::Cidr(c), Peer::Cidr(d)) => c.contains(d),
        _ => false,
    };
    rule.group_id == spec.group_id && rule.direction == spec.direction && ports && peer
}

#[cfg(test)]
#[expect(clippy::type_complexity, reason = "the case tables read best as tuples")]
mod tests {
    use super::*;

    const OWNER: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/1|Access";

    fn endpoint(id: &str, name: &str, kind: EndpointKind, state: &str, dns: bool, groups: &[&str]) -> Endpoint {
        Endpoint {
            id: id.into(),
            service: format!("com.amazonaws.us-east-1.{name}"),
            kind,
            state: state.into(),
            private_dns: dns,
            security_group_ids: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn spec(group: &str, direction: Direction, peer: Peer) -> RuleSpec {
        RuleSpec { group_id: group.into(), direction, port: 443, peer }
    }

    fn group(id: &str) -> Peer {
        Peer::Group(id.into())
    }

    fn cidr(c: &str) -> Peer {
        Peer::Cidr(c.parse().unwrap())
    }

    fn rule(id: &str, s: &RuleSpec, owner: Option<&str>) -> Rule {
        Rule::made(id, s, owner)
    }

    #[test]
    fn resolve_table() {
        use EndpointKind::*;
        let all = vec![
            endpoint("vpce-api", "ecr.api", Interface, "available", true, &["sg-e1"]),
            endpoint("vpce-dkr", "ecr.dkr", Interface, "pending", true, &["sg-e1", "sg-e2"]),
            endpoint("vpce-logs", "logs", Interface, "available", false, &["sg-e3"]),
            endpoint("vpce-ssm", "ssm", Interface, "deleted", true, &["sg-e4"]),
            endpoint("vpce-s3gw", "s3", Gateway, "available", false, &[]),
            endpoint("vpce-other-region", "kms", Interface, "available", true, &["sg-e5"]),
        ];
        let mut kms_elsewhere = all.clone();
        kms_elsewhere[5].service = "com.amazonaws.eu-west-1.kms".into();
        let s3_interface_only = vec![endpoint("vpce-s3if", "s3", Interface, "available", true, &["sg-e6"])];
        let groups = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let missing = |service: &str, why: MissingWhy| Missing { service: service.into(), why };
        let cases: Vec<(&str, Vec<String>, Vec<Endpoint>, Resolution)> = vec![
            (
                "the defaults, all usable; pending counts",
                names(&["ecr.api", "ecr.dkr", "s3"]),
                all.clone(),
                Resolution { endpoint_groups: groups(&["sg-e1", "sg-e2"]), s3_gateway: true, missing: vec![] },
            ),
            (
                "private DNS off, not available, absent, another region's",
                names(&["logs", "ssm", "secretsmanager", "kms"]),
                kms_elsewhere,
                Resolution {
                    endpoint_groups: groups(&[]),
                    s3_gateway: false,
                    missing: vec![
                        missing("logs", MissingWhy::PrivateDnsOff { endpoint_id: "vpce-logs".into() }),
                        missing(
                            "ssm",
                            MissingWhy::NotAvailable { endpoint_id: "vpce-ssm".into(), state: "deleted".into() },
                        ),
                        missing("secretsmanager", MissingWhy::NoEndpoint),
                        missing("kms", MissingWhy::NoEndpoint),
                    ],
                },
            ),
            (
                "S3 through an interface endpoint only",
                names(&["s3"]),
                s3_interface_only,
                Resolution { endpoint_groups: groups(&["sg-e6"]), s3_gateway: false, missing: vec![] },
            ),
        ];
        for (case, services, endpoints, expected) in cases {
            assert_eq!(resolve(&services, "us-east-1", &endpoints), expected, "{case}");
        }
    }

    #[test]
    fn serves_table() {
        let cases: Vec<(&str, &str, &str, bool)> = vec![
            ("com.amazonaws.us-east-1.logs", "us-east-1", "logs", true),
            ("cn.com.amazonaws.cn-north-1.ecr.api", "cn-north-1", "ecr.api", true),
            ("com.amazonaws.cn-north-1.logs", "cn-north-1", "logs", true),
            ("com.amazonaws.cn-northwest-1.s3", "cn-northwest-1", "s3", true),
            ("com.amazonaws.us-gov-west-1.ecr.dkr", "us-gov-west-1", "ecr.dkr", true),
            ("com.amazonaws.us-east-1.ecr.api", "us-east-1", "api", false),
            ("com.amazonaws.us-east-1.ecr.api", "us-east-1", "ecr", false),
            ("com.amazonaws.us-east-1.ecr.api-fips", "us-east-1", "ecr.api", false),
            ("com.amazonaws.us-east-1.logs", "east-1", "logs", false),
            ("com.amazonaws.eu-west-1.kms", "us-east-1", "kms", false),
            ("cn.com.amazonaws.cn-north-1.ecr.api", "cn-northwest-1", "ecr.api", false),
            ("us-east-1.logs", "us-east-1", "logs", false),
            (".us-east-1.logs", "us-east-1", "logs", false),
            ("com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0", "us-east-1", "logs", false),
        ];
        for (service_name, region, name, expected) in cases {
            assert_eq!(serves(service_name, region, name), expected, "{service_name} in {region} for {name}");
        }
    }

    #[test]
    fn s3_prefix_list_table() {
        let lists = |l: &[(&str, &str)]| l.iter().map(|(n, i)| (n.to_string(), i.to_string())).collect::<Vec<_>>();
        let cases: Vec<(&str, Vec<(String, String)>, Option<&str>)> = vec![
            (
                "China, as AWS documents it",
                lists(&[("com.amazonaws.cn-north-1.s3", "pl-5ca54035")]),
                Some("pl-5ca54035"),
            ),
            ("the cn.com form alone", lists(&[("cn.com.amazonaws.cn-north-1.s3", "pl-2")]), Some("pl-2")),
            (
                "both: the documented name wins",
                lists(&[("cn.com.amazonaws.cn-north-1.s3", "pl-2"), ("com.amazonaws.cn-north-1.s3", "pl-1")]),
                Some("pl-1"),
            ),
            (
                "another region's or service's list",
                lists(&[("com.amazonaws.cn-northwest-1.s3", "pl-3"), ("com.amazonaws.cn-north-1.s3express", "pl-4")]),
                None,
            ),
            ("none", vec![], None),
        ];
        for (case, found, expected) in cases {
            assert_eq!(pick_s3_prefix_list(&found, "cn-north-1").as_deref(), expected, "{case}");
        }
        assert_eq!(
            s3_prefix_list_names("cn-north-1"),
            ["com.amazonaws.cn-north-1.s3", "cn.com.amazonaws.cn-north-1.s3"]
        );
    }

    #[test]
    fn resolve_matches_china_service_names() {
        use EndpointKind::*;
        let china = |id: &str, service: &str, kind, groups: &[&str]| Endpoint {
            id: id.into(),
            service: service.into(),
            kind,
            state: "available".into(),
            private_dns: kind == Interface,
            security_group_ids: groups.iter().map(|g| g.to_string()).collect(),
        };
        let endpoints = vec![
            china("vpce-api", "cn.com.amazonaws.cn-north-1.ecr.api", Interface, &["sg-e1"]),
            china("vpce-dkr", "cn.com.amazonaws.cn-north-1.ecr.dkr", Interface, &["sg-e2"]),
            china("vpce-logs", "com.amazonaws.cn-north-1.logs", Interface, &["sg-e3"]),
            china("vpce-s3", "com.amazonaws.cn-north-1.s3", Gateway, &[]),
        ];
        let got = resolve(&names(&["ecr.api", "ecr.dkr", "logs", "s3", "sts"]), "cn-north-1", &endpoints);
        let expected = Resolution {
            endpoint_groups: ["sg-e1", "sg-e2", "sg-e3"].map(String::from).into(),
            s3_gateway: true,
            missing: vec![Missing { service: "sts".into(), why: MissingWhy::NoEndpoint }],
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn desired_rules_table() {
        let resolution = |groups: &[&str], s3| Resolution {
            endpoint_groups: groups.iter().map(|s| s.to_string()).collect(),
            s3_gateway: s3,
            missing: vec![],
        };
        use Direction::*;
        let cases: Vec<(&str, Resolution, bool, Vec<RuleSpec>)> = vec![
            (
                "one endpoint group, two task groups, egress managed, S3 gateway",
                resolution(&["sg-e1"], true),
                true,
                vec![
                    spec("sg-e1", Ingress, group("sg-t1")),
                    spec("sg-e1", Ingress, group("sg-t2")),
                    spec("sg-t1", Egress, group("sg-e1")),
                    spec("sg-t1", Egress, Peer::PrefixList("pl-63a5400a".into())),
                    spec("sg-t2", Egress, group("sg-e1")),
                    spec("sg-t2", Egress, Peer::PrefixList("pl-63a5400a".into())),
                ],
            ),
            (
                "egress not managed",
                resolution(&["sg-e1"], true),
                false,
                vec![spec("sg-e1", Ingress, group("sg-t1")), spec("sg-e1", Ingress, group("sg-t2"))],
            ),
            ("nothing usable", resolution(&[], false), true, vec![]),
        ];
        for (case, resolution, egress, expected) in cases {
            let got =
                desired_rules(&names(&["sg-t2", "sg-t1", "sg-t1"]), &resolution, Some("pl-63a5400a"), 443, egress);
            assert_eq!(got, expected, "{case}");
        }
    }

    #[test]
    fn plan_rules_table() {
        use Direction::*;
        let ingress = spec("sg-e1", Ingress, group("sg-t1"));
        let egress = spec("sg-t1", Egress, group("sg-e1"));
        let vpc: Vec<IpNet> = vec!["10.0.0.0/16".parse().unwrap()];
        let authorize = |s: &RuleSpec| Action::Authorize(s.clone());
        let revoke = |id: &str, g: &str, d| Action::Revoke { rule_id: id.into(), group_id: g.into(), direction: d };
        let covered = |s: &RuleSpec, by: &str| Covered { spec: s.clone(), by_rule: by.into() };
        let cases: Vec<(&str, Vec<RuleSpec>, Vec<Rule>, Plan)> = vec![
            (
                "add both",
                vec![ingress.clone(), egress.clone()],
                vec![],
                Plan { actions: vec![authorize(&ingress), authorize(&egress)], covered: vec![] },
            ),
            (
                "no-op: ours already there",
                vec![ingress.clone()],
                vec![rule("sgr-1", &ingress, Some(OWNER))],
                Plan::default(),
            ),
            (
                "the same pair someone else made: left alone, not ours",
                vec![ingress.clone()],
                vec![rule("sgr-theirs", &ingress, None)],
                Plan { actions: vec![], covered: vec![covered(&ingress, "sgr-theirs")] },
            ),
            (
                "wider: a VPC CIDR rule on all ports",
                vec![ingress.clone()],
                vec![Rule::unowned("sgr-vpc", "sg-e1", Ingress, "-1", (-1, -1), cidr("10.0.0.0/8"))],
                Plan { actions: vec![], covered: vec![covered(&ingress, "sgr-vpc")] },
            ),
            (
                "not wide enough: a subnet CIDR, or other ports",
                vec![ingress.clone()],
                vec![
                    Rule::unowned("sgr-subnet", "sg-e1", Ingress, "-1", (-1, -1), cidr("10.0.1.0/24")),
                    Rule::unowned("sgr-80", "sg-e1", Ingress, "tcp", (80, 80), group("sg-t1")),
                ],
                Plan { actions: vec![authorize(&ingress)], covered: vec![] },
            ),
            (
                "egress open to 0.0.0.0/0 on all traffic",
                vec![egress.clone(), spec("sg-t1", Egress, Peer::PrefixList("pl-1".into()))],
                vec![Rule::unowned("sgr-open", "sg-t1", Egress, "-1", (-1, -1), cidr("0.0.0.0/0"))],
                Plan {
                    actions: vec![],
                    covered: vec![
                        covered(&egress, "sgr-open"),
                        covered(&spec("sg-t1", Egress, Peer::PrefixList("pl-1".into())), "sgr-open"),
                    ],
                },
            ),
            (
                "a port range including the port",
                vec![egress.clone()],
                vec![Rule::unowned("sgr-range", "sg-t1", Egress, "tcp", (0, 65535), group("sg-e1"))],
                Plan { actions: vec![], covered: vec![covered(&egress, "sgr-range")] },
            ),
            (
                "revoke ours that is no longer wanted; never theirs",
                vec![ingress.clone()],
                vec![
                    rule("sgr-1", &ingress, Some(OWNER)),
                    rule("sgr-old", &spec("sg-e1", Ingress, group("sg-gone")), Some(OWNER)),
                    rule("sgr-theirs", &spec("sg-e1", Ingress, group("sg-x")), None),
                    rule("sgr-other-stack", &spec("sg-e1", Ingress, group("sg-y")), Some("another|Owner")),
                ],
                Plan { actions: vec![revoke("sgr-old", "sg-e1", Ingress)], covered: vec![] },
            ),
            (
                "delete: revoke all of ours",
                vec![],
                vec![rule("sgr-1", &ingress, Some(OWNER)), rule("sgr-2", &egress, Some(OWNER))],
                Plan {
                    actions: vec![revoke("sgr-1", "sg-e1", Ingress), revoke("sgr-2", "sg-t1", Egress)],
                    covered: vec![],
                },
            ),
        ];
        for (case, desired, observed, expected) in cases {
            assert_eq!(plan_rules(&desired, &observed, OWNER, &vpc), expected, "{case}");
        }
    }
}
