//! The fault matrix (#10): every AWS action each function calls, failed in each way AWS fails
//! (throttling that clears, throttling that persists, a 500, access denied, a reset connection, an
//! answer slower than the time left), injected by the proxy between the built function in the
//! Lambda emulator and moto.
//!
//! Each function's actions come from a fault-free run of its scenario and must equal the list
//! here, so a call added later is failed too. Each matrix prints one summary line; its hangs,
//! duplicate or missing answers, and secrets seen in output must all be zero.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testbed::alerts::{AlertsRig, WEBHOOK_TOKEN, event as alert_event};
use testbed::drain::{DrainRig, HOOK};
use testbed::ec2::{endpoint_site, group_rules, routes, table, vpc};
use testbed::{Calls, CfnRequest, Lambda, Proxy, Rig, SIGNATURE, response_url};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    ThrottleClears,
    ThrottlePersists,
    ServerError,
    Denied,
    Reset,
    Slow,
}

const FAULTS: [Fault; 6] =
    [Fault::ThrottleClears, Fault::ThrottlePersists, Fault::ServerError, Fault::Denied, Fault::Reset, Fault::Slow];

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::ThrottleClears => "throttled-twice",
            Fault::ThrottlePersists => "throttled",
            Fault::ServerError => "500",
            Fault::Denied => "denied",
            Fault::Reset => "reset",
            Fault::Slow => "slow",
        }
    }

    /// The proxy rule failing `action` this way, after letting `skip` of its calls through.
    fn rule(self, action: &str, skip: u64, slow: Duration) -> Value {
        let protocol = Protocol::of(action);
        let error = |status: u16, code: &str, message: String| json!({"action": action, "skip": skip, "status": status, "code": code, "message": message});
        match self {
            Fault::ThrottleClears | Fault::ThrottlePersists => {
                let (status, code) = protocol.throttling();
                let mut rule = error(status, code, "Rate exceeded".into());
                if self == Fault::ThrottleClears {
                    rule["times"] = json!(2);
                }
                rule
            }
            Fault::ServerError => {
                error(500, "InternalFailure", "We encountered an internal error. Please try again.".into())
            }
            Fault::Denied => {
                let (status, code) = protocol.denied();
                let role = "arn:aws:sts::123456789012:assumed-role/ecs-plumbing-Function-Role/fn";
                error(status, code, format!("User: {role} is not authorized to perform: {action}"))
            }
            Fault::Reset => json!({"action": action, "skip": skip, "reset": true}),
            Fault::Slow => json!({"action": action, "skip": skip, "times": 1, "delay_ms": slow.as_millis() as u64}),
        }
    }

    /// The error code an answer about this fault must name.
    fn code(self, action: &str) -> &'static str {
        let protocol = Protocol::of(action);
        match self {
            Fault::ThrottleClears | Fault::ThrottlePersists => protocol.throttling().1,
            Fault::ServerError => "InternalFailure",
            Fault::Denied => protocol.denied().1,
            Fault::Reset => "ConnectionError",
            Fault::Slow => "Timeout",
        }
    }
}

/// How the action's service spells its errors.
enum Protocol {
    Ec2,
    Query,
    Json,
}

impl Protocol {
    fn of(action: &str) -> Self {
        match action.split(':').next() {
            Some("ec2") => Protocol::Ec2,
            Some("sts" | "sns" | "autoscaling") => Protocol::Query,
            _ => Protocol::Json,
        }
    }

    fn throttling(&self) -> (u16, &'static str) {
        match self {
            Protocol::Ec2 => (503, "RequestLimitExceeded"),
            Protocol::Query => (400, "Throttling"),
            Protocol::Json => (400, "ThrottlingException"),
        }
    }

    fn denied(&self) -> (u16, &'static str) {
        match self {
            Protocol::Ec2 => (403, "UnauthorizedOperation"),
            Protocol::Query => (403, "AccessDenied"),
            Protocol::Json => (400, "AccessDeniedException"),
        }
    }
}

/// One cell of a matrix: `fault` on `action`, in the scenario's step `phase`, after `skip` of
/// its calls went through (half of them, so work is half done when it fails).
#[derive(Debug, Clone)]
struct Case {
    action: String,
    phase: &'static str,
    skip: u64,
    fault: Fault,
}

impl Case {
    fn name(&self) -> String {
        format!("{}-{}-{}", self.action.replace(':', "-"), self.fault.name(), self.phase)
    }
}

