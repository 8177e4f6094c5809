//! The pure decisions of the four functions, timed apart from any AWS call, at bench/run's sizes:
//!
//! - vpc-peering: `overlaps`, `desired_routes` and `plan_routes` for one side of a peering with
//!   100 route tables per side and 6 blocks per VPC (5 IPv4 + 1 IPv6), so 600 routes per side;
//!   `plan_routes` on Create (none there yet: 600 to add) and on a no-op Update (all 600 there, ours).
//! - endpoint-access: `resolve` of 15 interface services against 15 endpoints, each endpoint with its
//!   own security group; `desired_rules` and `plan_rules` for those 15 groups and 10 task groups with
//!   egress managed (300 rules), on Create (nothing observed) and on a no-op Update (all 300 ours).
//! - lifecycle-drain: `decide` over 50 tasks on the instance (service tasks running and stopped, a daemon).
//! - task-alerts: `diagnose` of every row of the stop-reason corpus, and `TaskDetail::from_json`
//!   of the out-of-memory example event.
//!
//! Inputs are built once, outside the timed loop; each builder checks it gives the case it is named for.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use endpoint_access::model::{Endpoint, EndpointKind, Rule, RuleSpec};
use endpoint_access::plan::{Resolution, desired_rules, plan_rules, resolve};
use lifecycle_drain::config::{Config, StandalonePolicy};
use lifecycle_drain::plan::{Agent, Step, TaskKind, TaskState, decide};
use task_alerts::diagnosis::{Container, TaskDetail, diagnose};
use vpc_peering::model::{Route, RouteSpec, RouteTable, Target};
use vpc_peering::plan::{desired_routes, overlaps, plan_routes};

// ---- vpc-peering ----

const ROUTE_TABLES: usize = 100;
const CONNECTION: &str = "pcx-0aaaaaaaaaaaaaaa1";

/// A VPC's six blocks: five IPv4 /16s from `10.<first>.0.0` up, and the IPv6 /56 `2600:1f18:<ipv6>::`.
fn vpc_cidrs(first: u8, ipv6: u16) -> Vec<IpNet> {
    let ipv4 = (first..first + 5).map(|b| IpNet::from(Ipv4Net::new_assert(Ipv4Addr::new(10, b, 0, 0), 16)));
    let ipv6 = IpNet::from(Ipv6Net::new_assert(Ipv6Addr::new(0x2600, 0x1f18, ipv6, 0, 0, 0, 0, 0), 56));
    ipv4.chain([ipv6]).collect()
}

fn local_cidrs() -> Vec<IpNet> {
    vpc_cidrs(0, 1)
}

fn peer_cidrs() -> Vec<IpNet> {
    vpc_cidrs(100, 2)
}

fn route_table_ids() -> Vec<String> {
    (0..ROUTE_TABLES).map(|i| format!("rtb-0{i:016x}")).collect()
}

/// The local side's tables as observed: a `local` route per VPC block and a default route to the
/// internet gateway, plus `peering` (routes through our connection).
fn route_tables(peering: &[RouteSpec]) -> Vec<RouteTable> {
    let route = |destination: IpNet, target: Target| Route { destination, target, blackhole: false, propagated: false };
    route_table_ids()
        .into_iter()
        .map(|id| {
            let local =
                local_cidrs().into_iter().map(|c| route(c, Target::Other { kind: "gateway", id: "local".into() }));
            let internet = Target::Other { kind: "gateway", id: "igw-0bbbbbbbbbbbbbbb1".into() };
            let default = route(IpNet::from(Ipv4Net::new_assert(Ipv4Addr::UNSPECIFIED, 0)), internet);
            let ours = peering
                .iter()
                .filter(|spec| spec.table_id == id)
                .map(|spec| route(spec.destination, Target::Peering(CONNECTION.into())));
            RouteTable {
                vpc_id: "vpc-0ccccccccccccccc1".into(),
                routes: local.chain([default]).chain(ours).collect(),
                prefix_list_routes: Vec::new(),
                id,
            }
        })
        .collect()
}

/// The local side's 600 routes: every table to every peer block.
fn desired_peering_routes() -> Vec<RouteSpec> {
    desired_routes(&route_table_ids(), &peer_cidrs(), &[])
}

