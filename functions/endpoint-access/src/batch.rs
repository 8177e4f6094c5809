//! The plan's rule changes as EC2 writes: as few as EC2 takes. One AuthorizeSecurityGroupIngress
//! or …Egress carries many permissions for one group, and one RevokeSecurityGroupIngress or
//! …Egress many rule ids (EC2 API reference: `IpPermissions`, `SecurityGroupRuleIds`), so every
//! change of one group in one direction goes in one write: for E endpoint groups and T task groups,
//! E + T writes instead of one per rule (2·E·T + T). Pure, table-tested.

use std::collections::BTreeMap;

use ipnet::IpNet;

use crate::model::{Action, Direction, Peer, Rule, RuleSpec};
use crate::plan::exactly;

/// One EC2 write: the changes of one group in one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// One Authorize… carrying every rule, each tagged with the owner.
    Authorize { group_id: String, direction: Direction, rules: Vec<RuleSpec> },
    /// One Revoke… naming every rule id.
    Revoke { group_id: String, direction: Direction, rule_ids: Vec<String> },
}

/// The writes for `actions`: one per group and direction, the additions first (as the plan
/// orders them: an Update adds before it revokes), each keeping the plan's order of its rules.
pub fn batches(actions: &[Action]) -> Vec<Batch> {
    let mut adds: BTreeMap<(&str, Direction), Vec<RuleSpec>> = BTreeMap::new();
    let mut revokes: BTreeMap<(&str, Direction), Vec<String>> = BTreeMap::new();
    for action in actions {
        match action {
            Action::Authorize(spec) => adds.entry((&spec.group_id, spec.direction)).or_default().push(spec.clone()),
            Action::Revoke { rule_id, group_id, direction } => {
                let ids = revokes.entry((group_id, *direction)).or_default();
                if !ids.contains(rule_id) {
                    ids.push(rule_id.clone());
                }
            }
        }
    }
    let adds = adds.into_iter().map(|((group_id, direction), rules)| Batch::Authorize {
        group_id: group_id.to_string(),
        direction,
        rules,
    });
    let revokes = revokes.into_iter().map(|((group_id, direction), rule_ids)| Batch::Revoke {
        group_id: group_id.to_string(),
        direction,
        rule_ids,
    });
    adds.chain(revokes).collect()
}

/// One `IpPermission` of an Authorize: TCP on `port` to or from every peer listed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Permission {
    pub port: u16,
    pub groups: Vec<String>,
    pub prefix_lists: Vec<String>,
    pub cidrs: Vec<IpNet>,
}

/// The permissions that carry `rules` (one group, one direction): one per port, with every peer
/// on that port, in the order of the rules.
pub fn permissions(rules: &[RuleSpec]) -> Vec<Permission> {
    let mut by_port: Vec<Permission> = Vec::new();
    for spec in rules {
        let at = match by_port.iter().position(|p| p.port == spec.port) {
            Some(at) => at,
            None => {
                by_port.push(Permission { port: spec.port, ..Permission::default() });
                by_port.len() - 1
            }
        };
        let permission = &mut by_port[at];
        match &spec.peer {
            Peer::Group(id) => permission.groups.push(id.clone()),
            Peer::PrefixList(id) => permission.prefix_lists.push(id.clone()),
            Peer::Cidr(net) => permission.cidrs.push(*net),
        }
    }
    by_port
}

/// What an Authorize answered, matched with what it asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Returned {
    /// Each planned rule EC2 made, with its `sgr-` id.
    pub added: Vec<(RuleSpec, String)>,
    /// Rules EC2 returned that match no planned rule (made by this call all the same).
    pub unplanned: Vec<Rule>,
    /// Planned rules EC2 returned no rule for.
    pub unreported: Vec<RuleSpec>,
}