/// What one function's matrix saw, for its summary line.
#[derive(Debug, Default)]
struct Tally {
    faults: usize,
    responses: usize,
    hangs: usize,
    duplicates: usize,
    missing: usize,
    secrets: usize,
    /// Expectations not met (status, reason, what was left behind), one line each.
    problems: Vec<String>,
}

impl Tally {
    fn expect(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.problems.push(problem());
        }
    }

    fn merge(&mut self, other: Tally) {
        self.faults += other.faults;
        self.responses += other.responses;
        self.hangs += other.hangs;
        self.duplicates += other.duplicates;
        self.missing += other.missing;
        self.secrets += other.secrets;
        self.problems.extend(other.problems);
    }

    /// Print the summary line (straight to stdout: the test harness would hold back a `println!`
    /// of a passing test), then fail on any hang, duplicate, missing answer, secret or problem.
    fn finish(self, function: &str, answers: &str) {
        let line = format!(
            "fault matrix {function}: {} faults injected, {} {answers} sent, {} hangs, {} duplicate, {} missing, {} secrets seen in output\n",
            self.faults, self.responses, self.hangs, self.duplicates, self.missing, self.secrets
        );
        let _ = std::io::stdout().write_all(line.as_bytes());
        let bad = self.hangs + self.duplicates + self.missing + self.secrets;
        assert!(bad == 0 && self.problems.is_empty(), "{line}{}", self.problems.join("\n"));
    }
}