fn vpc_peering(c: &mut Criterion) {
    let (tables, local, peer) = (route_table_ids(), local_cidrs(), peer_cidrs());
    let managed: BTreeSet<String> = tables.iter().cloned().collect();
    let desired = desired_peering_routes();
    assert_eq!(desired.len(), ROUTE_TABLES * 6, "one route per table and peer block");
    let before_create = route_tables(&[]);
    let after_create = route_tables(&desired);
    let actions =
        |observed| plan_routes(&desired, observed, &managed, Some(CONNECTION), &BTreeSet::new()).map(|a| a.len());
    assert_eq!(actions(&before_create), Ok(desired.len()), "Create adds every route");
    assert_eq!(actions(&after_create), Ok(0), "a no-op Update does nothing");

    let mut group = c.benchmark_group("vpc-peering");
    group.bench_function("overlaps", |b| b.iter(|| overlaps(black_box(&local), black_box(&peer), &[])));
    group.bench_function("desired_routes", |b| b.iter(|| desired_routes(black_box(&tables), black_box(&peer), &[])));
    group.bench_function("plan_routes/create", |b| {
        b.iter(|| {
            plan_routes(black_box(&desired), black_box(&before_create), &managed, Some(CONNECTION), &BTreeSet::new())
        })
    });
    group.bench_function("plan_routes/update_noop", |b| {
        b.iter(|| {
            plan_routes(black_box(&desired), black_box(&after_create), &managed, Some(CONNECTION), &BTreeSet::new())
        })
    });
    group.finish();
}

// ---- endpoint-access ----

const REGION: &str = "us-east-1";
const OWNER: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/1|Access";
const SERVICES: [&str; 15] = [
    "ecr.api",
    "ecr.dkr",
    "logs",
    "ssm",
    "ssmmessages",
    "ec2messages",
    "secretsmanager",
    "kms",
    "sts",
    "sqs",
    "sns",
    "monitoring",
    "xray",
    "ecs",
    "ecs-telemetry",
];

fn services() -> Vec<String> {
    SERVICES.iter().map(|s| s.to_string()).collect()
}

/// One available interface endpoint with private DNS per service, each with its own security group.
fn endpoints() -> Vec<Endpoint> {
    SERVICES
        .iter()
        .enumerate()
        .map(|(i, name)| Endpoint {
            id: format!("vpce-0{i:016x}"),
            service: format!("com.amazonaws.{REGION}.{name}"),
            kind: EndpointKind::Interface,
            state: "available".into(),
            private_dns: true,
            security_group_ids: vec![format!("sg-0e{i:015x}")],
        })
        .collect()
}

fn task_groups() -> Vec<String> {
    (0..10).map(|i| format!("sg-0t{i:015x}")).collect()
}

/// The rules as they stand after a Create: each desired rule, tagged with our owner.
fn our_rules(desired: &[RuleSpec]) -> Vec<Rule> {
    desired.iter().enumerate().map(|(i, spec)| Rule::made(&format!("sgr-0{i:016x}"), spec, Some(OWNER))).collect()
}

fn endpoint_access(c: &mut Criterion) {
    let (services, endpoints, tasks) = (services(), endpoints(), task_groups());
    let vpc_cidrs = vec![IpNet::from(Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 16))];
    let resolution: Resolution = resolve(&services, REGION, &endpoints);
    assert!(resolution.missing.is_empty(), "every service has its endpoint: {:?}", resolution.missing);
    assert_eq!(resolution.endpoint_groups.len(), SERVICES.len(), "one security group per endpoint");
    let desired = desired_rules(&tasks, &resolution, None, 443, true);
    assert_eq!(desired.len(), 2 * SERVICES.len() * tasks.len(), "ingress and egress for each pair");
    let (nothing, observed) = (Vec::new(), our_rules(&desired));
    assert_eq!(plan_rules(&desired, &nothing, OWNER, &vpc_cidrs).actions.len(), desired.len(), "Create authorizes all");
    assert!(plan_rules(&desired, &observed, OWNER, &vpc_cidrs).actions.is_empty(), "a no-op Update does nothing");

    let mut group = c.benchmark_group("endpoint-access");
    group.bench_function("resolve", |b| b.iter(|| resolve(black_box(&services), REGION, black_box(&endpoints))));
    group.bench_function("desired_rules", |b| {
        b.iter(|| desired_rules(black_box(&tasks), black_box(&resolution), None, 443, true))
    });
    group.bench_function("plan_rules/create", |b| {
        b.iter(|| plan_rules(black_box(&desired), black_box(&nothing), OWNER, &vpc_cidrs))
    });
    group.bench_function("plan_rules/update_noop", |b| {
        b.iter(|| plan_rules(black_box(&desired), black_box(&observed), OWNER, &vpc_cidrs))
    });
    group.finish();
}