/// Which planned rule each returned rule is, by what it is (group, direction, peer, protocol and
/// ports), never by its position: EC2 does not say its `SecurityGroupRules` keep the order of the
/// request's permissions, and one permission with several peers returns a rule per peer.
pub fn match_returned(planned: &[RuleSpec], returned: &[Rule]) -> Returned {
    let mut out = Returned::default();
    let mut matched = vec![false; planned.len()];
    for rule in returned {
        match (0..planned.len()).find(|&i| !matched[i] && exactly(rule, &planned[i])) {
            Some(i) => {
                matched[i] = true;
                out.added.push((planned[i].clone(), rule.id.clone()));
            }
            None => out.unplanned.push(rule.clone()),
        }
    }
    out.unreported = planned.iter().zip(&matched).filter(|(_, m)| !**m).map(|(spec, _)| spec.clone()).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Resolution, desired_rules, plan_rules};

    fn spec(group: &str, direction: Direction, port: u16, peer: Peer) -> RuleSpec {
        RuleSpec { group_id: group.into(), direction, port, peer }
    }

    fn group(id: &str) -> Peer {
        Peer::Group(id.into())
    }

    fn prefix_list(id: &str) -> Peer {
        Peer::PrefixList(id.into())
    }

    fn revoke(id: &str, group: &str, direction: Direction) -> Action {
        Action::Revoke { rule_id: id.into(), group_id: group.into(), direction }
    }

    /// A rule as EC2 returns it for `spec`.
    fn made(id: &str, s: &RuleSpec) -> Rule {
        Rule::made(id, s, Some("owner"))
    }

    #[test]
    fn batches_table() {
        use Direction::*;
        let in_e1_t1 = spec("sg-e1", Ingress, 443, group("sg-t1"));
        let in_e1_t2 = spec("sg-e1", Ingress, 443, group("sg-t2"));
        let in_e2_t1 = spec("sg-e2", Ingress, 443, group("sg-t1"));
        let out_t1_e1 = spec("sg-t1", Egress, 443, group("sg-e1"));
        let out_t1_s3 = spec("sg-t1", Egress, 443, prefix_list("pl-1"));
        let authorize = |s: &RuleSpec| Action::Authorize(s.clone());
        let adds = |g: &str, d, rules: &[&RuleSpec]| Batch::Authorize {
            group_id: g.into(),
            direction: d,
            rules: rules.iter().map(|s| (*s).clone()).collect(),
        };
        let revokes = |g: &str, d, ids: &[&str]| Batch::Revoke {
            group_id: g.into(),
            direction: d,
            rule_ids: ids.iter().map(|s| s.to_string()).collect(),
        };
        let cases: Vec<(&str, Vec<Action>, Vec<Batch>)> = vec![
            ("nothing to do", vec![], vec![]),
            (
                "one write per group and direction, whatever the plan's order",
                vec![
                    authorize(&out_t1_e1),
                    authorize(&in_e1_t1),
                    authorize(&in_e2_t1),
                    authorize(&out_t1_s3),
                    authorize(&in_e1_t2),
                ],
                vec![
                    adds("sg-e1", Ingress, &[&in_e1_t1, &in_e1_t2]),
                    adds("sg-e2", Ingress, &[&in_e2_t1]),
                    adds("sg-t1", Egress, &[&out_t1_e1, &out_t1_s3]),
                ],
            ),
            (
                "a group's ingress and egress are two writes (two actions)",
                vec![authorize(&in_e1_t1), authorize(&spec("sg-e1", Egress, 443, group("sg-t1")))],
                vec![
                    adds("sg-e1", Ingress, &[&in_e1_t1]),
                    adds("sg-e1", Egress, &[&spec("sg-e1", Egress, 443, group("sg-t1"))]),
                ],
            ),
            (
                "revokes after the additions, by group and direction; an id named twice once",
                vec![
                    revoke("sgr-3", "sg-t1", Egress),
                    authorize(&in_e1_t1),
                    revoke("sgr-1", "sg-e1", Ingress),
                    revoke("sgr-2", "sg-e1", Ingress),
                    revoke("sgr-4", "sg-t1", Egress),
                    revoke("sgr-1", "sg-e1", Ingress),
                ],
                vec![
                    adds("sg-e1", Ingress, &[&in_e1_t1]),
                    revokes("sg-e1", Ingress, &["sgr-1", "sgr-2"]),
                    revokes("sg-t1", Egress, &["sgr-3", "sgr-4"]),
                ],
            ),
        ];
        for (case, actions, expected) in cases {
            assert_eq!(batches(&actions), expected, "{case}");
        }
    }

    /// Issue #17: 15 endpoints (each with its own group) × 10 task groups, egress managed, S3
    /// through its gateway. One write per rule was 310 (150 ingress, 150 egress to the endpoints,
    /// 10 to S3); batched, 25: one ingress per endpoint group, one egress per task group.
    /// Delete revokes with as many.
    #[test]
    fn fifteen_endpoints_by_ten_task_groups_is_twenty_five_writes() {
        let sizes = [(1, 1, 3, 2), (3, 2, 14, 5), (15, 10, 310, 25)];
        for (endpoints, tasks, per_rule, batched) in sizes {
            let resolution = Resolution {
                endpoint_groups: (0..endpoints).map(|i| format!("sg-e{i:02}")).collect(),
                s3_gateway: true,
                missing: vec![],
            };
            let task_groups: Vec<String> = (0..tasks).map(|i| format!("sg-t{i:02}")).collect();
            let desired = desired_rules(&task_groups, &resolution, Some("pl-63a5400a"), 443, true);
            let create = plan_rules(&desired, &[], "owner", &[]);
            assert_eq!(create.actions.len(), per_rule, "{endpoints} × {tasks}: one write per rule");
            let writes = batches(&create.actions);
            assert_eq!(writes.len(), batched, "{endpoints} × {tasks}: {writes:?}");
            assert!(writes.len() <= endpoints + tasks);
            let carried: usize = writes
                .iter()
                .map(|b| match b {
                    Batch::Authorize { rules, .. } => rules.len(),
                    Batch::Revoke { rule_ids, .. } => rule_ids.len(),
                })
                .sum();
            assert_eq!(carried, per_rule, "every rule in one write");

            let observed: Vec<Rule> = desired.iter().enumerate().map(|(i, s)| made(&format!("sgr-{i}"), s)).collect();
            let delete = plan_rules(&[], &observed, "owner", &[]);
            assert_eq!(batches(&delete.actions).len(), batched, "{endpoints} × {tasks}: Delete");
        }
    }

    #[test]
    fn permissions_table() {
        use Direction::*;
        let cidr: IpNet = "10.0.0.0/16".parse().unwrap();
        let cases: Vec<(&str, Vec<RuleSpec>, Vec<Permission>)> = vec![
            (
                "an endpoint group: every task group in one permission",
                vec![spec("sg-e1", Ingress, 443, group("sg-t1")), spec("sg-e1", Ingress, 443, group("sg-t2"))],
                vec![Permission { port: 443, groups: vec!["sg-t1".into(), "sg-t2".into()], ..Default::default() }],
            ),
            (
                "a task group on 443: the endpoint groups and S3's prefix list together",
                vec![spec("sg-t1", Egress, 443, group("sg-e1")), spec("sg-t1", Egress, 443, prefix_list("pl-1"))],
                vec![Permission {
                    port: 443,
                    groups: vec!["sg-e1".into()],
                    prefix_lists: vec!["pl-1".into()],
                    ..Default::default()
                }],
            ),
            (
                "endpoints on another port: S3 stays on 443, in a permission of its own",
                vec![
                    spec("sg-t1", Egress, 8443, group("sg-e1")),
                    spec("sg-t1", Egress, 443, prefix_list("pl-1")),
                    spec("sg-t1", Egress, 8443, group("sg-e2")),
                    spec("sg-t1", Egress, 8443, Peer::Cidr(cidr)),
                ],
                vec![
                    Permission {
                        port: 8443,
                        groups: vec!["sg-e1".into(), "sg-e2".into()],
                        cidrs: vec![cidr],
                        ..Default::default()
                    },
                    Permission { port: 443, prefix_lists: vec!["pl-1".into()], ..Default::default() },
                ],
            ),
            ("none", vec![], vec![]),
        ];
        for (case, rules, expected) in cases {
            assert_eq!(permissions(&rules), expected, "{case}");
        }
    }

    #[test]
    fn returned_rules_are_matched_by_what_they_are_not_by_position() {
        use Direction::*;
        let t1 = spec("sg-t1", Egress, 443, group("sg-e1"));
        let t2 = spec("sg-t1", Egress, 443, group("sg-e2"));
        let s3 = spec("sg-t1", Egress, 443, prefix_list("pl-1"));
        let planned = vec![t1.clone(), t2.clone(), s3.clone()];
        let stranger = made("sgr-x", &spec("sg-t1", Egress, 443, group("sg-e9")));
        let mut udp = made("sgr-udp", &t1);
        udp.protocol = "udp".into();
        let cases: Vec<(&str, Vec<Rule>, Returned)> = vec![
            (
                "in another order than asked",
                vec![made("sgr-s3", &s3), made("sgr-2", &t2), made("sgr-1", &t1)],
                Returned {
                    added: vec![
                        (s3.clone(), "sgr-s3".into()),
                        (t2.clone(), "sgr-2".into()),
                        (t1.clone(), "sgr-1".into()),
                    ],
                    ..Default::default()
                },
            ),
            (
                "a rule not asked for, and one asked for not returned",
                vec![made("sgr-1", &t1), stranger.clone(), udp.clone(), made("sgr-2", &t2)],
                Returned {
                    added: vec![(t1.clone(), "sgr-1".into()), (t2.clone(), "sgr-2".into())],
                    unplanned: vec![stranger, udp],
                    unreported: vec![s3.clone()],
                },
            ),
            (
                "the same rule returned twice matches once",
                vec![made("sgr-1", &t1), made("sgr-1b", &t1)],
                Returned {
                    added: vec![(t1.clone(), "sgr-1".into())],
                    unplanned: vec![made("sgr-1b", &t1)],
                    unreported: vec![t2.clone(), s3.clone()],
                },
            ),
            ("nothing returned", vec![], Returned { unreported: planned.clone(), ..Default::default() }),
        ];
        for (case, returned, expected) in cases {
            assert_eq!(match_returned(&planned, &returned), expected, "{case}");
        }
    }
}