/// The cases for every action seen in the fault-free run's phases (an action seen in several is
/// failed in the first), checking the actions are exactly `expected`.
fn cases(phases: &[(&'static str, Calls)], expected: &[&str]) -> Vec<Case> {
    let mut first: BTreeMap<String, (&'static str, u64)> = BTreeMap::new();
    for (phase, calls) in phases {
        for (action, count) in &calls.counts {
            first.entry(action.clone()).or_insert((phase, *count));
        }
    }
    let mut expected: Vec<&str> = expected.to_vec();
    expected.sort();
    assert_eq!(first.keys().map(String::as_str).collect::<Vec<_>>(), expected, "the actions the scenario calls");
    let mut cases = Vec::new();
    for (action, (phase, count)) in first {
        for fault in FAULTS {
            cases.push(Case { action: action.clone(), phase, skip: count / 2, fault });
        }
    }
    // `FAULT_CASE=ec2-CreateRoute-slow cargo test --test faults` reruns the matching cells only.
    if let Ok(only) = std::env::var("FAULT_CASE") {
        cases.retain(|c| c.name().contains(&only));
    }
    cases
}

/// Worlds per matrix: a case mostly waits (retries, slow answers), so more worlds than cores.
const WORKERS: usize = 6;

/// Run the cases on `workers` worlds at once (most of a case's time is waiting: retries, slow
/// answers), then count the secrets in each world's output.
fn run_matrix<W>(
    cases: Vec<Case>,
    workers: usize,
    start: impl Fn() -> W + Sync,
    run: impl Fn(&W, &Case, &mut Tally) + Sync,
    output: impl Fn(&W) -> String + Sync,
) -> Tally {
    let queue = Mutex::new(VecDeque::from(cases));
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let world = start();
                    let mut tally = Tally::default();
                    loop {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                        let Some(case) = next else { break };
                        tally.faults += 1;
                        run(&world, &case, &mut tally);
                    }
                    tally.secrets += secrets_in(&output(&world));
                    tally
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a matrix worker panicked")).collect()
    });
    let mut all = Tally::default();
    for tally in tallies {
        all.merge(tally);
    }
    all
}

/// Lines showing a presigned URL's signature or the webhook's token.
fn secrets_in(text: &str) -> usize {
    text.lines().filter(|l| l.contains(SIGNATURE) || l.contains(WEBHOOK_TOKEN) || l.contains("T0SECRET")).count()
}

/// Wait until every call the proxy let through has its answer: a slow one lands in moto after
/// the function gave up on it, and what it made must be cleaned up too.
fn settle(proxy: &Proxy) {
    let until = Instant::now() + Duration::from_secs(20);
    while proxy.calls().calls.iter().any(|c| c.status.is_null()) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- Custom resources ----------------------------------------------------------------------

/// A short timeout with a 1 s margin: the deadline guard answers 11 s in, so a slow answer (13 s)
/// outlasts it, while a persisting fault's retries (about 3 s) end first and leave the peering
/// wait the 5 s it keeps in reserve to undo a Create.
const CR_TIMEOUT: u32 = 12;
const CR_SLOW: Duration = Duration::from_secs(13);

fn cr_rig(function: &str) -> Rig {
    Rig::start_with(function, CR_TIMEOUT, &[("DEADLINE_MARGIN_MS", "1000")])
}

/// What a custom resource showed: its log, and the bodies of its responses (the URLs they were
/// PUT to carry the signature by design).
fn cr_output(rig: &Rig) -> String {
    let bodies: Vec<String> = rig.receiver.received().into_iter().map(|r| r.body).collect();
    format!("{}\n{}", rig.lambda.logs(), bodies.join("\n"))
}

/// Send one CloudFormation request and count its answers at the receiver; the answer, if one came.
fn cr_send(
    rig: &Rig,
    tally: &mut Tally,
    name: &str,
    event: &str,
    properties: &Value,
    physical_id: Option<&str>,
) -> Option<Value> {
    let url = response_url(&rig.receiver, name);
    let mut request = CfnRequest::sample(&rig.function, event, &url)
        .in_test_stack()
        .properties(properties)
        .physical_id(physical_id)
        .build();
    request["RequestId"] = json!(format!("{name}-0000-4000-8000-000000000000"));
    // One resource throughout, as in a stack (the sample events name different ones).
    request["LogicalResourceId"] = json!("Resource");
    let invocation = rig.lambda.invoke_json(&request);
    tally.secrets += secrets_in(&invocation.body);
    let answers = rig.receiver.received_at(&format!("/cloudformation-custom-resource-response/{name}"));
    let deadline = invocation.sent_at + f64::from(CR_TIMEOUT);
    if invocation.elapsed >= Duration::from_secs(CR_TIMEOUT.into()) || answers.iter().any(|a| a.time > deadline) {
        tally.hangs += 1;
        tally.problems.push(format!("{name}: no answer before the deadline ({:?})", invocation.elapsed));
    }
    match answers.len() {
        0 => {
            tally.missing += 1;
            tally.problems.push(format!("{name}: no response; invocation {invocation:?}"));
        }
        n => {
            tally.responses += n;
            tally.duplicates += n - 1;
        }
    }
    let body = answers.first().map(|a| a.json());
    if let Some(body) = &body {
        let reason = body["Reason"].as_str().unwrap_or_default();
        tally.expect(!reason.contains('\n'), || format!("{name}: a reason of several lines: {reason}"));
    }
    body
}

/// A custom resource's case: the request that meets the fault (after a clean Create, if the fault
/// is in Delete), then what CloudFormation sends next (the rollback's Delete of whatever id the
/// answer gave, or the stack's Delete) without faults, and what must be left: nothing.
fn cr_case(rig: &Rig, tally: &mut Tally, case: &Case, properties: &Value, leftovers: impl Fn() -> Vec<String>) {
    let name = case.name();
    let create_event = create_event(&rig.function);
    rig.proxy.reset();
    let mut physical_id = None;
    if case.phase == "Delete" {
        let created = cr_send(rig, tally, &format!("{name}-setup"), create_event, properties, None);
        let created = created.unwrap_or_default();
        tally.expect(created["Status"] == "SUCCESS", || format!("{name}: the fault-free Create: {created}"));
        physical_id = created["PhysicalResourceId"].as_str().map(str::to_string);
    }
    rig.proxy.add_rule(case.fault.rule(&case.action, case.skip, CR_SLOW));
    let event = if case.phase == "Create" { create_event } else { "delete" };
    if let Some(body) = cr_send(rig, tally, &name, event, properties, physical_id.as_deref()) {
        let (status, reason) =
            (body["Status"].as_str().unwrap_or_default(), body["Reason"].as_str().unwrap_or_default());
        // A peering Delete whose peer role is denied goes on without it and says what it left.
        let without_peer = rig.function == "vpc-peering"
            && (case.phase, case.action.as_str(), case.fault) == ("Delete", "sts:AssumeRole", Fault::Denied);
        if case.fault == Fault::ThrottleClears {
            tally.expect(status == "SUCCESS", || format!("{name}: {status}: {reason}"));
        } else if without_peer {
            let said = status == "SUCCESS" && reason.contains("are left as blackholes: remove them there");
            tally.expect(said, || format!("{name}: expected SUCCESS naming what is left: {status}: {reason}"));
        } else {
            let code = case.fault.code(&case.action);
            let named = status == "FAILED" && reason.contains(&case.action) && reason.contains(code);
            tally.expect(named, || {
                format!("{name}: expected FAILED naming {} and {code}: {status}: {reason}", case.action)
            });
        }
        if case.phase == "Create" {
            physical_id = body["PhysicalResourceId"].as_str().map(str::to_string);
        }
    }
    settle(&rig.proxy);
    rig.proxy.reset();
    let cleanup = cr_send(rig, tally, &format!("{name}-cleanup"), "delete", properties, physical_id.as_deref());
    let cleanup = cleanup.unwrap_or_default();
    tally.expect(cleanup["Status"] == "SUCCESS", || format!("{name}: the Delete after it: {cleanup}"));
    let left = leftovers();
    tally.expect(left.is_empty(), || format!("{name}: left behind after the Delete: {left:?}"));
}

/// The sample event a custom resource's Create is sent as.
fn create_event(function: &str) -> &'static str {
    if function == "vpc-peering" { "create.cross-account" } else { "create" }
}

/// What a custom resource's case is set up with: the Create's properties, and what it left.
type Leftovers<'a> = Box<dyn Fn() -> Vec<String> + 'a>;
type Site = for<'a> fn(&'a Rig) -> (Value, Leftovers<'a>);

/// A custom resource's matrix: a fault-free Create and Delete give the actions by phase (and
/// leave nothing), then every case runs on a fresh site.
fn cr_matrix(function: &str, site: Site, expected: &[&str]) {
    let phases = {
        let rig = cr_rig(function);
        let mut tally = Tally::default();
        let (properties, leftovers) = site(&rig);
        let created =
            cr_send(&rig, &mut tally, "baseline", create_event(function), &properties, None).unwrap_or_default();
        assert_eq!(created["Status"], "SUCCESS", "{created}");
        let create = rig.proxy.calls();
        rig.proxy.reset();
        let id = created["PhysicalResourceId"].as_str().map(str::to_string);
        let deleted =
            cr_send(&rig, &mut tally, "baseline-delete", "delete", &properties, id.as_deref()).unwrap_or_default();
        assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
        assert_eq!(leftovers(), Vec::<String>::new());
        vec![("Create", create), ("Delete", rig.proxy.calls())]
    };
    let run = |rig: &Rig, case: &Case, tally: &mut Tally| {
        let (properties, leftovers) = site(rig);
        cr_case(rig, tally, case, &properties, leftovers);
    };
    let tally = run_matrix(cases(&phases, expected), WORKERS, || cr_rig(function), run, cr_output);
    tally.finish(function, "responses");
}

const PEER_ACCOUNT: &str = "222222222222";

/// Two VPCs in two accounts and regions, a route table on each side, DNS on; left behind: routes
/// in either table, a connection not deleted.
fn peering_site(rig: &Rig) -> (Value, Leftovers<'_>) {
    let ec2 = rig.aws.ec2("us-east-1");
    let peer_aws = rig.aws.as_account(PEER_ACCOUNT);
    let peer_ec2 = peer_aws.ec2("eu-west-1");
    let local = vpc(&rig.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&peer_aws, &peer_ec2, "10.2.0.0/16", &["10.3.0.0/16"], true);
    let (a, p) = (table(&rig.aws, &ec2, &local), table(&peer_aws, &peer_ec2, &peer));
    let properties = json!({
        "VpcId": local.id, "PeerVpcId": peer.id, "PeerOwnerId": PEER_ACCOUNT, "PeerRegion": "eu-west-1",
        "PeerRoleArn": format!("arn:aws:iam::{PEER_ACCOUNT}:role/peering"),
        "RouteTableIds": [a], "PeerRouteTableIds": [p], "AllowDnsResolution": "true",
    });
    let leftovers = move || {
        let (ec2, peer_aws) = (rig.aws.ec2("us-east-1"), rig.aws.as_account(PEER_ACCOUNT));
        let mut left: Vec<String> = routes(&rig.aws, &ec2, &a).into_iter().map(|r| format!("{a}: {r:?}")).collect();
        left.extend(routes(&peer_aws, &peer_aws.ec2("eu-west-1"), &p).into_iter().map(|r| format!("{p}: {r:?}")));
        let all =
            rig.aws.block_on(ec2.describe_vpc_peering_connections().send()).expect("DescribeVpcPeeringConnections");
        for c in all.vpc_peering_connections() {
            let status = c.status().and_then(|s| s.code()).map(|c| c.as_str().to_string()).unwrap_or_default();
            let ours = c.requester_vpc_info().and_then(|v| v.vpc_id()) == Some(local.id.as_str());
            if ours && !["deleted", "rejected", "failed", "expired"].contains(&status.as_str()) {
                left.push(format!("{} {status}", c.vpc_peering_connection_id().unwrap_or_default()));
            }
        }
        left
    };
    (properties, Box::new(leftovers))
}

#[test]
fn vpc_peering_answers_every_fault_once_in_time_and_leaves_nothing() {
    let expected = [
        "ec2:AcceptVpcPeeringConnection",
        "ec2:CreateRoute",
        "ec2:CreateVpcPeeringConnection",
        "ec2:DeleteRoute",
        "ec2:DeleteVpcPeeringConnection",
        "ec2:DescribeRouteTables",
        "ec2:DescribeVpcAttribute",
        "ec2:DescribeVpcPeeringConnections",
        "ec2:DescribeVpcs",
        "ec2:ModifyVpcPeeringConnectionOptions",
        "sts:AssumeRole",
    ];
    cr_matrix("vpc-peering", peering_site, &expected);
}

/// [`endpoint_site`]: a VPC with three interface endpoints, an S3 gateway and two task groups;
/// left behind: any rule carrying an owner tag.
fn access_site(rig: &Rig) -> (Value, Leftovers<'_>) {
    let site = endpoint_site(&rig.aws);
    let properties = json!({"VpcId": site.vpc.id, "TaskSecurityGroupIds": site.tasks});
    let groups: Vec<String> = site.endpoint_groups.iter().chain(&site.tasks).cloned().collect();
    let leftovers = move || {
        let ec2 = rig.aws.ec2("us-east-1");
        let owned = |g: &String| {
            let rules = group_rules(&rig.aws, &ec2, g).into_iter().filter(|r| r.owner.is_some());
            rules.map(|r| format!("{g}: {r:?}")).collect::<Vec<_>>()
        };
        groups.iter().flat_map(owned).collect()
    };
    (properties, Box::new(leftovers))
}

#[test]
fn endpoint_access_answers_every_fault_once_in_time_and_leaves_nothing() {
    let expected = [
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:DescribeManagedPrefixLists",
        "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeVpcs",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
    ];
    cr_matrix("endpoint-access", access_site, &expected);
}

// ---- Task alerts ---------------------------------------------------------------------------

/// Long enough for the extras' own 3 s limit plus a send; a slow answer (9 s) outlasts it.
const ALERTS_TIMEOUT: u32 = 8;
const ALERTS_SLOW: Duration = Duration::from_secs(9);

/// task-alerts with suppression and log lines, once per destination (a case fails one, and
/// counts what that one delivered), the webhook secret read on every invocation.
struct AlertsWorld {
    rig: AlertsRig,
    task_definition: String,
    sns: Lambda,
    webhook: Lambda,
}

fn alerts_world() -> AlertsWorld {
    let rig = AlertsRig::start();
    let secret = rig.webhook_secret("slack", "slack");
    let table = rig.suppression_table("ecs-plumbing-alerts");
    let task_definition = rig.task_definition("api", true);
    let common = [("SUPPRESSION_TABLE", table.as_str()), ("SECRET_TTL_SECONDS", "0")];
    let with = |extra: (&'static str, &str)| {
        let mut env = common.to_vec();
        env.push(extra);
        rig.lambda(ALERTS_TIMEOUT, &env)
    };
    let sns = with(("ALERT_TOPIC_ARN", rig.topic_arn.as_str()));
    let webhook = with(("WEBHOOK_SECRET_ARN", secret.as_str()));
    AlertsWorld { rig, task_definition, sns, webhook }
}

/// An out-of-memory stop of a task of its own (so no case is another's duplicate or storm), with
/// log lines in CloudWatch Logs.
fn alert_for(world: &AlertsWorld, name: &str) -> (Value, String) {
    let task_id = format!("{:032x}", fnv(name));
    world.rig.container_output("api", &task_id, &["starting".to_string(), "heap at 99%".to_string()]);
    let mut event = alert_event("stopped-out-of-memory");
    let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{task_id}");
    event["detail"]["taskArn"] = json!(arn);
    event["detail"]["group"] = json!(format!("service:{name}"));
    event["detail"]["taskDefinitionArn"] = json!(world.task_definition);
    event["resources"] = json!([arn]);
    (event, task_id)
}

fn fnv(text: &str) -> u128 {
    text.bytes()
        .fold(0x6c62272e07bb014262b821756295c58d, |h, b| (h ^ u128::from(b)).wrapping_mul(0x1000000000000000000013b))
}

/// How many times the alert about `task_id` reached the destination `lambda` sends to.
fn deliveries(world: &AlertsWorld, webhook: bool, task_id: &str) -> usize {
    if webhook {
        world.rig.posts("slack").iter().filter(|p| p.body.contains(task_id)).count()
    } else {
        world.rig.sns_messages().iter().filter(|m| m["Message"].as_str().unwrap_or_default().contains(task_id)).count()
    }
}

/// An alerts case: the event meets the fault. A failed delivery must end the invocation with an
/// error naming the action and code, which makes Lambda retry it (and, when every retry has failed,
/// hand it to the on-failure destination); the test plays the retry once the fault has cleared.
/// Either way the destination must get the alert exactly once.
fn alerts_case(world: &AlertsWorld, case: &Case, tally: &mut Tally) {
    let name = case.name();
    let (event, task_id) = alert_for(world, &name);
    let webhook = case.action == "secretsmanager:GetSecretValue";
    let lambda = if webhook { &world.webhook } else { &world.sns };
    let delivers = ["sns:Publish", "secretsmanager:GetSecretValue"].contains(&case.action.as_str());
    world.rig.proxy.reset();
    // A slow answer to a delivery is dropped, not forwarded: had AWS taken it after the function gave
    // up, the retry would rightly send it again (at least once), and the count would say nothing.
    let mut rule = case.fault.rule(&case.action, case.skip, ALERTS_SLOW);
    if case.fault == Fault::Slow && delivers {
        rule["reset"] = json!(true);
    }
    world.rig.proxy.add_rule(rule);
    let first = lambda.invoke_json(&event);
    tally.secrets += secrets_in(&first.body);
    if first.elapsed >= Duration::from_secs(ALERTS_TIMEOUT.into()) {
        tally.hangs += 1;
        tally.problems.push(format!("{name}: ran into the Lambda timeout ({:?})", first.elapsed));
    }
    let outcome: Value = serde_json::from_str(&first.body).unwrap_or_default();
    if !delivers || case.fault == Fault::ThrottleClears {
        tally.expect(outcome["status"] == "sent", || format!("{name}: expected sent despite the fault: {outcome}"));
    } else {
        let message = outcome["errorMessage"].as_str().unwrap_or_default();
        let code = case.fault.code(&case.action);
        let named = message.contains(&case.action) && message.contains(code);
        tally.expect(named, || format!("{name}: expected an error naming {} and {code}: {outcome}", case.action));
        settle(&world.rig.proxy);
        world.rig.proxy.reset();
        let retry = lambda.invoke_json(&event);
        tally.secrets += secrets_in(&retry.body);
        let retry: Value = serde_json::from_str(&retry.body).unwrap_or_default();
        tally.expect(retry["status"] == "sent", || format!("{name}: Lambda's retry: {retry}"));
    }
    settle(&world.rig.proxy);
    match deliveries(world, webhook, &task_id) {
        0 => {
            tally.missing += 1;
            tally.problems.push(format!("{name}: never delivered"));
        }
        n => {
            tally.responses += n;
            tally.duplicates += n - 1;
        }
    }
}

#[test]
fn task_alerts_deliver_every_alert_once_through_every_fault() {
    let phases = {
        let world = alerts_world();
        let mut phases = Vec::new();
        for (phase, lambda) in [("SNS", &world.sns), ("webhook", &world.webhook)] {
            world.rig.proxy.reset();
            let (event, _) = alert_for(&world, &format!("baseline-{phase}"));
            let sent: Value = serde_json::from_str(&lambda.invoke_json(&event).body).unwrap_or_default();
            assert_eq!(sent["status"], "sent", "{sent}");
            phases.push((phase, world.rig.proxy.calls()));
        }
        phases
    };
    let expected = [
        "dynamodb:UpdateItem",
        "ecs:DescribeTaskDefinition",
        "logs:GetLogEvents",
        "secretsmanager:GetSecretValue",
        "sns:Publish",
    ];
    let tally = run_matrix(cases(&phases, &expected), 2, alerts_world, alerts_case, |w| {
        let bodies: Vec<String> = w.rig.sns_inbox.received().into_iter().map(|r| r.body).collect();
        format!("{}\n{}\n{}", w.sns.logs(), w.webhook.logs(), bodies.join("\n"))
    });
    tally.finish("task-alerts", "alerts");
}

// ---- Lifecycle draining --------------------------------------------------------------------

/// Runs of 7 s: room for the SDK's own retries (about 3 s) before the run's 1 s guard; a drain
/// that waits hands over after its first poll (5 s are kept for that); a slow answer (8 s)
/// outlasts a run.
const DRAIN_TIMEOUT: u32 = 7;
const DRAIN_SLOW: Duration = Duration::from_secs(8);

struct DrainWorld {
    rig: DrainRig,
    lambda: Lambda,
}

/// No cluster named (the drain searches), standalone tasks stopped at once.
fn drain_world() -> DrainWorld {
    let rig = DrainRig::start();
    let lambda = rig.lambda(DRAIN_TIMEOUT, &[("STANDALONE_TASKS", "stop"), ("STANDALONE_GRACE_SECONDS", "0")]);
    DrainWorld { rig, lambda }
}

/// The drain's two scenarios, on a fresh instance whose lifecycle event has no cluster in its
/// metadata:
/// - "quick": a standalone task only; the drain stops it and completes in one run;
/// - "hand-over": also a service task; the first run hands over, the test plays ECS and stops the
///   service task, and the run from the queue completes.
///
/// `rule` is injected at the start. A run that fails is run again after the fault cleared, as Lambda's retry of the event or the
/// queue's redelivery would. Returns each run's answer and the action's token.
fn drain_scenario(world: &DrainWorld, name: &str, phase: &str, rule: Option<Value>) -> (Vec<Value>, String) {
    let rig = &world.rig;
    let instance = rig.instance(true);
    rig.tasks(&instance, "family:batch", 1);
    let service = if phase == "hand-over" { rig.tasks(&instance, "service:api", 1) } else { Vec::new() };
    let hex = format!("{:032x}", fnv(name));
    let token = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    let mut event = rig.lifecycle_event(&instance, HOOK, &token);
    event["detail"].as_object_mut().map(|d| d.remove("NotificationMetadata"));
    rig.proxy.reset();
    if let Some(rule) = rule {
        rig.proxy.add_rule(rule);
    }
    let mut answers = vec![outcome_of(&world.lambda.invoke_json(&event))];
    if answers[0].get("errorType").is_some() {
        settle(&rig.proxy);
        rig.proxy.reset();
        answers.push(outcome_of(&world.lambda.invoke_json(&event)));
    }
    if answers.last().is_some_and(|a| a["status"] == "handed-over") {
        // A run that AWS kept throttling hands the drain over: the fault then clears, as after a
        // failed run.
        if answers.last().is_some_and(stalled) {
            settle(&rig.proxy);
            rig.proxy.reset();
        }
        rig.stop(&service);
        for _ in 0..3 {
            let Some(answer) = pump(world) else { break };
            let again = stalled(&answer);
            answers.push(answer);
            if !again {
                break;
            }
            settle(&rig.proxy);
            rig.proxy.reset();
        }
    }
    settle(&rig.proxy);
    (answers, token)
}

/// A run that did not get on with the drain: it failed, or AWS kept throttling it and it handed
/// the drain over saying so.
fn stalled(answer: &Value) -> bool {
    answer.get("errorType").is_some() || (answer["status"] == "handed-over" && answer.get("reason").is_some())
}

fn outcome_of(invocation: &testbed::Invocation) -> Value {
    serde_json::from_str(&invocation.body).unwrap_or_else(|_| json!({"errorType": "NotJson", "body": invocation.body}))
}

/// Play the SQS event source mapping once: a message in, the function on it; deleted on success,
/// else visible again at once (as after its visibility timeout).
fn pump(world: &DrainWorld) -> Option<Value> {
    let (rig, sqs) = (&world.rig, world.rig.aws.sqs());
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        let receive = sqs.receive_message().queue_url(&rig.queue_url).max_number_of_messages(1).wait_time_seconds(1);
        let out = rig.aws.block_on(receive.send()).expect("ReceiveMessage");
        let Some(message) = out.messages().first() else { continue };
        let event = json!({"Records": [{
            "messageId": message.message_id(), "receiptHandle": message.receipt_handle(), "body": message.body(),
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": message.md5_of_body(),
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:drain-continuation",
            "awsRegion": "us-east-1",
        }]});
        let answer = outcome_of(&world.lambda.invoke_json(&event));
        let handle = message.receipt_handle().unwrap_or_default();
        if answer.get("errorType").is_none() {
            let delete = sqs.delete_message().queue_url(&rig.queue_url).receipt_handle(handle);
            rig.aws.block_on(delete.send()).expect("DeleteMessage");
        } else {
            let again =
                sqs.change_message_visibility().queue_url(&rig.queue_url).receipt_handle(handle).visibility_timeout(0);
            rig.aws.block_on(again.send()).expect("ChangeMessageVisibility");
        }
        return Some(answer);
    }
    None
}