// ---- lifecycle-drain ----

fn drain_config() -> Config {
    Config::sample(StandalonePolicy::StopAfter(Duration::from_secs(300)))
}

/// 50 tasks on a draining instance: one daemon, 10 service tasks already stopped, 39 still running.
fn instance_tasks() -> Vec<TaskState> {
    let task = |i: usize, kind: TaskKind, status: &str| TaskState {
        arn: format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{i:032x}"),
        kind,
        group: if kind == TaskKind::Daemon { "service:agent".into() } else { format!("service:api-{}", i % 5) },
        last_status: status.into(),
        desired_status: status.into(),
    };
    let daemon = task(0, TaskKind::Daemon, "RUNNING");
    let stopped = (1..=10).map(|i| task(i, TaskKind::Service, "STOPPED"));
    let running = (11..50).map(|i| task(i, TaskKind::Service, "RUNNING"));
    [daemon].into_iter().chain(stopped).chain(running).collect()
}

fn lifecycle_drain(c: &mut Criterion) {
    let (tasks, config) = (instance_tasks(), drain_config());
    let (drained_for, time_left) = (Duration::from_secs(120), Duration::from_secs(600));
    assert_eq!(
        decide(Agent::Connected, &tasks, drained_for, time_left, &config),
        Step::Wait(config.poll_interval),
        "still waiting"
    );

    let mut group = c.benchmark_group("lifecycle-drain");
    group.bench_function("decide", |b| {
        b.iter(|| decide(Agent::Connected, black_box(&tasks), drained_for, time_left, &config))
    });
    group.finish();
}

// ---- task-alerts ----

const STOPPED_REASONS: &str = include_str!("../../tests/fixtures/task-alerts/stopped-reasons.tsv");
const OUT_OF_MEMORY_EVENT: &str = include_str!("../../events/task-alerts/stopped-out-of-memory.json");

/// A TSV field: `"…"` with `""` for a quote inside, or as is. The corpus has no tab or newline
/// inside a quoted field, so rows are lines and fields split at tabs.
fn unquote(field: &str) -> String {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => field.to_string(),
    }
}

/// One stopped task per corpus row, shaped as tests/cases.rs shapes the event: the row's stop code
/// and task reason, and one stopped container with its reason and exit code (empty fields absent).
fn corpus_tasks() -> Vec<TaskDetail> {
    let mut lines = STOPPED_REASONS.lines();
    let header = lines.next().expect("stopped-reasons.tsv has a header row");
    assert!(
        header.starts_with("id\tstopCode\tstoppedReason\tcontainer_reason\texit_code\t"),
        "stopped-reasons.tsv's columns moved: {header}"
    );
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<String> = line.split('\t').map(unquote).collect();
            let field = |i: usize| fields.get(i).filter(|f| !f.is_empty()).cloned();
            let exit_code = field(4).map(|code| code.parse().expect("stopped-reasons.tsv: exit codes are integers"));
            let container = Container {
                name: Some("app".into()),
                reason: field(3),
                exit_code,
                last_status: Some("STOPPED".into()),
                image: None,
            };
            TaskDetail {
                stop_code: field(1),
                stopped_reason: field(2),
                last_status: Some("STOPPED".into()),
                containers: vec![container],
                ..TaskDetail::default()
            }
        })
        .collect()
}

fn task_alerts(c: &mut Criterion) {
    let tasks = corpus_tasks();
    assert!(tasks.len() >= 40, "the corpus has its rows: {}", tasks.len());
    let oom = TaskDetail::from_json(OUT_OF_MEMORY_EVENT).expect("stopped-out-of-memory.json is a task event");
    assert_eq!(diagnose(&oom).category.id(), "out_of_memory");

    let mut group = c.benchmark_group("task-alerts");
    group.bench_function("diagnose/every_corpus_row", |b| {
        b.iter(|| black_box(&tasks).iter().map(diagnose).collect::<Vec<_>>())
    });
    group.bench_function("from_json/out_of_memory_event", |b| {
        b.iter(|| TaskDetail::from_json(black_box(OUT_OF_MEMORY_EVENT)))
    });
    group.finish();
}

criterion_group! {
    name = pure;
    // 11 benchmarks at ~3 s each: the whole run stays under a minute.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = vpc_peering, endpoint_access, lifecycle_drain, task_alerts
}
criterion_main!(pure);
