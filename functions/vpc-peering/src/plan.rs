//! The decisions, apart from effects: pure functions from desired and observed state.

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::model::{Action, Conflict, Overlap, Route, RouteSpec, RouteTable, Target};

/// The routes one side needs: every listed table to every CIDR of the other VPC, except the
/// excluded blocks (and anything inside them).
pub fn desired_routes(tables: &[String], other_cidrs: &[IpNet], excluded: &[IpNet]) -> Vec<RouteSpec> {
    let destinations: BTreeSet<IpNet> =
        other_cidrs.iter().filter(|c| !excluded.iter().any(|x| x.contains(*c))).copied().collect();
    let tables: BTreeSet<&String> = tables.iter().collect();
    tables
        .into_iter()
        .flat_map(|t| destinations.iter().map(move |d| RouteSpec { table_id: t.clone(), destination: *d }))
        .collect()
}

/// Routes to add, move and remove so that the managed tables hold exactly `desired` through
/// `connection`. A route through `connection` in a managed table is ours (the connection is
/// this resource's); a route through one of `movable` (this resource's other connections: the
/// one a replacement leaves for CloudFormation's cleanup) is moved to `connection`; any other
/// route is never touched. A desired destination that a table already sends elsewhere, or that
/// a prefix-list route there holds, is a conflict, and then nothing is planned at all.
/// `connection` is `None` before the connection exists: every route not movable is in the way.
pub fn plan_routes(
    desired: &[RouteSpec],
    observed: &[RouteTable],
    managed_tables: &BTreeSet<String>,
    connection: Option<&str>,
    movable: &BTreeSet<String>,
) -> Result<Vec<Action>, Vec<Conflict>> {
    let ours = |target: &Target| matches!((target, connection), (Target::Peering(id), Some(c)) if id == c);
    let mut actions = Vec::new();
    let mut conflicts = Vec::new();
    for spec in desired {
        let table = observed.iter().find(|t| t.id == spec.table_id);
        let routes = table.map(|t| t.routes.as_slice()).unwrap_or_default();
        let existing = routes.iter().find(|r| r.destination == spec.destination && !r.propagated);
        let propagated = routes.iter().any(|r| r.destination == spec.destination && r.propagated);
        let in_list = table
            .into_iter()
            .flat_map(|t| &t.prefix_list_routes)
            .find(|p| !ours(&p.target) && p.entries.iter().any(|e| e.contains(&spec.destination)));
        let conflict = |target: &Target, blackhole, prefix_list: Option<&String>| Conflict {
            table_id: spec.table_id.clone(),
            destination: spec.destination,
            target: target.clone(),
            blackhole,
            prefix_list: prefix_list.cloned(),
        };
        match (existing, in_list) {
            (Some(route), _) if ours(&route.target) => {}
            (Some(Route { target: Target::Peering(from), .. }), None) if movable.contains(from) => {
                actions.push(Action::ReplaceRoute { spec: spec.clone(), from: from.clone() })
            }
            (Some(route), _) => conflicts.push(conflict(&route.target, route.blackhole, None)),
            (None, Some(list)) => conflicts.push(conflict(&list.target, false, Some(&list.list_id))),
            (None, None) if propagated => actions.push(Action::AddOverPropagated(spec.clone())),
            (None, None) => actions.push(Action::AddRoute(spec.clone())),
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    for table in observed.iter().filter(|t| managed_tables.contains(&t.id)) {
        for route in table.routes.iter().filter(|r| ours(&r.target)) {
            let spec = RouteSpec { table_id: table.id.clone(), destination: route.destination };
            if !desired.contains(&spec) {
                actions.push(Action::RemoveRoute(spec));
            }
        }
    }
    Ok(actions)
}

/// Blocks of the two sides that overlap (same family), ignoring the excluded ones.
pub fn overlaps(local: &[IpNet], peer: &[IpNet], excluded: &[IpNet]) -> Vec<Overlap> {
    let kept = |c: &&IpNet| !excluded.iter().any(|x| x.contains(*c));
    local
        .iter()
        .filter(kept)
        .flat_map(|l| peer.iter().filter(kept).map(move |p| (l, p)))
        .filter(|(l, p)| l.contains(*p) || p.contains(*l))
        .map(|(l, p)| Overlap { local: *l, peer: *p })
        .collect()
}

#[cfg(test)]
#[expect(clippy::type_complexity, reason = "the case tables read best as tuples")]
mod tests {
    use super::*;
    use crate::model::PrefixListRoute;

    const PCX: &str = "pcx-0aaaaaaaaaaaaaaa1";

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| net(s)).collect()
    }

    fn spec(table: &str, dest: &str) -> RouteSpec {
        RouteSpec { table_id: table.into(), destination: net(dest) }
    }

    fn via(dest: &str, target: Target) -> Route {
        Route { destination: net(dest), target, blackhole: false, propagated: false }
    }

    fn ours(dest: &str) -> Route {
        via(dest, Target::Peering(PCX.into()))
    }

    fn igw(dest: &str) -> Route {
        via(dest, Target::Other { kind: "gateway", id: "igw-0bbbbbbbbbbbbbbb1".into() })
    }

    fn table(id: &str, routes: Vec<Route>) -> RouteTable {
        let mut all = vec![via("10.0.0.0/16", Target::Other { kind: "gateway", id: "local".into() })];
        all.extend(routes);
        RouteTable { id: id.into(), vpc_id: "vpc-0ccccccccccccccc1".into(), routes: all, prefix_list_routes: vec![] }
    }

    fn managed(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn desired_routes_table() {
        let tables = vec!["rtb-b".to_string(), "rtb-a".to_string(), "rtb-a".to_string()];
        let cases: Vec<(&str, Vec<IpNet>, Vec<IpNet>, Vec<RouteSpec>)> = vec![
            ("no CIDRs", vec![], vec![], vec![]),
            (
                "primary, secondary and IPv6, each table once",
                nets(&["10.2.0.0/16", "10.3.0.0/16", "2600:1f18:1::/56"]),
                vec![],
                vec![
                    spec("rtb-a", "10.2.0.0/16"),
                    spec("rtb-a", "10.3.0.0/16"),
                    spec("rtb-a", "2600:1f18:1::/56"),
                    spec("rtb-b", "10.2.0.0/16"),
                    spec("rtb-b", "10.3.0.0/16"),
                    spec("rtb-b", "2600:1f18:1::/56"),
                ],
            ),
            (
                "excluded block, and a block inside an excluded one",
                nets(&["10.2.0.0/16", "100.64.0.0/16", "100.64.1.0/24"]),
                nets(&["100.64.0.0/10"]),
                vec![spec("rtb-a", "10.2.0.0/16"), spec("rtb-b", "10.2.0.0/16")],
            ),
        ];
        for (case, cidrs, excluded, expected) in cases {
            assert_eq!(desired_routes(&tables, &cidrs, &excluded), expected, "{case}");
        }
    }

    #[test]
    fn plan_routes_table() {
        let want_a = vec![spec("rtb-a", "10.2.0.0/16"), spec("rtb-a", "2600:1f18:1::/56")];
        let blackhole =
            Route { blackhole: true, ..via("10.2.0.0/16", Target::Peering("pcx-0dddddddddddddd01".into())) };
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<RouteSpec>, Vec<RouteTable>, Vec<&str>, Option<&str>, Result<Vec<Action>, Vec<Conflict>>)> = vec![
            ("no-op: all there", want_a.clone(),
                vec![table("rtb-a", vec![ours("10.2.0.0/16"), ours("2600:1f18:1::/56")])], vec!["rtb-a"], Some(PCX),
                Ok(vec![])),
            ("add: IPv4 and IPv6", want_a.clone(),
                vec![table("rtb-a", vec![])], vec!["rtb-a"], Some(PCX),
                Ok(vec![Action::AddRoute(spec("rtb-a", "10.2.0.0/16")), Action::AddRoute(spec("rtb-a", "2600:1f18:1::/56"))])),
            ("add some, keep the rest", want_a.clone(),
                vec![table("rtb-a", vec![ours("10.2.0.0/16")])], vec!["rtb-a"], Some(PCX),
                Ok(vec![Action::AddRoute(spec("rtb-a", "2600:1f18:1::/56"))])),
            ("remove: a CIDR the peer lost", vec![spec("rtb-a", "10.2.0.0/16")],
                vec![table("rtb-a", vec![ours("10.2.0.0/16"), ours("10.3.0.0/16")])], vec!["rtb-a"], Some(PCX),
                Ok(vec![Action::RemoveRoute(spec("rtb-a", "10.3.0.0/16"))])),
            ("remove: a table that left the list", vec![spec("rtb-a", "10.2.0.0/16")],
                vec![table("rtb-a", vec![ours("10.2.0.0/16")]), table("rtb-old", vec![ours("10.2.0.0/16"), igw("0.0.0.0/0")])],
                vec!["rtb-a", "rtb-old"], Some(PCX),
                Ok(vec![Action::RemoveRoute(spec("rtb-old", "10.2.0.0/16"))])),
            ("delete: everything of ours, nothing else", vec![],
                vec![table("rtb-a", vec![ours("10.2.0.0/16"), igw("0.0.0.0/0"), ours("2600:1f18:1::/56")])], vec!["rtb-a"], Some(PCX),
                Ok(vec![Action::RemoveRoute(spec("rtb-a", "10.2.0.0/16")), Action::RemoveRoute(spec("rtb-a", "2600:1f18:1::/56"))])),
            ("an unmanaged table is never touched", vec![],
                vec![table("rtb-x", vec![ours("10.2.0.0/16")])], vec!["rtb-a"], Some(PCX),
                Ok(vec![])),
            ("excluded CIDR: its existing route elsewhere is not ours and stays", vec![spec("rtb-a", "10.2.0.0/16")],
                vec![table("rtb-a", vec![ours("10.2.0.0/16"), igw("100.64.0.0/16")])], vec!["rtb-a"], Some(PCX),
                Ok(vec![])),
            ("conflict: the destination goes to a gateway", want_a.clone(),
                vec![table("rtb-a", vec![igw("10.2.0.0/16")])], vec!["rtb-a"], Some(PCX),
                Err(vec![Conflict { table_id: "rtb-a".into(), destination: net("10.2.0.0/16"), target: Target::Other { kind: "gateway", id: "igw-0bbbbbbbbbbbbbbb1".into() }, blackhole: false, prefix_list: None }])),
            ("conflict: a blackhole to another peering", vec![spec("rtb-a", "10.2.0.0/16")],
                vec![table("rtb-a", vec![blackhole.clone()])], vec!["rtb-a"], Some(PCX),
                Err(vec![Conflict { table_id: "rtb-a".into(), destination: net("10.2.0.0/16"), target: blackhole.target.clone(), blackhole: true, prefix_list: None }])),
            ("conflict before the connection exists: any route is in the way", vec![spec("rtb-a", "10.2.0.0/16")],
                vec![table("rtb-a", vec![ours("10.2.0.0/16")])], vec!["rtb-a"], None,
                Err(vec![Conflict { table_id: "rtb-a".into(), destination: net("10.2.0.0/16"), target: Target::Peering(PCX.into()), blackhole: false, prefix_list: None }])),
            ("a conflict stops every other action", vec![spec("rtb-a", "10.2.0.0/16"), spec("rtb-b", "10.2.0.0/16")],
                vec![table("rtb-a", vec![]), table("rtb-b", vec![igw("10.2.0.0/16")])], vec!["rtb-a", "rtb-b"], Some(PCX),
                Err(vec![Conflict { table_id: "rtb-b".into(), destination: net("10.2.0.0/16"), target: Target::Other { kind: "gateway", id: "igw-0bbbbbbbbbbbbbbb1".into() }, blackhole: false, prefix_list: None }])),
        ];
        for (case, desired, observed, managed_ids, connection, expected) in cases {
            let none = BTreeSet::new();
            assert_eq!(plan_routes(&desired, &observed, &managed(&managed_ids), connection, &none), expected, "{case}");
        }
    }

    /// Route tables as AWS has them: a replacement's old connection, propagated routes, prefix lists.
    #[test]
    fn plan_routes_as_aws_has_them() {
        const OLD: &str = "pcx-0eeeeeeeeeeeeeee1";
        let old = |dest: &str| via(dest, Target::Peering(OLD.into()));
        let vgw = Target::Other { kind: "gateway", id: "vgw-0fffffffffffffff1".into() };
        let propagated = Route { propagated: true, ..via("10.2.0.0/16", vgw.clone()) };
        let with_list = |entries: &[&str]| RouteTable {
            prefix_list_routes: vec![PrefixListRoute {
                list_id: "pl-0aaaaaaaaaaaaaaa1".into(),
                entries: nets(entries),
                target: vgw.clone(),
            }],
            ..table("rtb-a", vec![])
        };
        let want = vec![spec("rtb-a", "10.2.0.0/16")];
        let movable: BTreeSet<String> = [OLD.to_string()].into();
        let none = BTreeSet::new();
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<RouteTable>, Option<&str>, &BTreeSet<String>, Result<Vec<Action>, Vec<Conflict>>)> = vec![
            ("a replacement moves the old connection's route", vec![table("rtb-a", vec![old("10.2.0.0/16")])], Some(PCX), &movable,
                Ok(vec![Action::ReplaceRoute { spec: spec("rtb-a", "10.2.0.0/16"), from: OLD.into() }])),
            ("before the connection exists, the old connection's route is not in the way", vec![table("rtb-a", vec![old("10.2.0.0/16")])], None, &movable,
                Ok(vec![Action::ReplaceRoute { spec: spec("rtb-a", "10.2.0.0/16"), from: OLD.into() }])),
            ("another resource's connection is in the way", vec![table("rtb-a", vec![old("10.2.0.0/16")])], Some(PCX), &none,
                Err(vec![Conflict { table_id: "rtb-a".into(), destination: net("10.2.0.0/16"), target: Target::Peering(OLD.into()), blackhole: false, prefix_list: None }])),
            ("a propagated route is not a conflict", vec![table("rtb-a", vec![propagated.clone()])], Some(PCX), &movable,
                Ok(vec![Action::AddOverPropagated(spec("rtb-a", "10.2.0.0/16"))])),
            ("a prefix list holding the destination is a conflict", vec![with_list(&["10.0.0.0/8"])], Some(PCX), &movable,
                Err(vec![Conflict { table_id: "rtb-a".into(), destination: net("10.2.0.0/16"), target: vgw.clone(), blackhole: false, prefix_list: Some("pl-0aaaaaaaaaaaaaaa1".into()) }])),
            ("a prefix list of other blocks is not", vec![with_list(&["192.168.0.0/16", "10.2.1.0/24"])], Some(PCX), &movable,
                Ok(vec![Action::AddRoute(spec("rtb-a", "10.2.0.0/16"))])),
        ];
        for (case, observed, connection, movable, expected) in cases {
            assert_eq!(plan_routes(&want, &observed, &managed(&["rtb-a"]), connection, movable), expected, "{case}");
        }
    }

    #[test]
    fn overlaps_table() {
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<IpNet>, Vec<IpNet>, Vec<IpNet>, Vec<(&str, &str)>)> = vec![
            ("disjoint", nets(&["10.0.0.0/16"]), nets(&["10.1.0.0/16"]), vec![], vec![]),
            ("equal", nets(&["10.0.0.0/16"]), nets(&["10.0.0.0/16"]), vec![], vec![("10.0.0.0/16", "10.0.0.0/16")]),
            ("peer inside local", nets(&["10.0.0.0/8"]), nets(&["10.1.0.0/16"]), vec![], vec![("10.0.0.0/8", "10.1.0.0/16")]),
            ("secondary overlaps", nets(&["10.0.0.0/16", "100.64.0.0/16"]), nets(&["10.1.0.0/16", "100.64.0.0/20"]), vec![], vec![("100.64.0.0/16", "100.64.0.0/20")]),
            ("shared secondary excluded", nets(&["10.0.0.0/16", "100.64.0.0/16"]), nets(&["10.1.0.0/16", "100.64.0.0/16"]), nets(&["100.64.0.0/16"]), vec![]),
            ("IPv6 against IPv4 never", nets(&["10.0.0.0/16", "2600:1f18::/56"]), nets(&["10.1.0.0/16", "2600:1f18:0:100::/56"]), vec![], vec![]),
            ("IPv6 overlap", nets(&["2600:1f18::/56"]), nets(&["2600:1f18::/64"]), vec![], vec![("2600:1f18::/56", "2600:1f18::/64")]),
        ];
        for (case, local, peer, excluded, expected) in cases {
            let expected: Vec<Overlap> =
                expected.into_iter().map(|(l, p)| Overlap { local: net(l), peer: net(p) }).collect();
            assert_eq!(overlaps(&local, &peer, &excluded), expected, "{case}");
        }
    }
}