/// Successful CompleteLifecycleAction calls for `token`.
fn completions(rig: &DrainRig, token: &str) -> usize {
    let calls = rig.lifecycle_calls();
    let done = |c: &&Value| {
        c["Action"] == "CompleteLifecycleAction" && c["Outcome"] == "ok" && c["LifecycleActionToken"] == token
    };
    calls.iter().filter(done).count()
}

/// A drain case: the drain completes exactly once, or says why it cannot (a missing permission:
/// the hook's DefaultResult decides); a run that fails (or, throttled, hands over) names the
/// action and the code.
fn drain_case(world: &DrainWorld, case: &Case, tally: &mut Tally) {
    let name = case.name();
    let rule = case.fault.rule(&case.action, case.skip, DRAIN_SLOW);
    let runs_before = world.lambda.durations_ms().len();
    let (answers, token) = drain_scenario(world, &name, case.phase, Some(rule));
    world.lambda.settled(runs_before + answers.len());
    let timed_out =
        world.lambda.durations_ms().iter().skip(runs_before).any(|ms| *ms >= f64::from(DRAIN_TIMEOUT) * 1000.0);
    if timed_out {
        tally.hangs += 1;
        tally.problems.push(format!("{name}: a run reached the Lambda timeout"));
    }
    let code = case.fault.code(&case.action);
    let says = |a: &Value| {
        let text = a.to_string();
        text.contains(&case.action) && text.contains(code)
    };
    let done = completions(&world.rig, &token);
    match case.fault {
        Fault::ThrottleClears => {}
        Fault::Denied => {
            let why = answers.iter().find(|a| a["status"] == "failed");
            let named = why.is_some_and(|a| says(a) && a.to_string().contains("allow"));
            tally.expect(named, || format!("{name}: expected a reason naming {} and {code}: {answers:?}", case.action));
        }
        // A throttle that outlasts a run's retries hands the drain over, naming it (a failed
        // run for the hand-over's own SendMessage).
        _ => {
            let failed = answers.iter().find(|a| stalled(a));
            tally.expect(failed.is_some_and(says), || {
                format!("{name}: expected a failed or handed-over run naming {} and {code}: {answers:?}", case.action)
            });
        }
    }
    let last = answers.last().and_then(|a| a["status"].as_str()).unwrap_or_default();
    match done {
        // A missing permission ends the drain without completing it, as it says.
        0 if case.fault == Fault::Denied && last == "failed" => {}
        0 => {
            tally.missing += 1;
            tally.problems.push(format!("{name}: never completed: {answers:?}"));
        }
        n => {
            tally.responses += n;
            tally.duplicates += n - 1;
            let finished = ["completed", "already-completed"].contains(&last);
            tally.expect(finished, || format!("{name}: completed, but the last run said: {answers:?}"));
        }
    }
}

#[test]
fn lifecycle_drain_completes_once_or_says_why_through_every_fault() {
    let phases = {
        let world = drain_world();
        ["quick", "hand-over"].map(|phase| {
            let (answers, token) = drain_scenario(&world, &format!("baseline-{phase}"), phase, None);
            let calls = world.rig.proxy.calls();
            assert_eq!(completions(&world.rig, &token), 1, "{phase}: {answers:?}");
            assert_eq!(answers.len(), if phase == "quick" { 1 } else { 2 }, "{phase}: {answers:?}");
            (phase, calls)
        })
    };
    let expected = [
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat",
        "ecs:DescribeContainerInstances",
        "ecs:DescribeServices",
        "ecs:DescribeTasks",
        "ecs:ListClusters",
        "ecs:ListContainerInstances",
        "ecs:ListTasks",
        "ecs:StopTask",
        "ecs:UpdateContainerInstancesState",
        "sqs:SendMessage",
    ];
    let tally = run_matrix(cases(&phases, &expected), 3, drain_world, drain_case, |w| w.lambda.logs());
    tally.finish("lifecycle-drain", "completions");
}
