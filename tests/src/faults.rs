//! The fault matrix (#10): every AWS action each function calls, failed in each way AWS fails
//! (throttling that clears, throttling that persists, a 500, access denied, a reset connection, an
//! answer slower than the time left), injected by the proxy between the built function in the
//! Lambda emulator and moto.
//!
//! Each function's actions come from a fault-free run of its scenario and must equal the list
//! here, so a call added later is failed too. Each matrix prints one summary line; its hangs,
//! duplicate or missing answers, and secrets seen in output must all be zero.
//!
//! This module is what every function's matrix shares: the faults and the proxy rules that
//! inject them, the cases, running them on several worlds at once, and the summary line. The
//! scenarios are in `tests/tests/faults*.rs`: the custom resources' in `faults.rs`,
//! task-alerts' in `faults_alerts.rs`, lifecycle-drain's in `faults_drain.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::alerts::WEBHOOK_TOKEN;
use crate::{Calls, Proxy, SIGNATURE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    ThrottleClears,
    ThrottlePersists,
    ServerError,
    Denied,
    Reset,
    Slow,
}

pub const FAULTS: [Fault; 6] =
    [Fault::ThrottleClears, Fault::ThrottlePersists, Fault::ServerError, Fault::Denied, Fault::Reset, Fault::Slow];

impl Fault {
    pub fn name(self) -> &'static str {
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
    pub fn rule(self, action: &str, skip: u64, slow: Duration) -> Value {
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
    pub fn code(self, action: &str) -> &'static str {
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
pub struct Case {
    pub action: String,
    pub phase: &'static str,
    pub skip: u64,
    pub fault: Fault,
}

impl Case {
    pub fn name(&self) -> String {
        format!("{}-{}-{}", self.action.replace(':', "-"), self.fault.name(), self.phase)
    }
}

/// What one function's matrix saw, for its summary line.
#[derive(Debug, Default)]
pub struct Tally {
    pub faults: usize,
    pub responses: usize,
    pub hangs: usize,
    pub duplicates: usize,
    pub missing: usize,
    pub secrets: usize,
    /// Expectations not met (status, reason, what was left behind), one line each.
    pub problems: Vec<String>,
}

impl Tally {
    pub fn expect(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.problems.push(problem());
        }
    }

    /// Count what one case sent: nothing is a missing answer (saying `why`), more than one a duplicate.
    pub fn delivered(&mut self, count: usize, why: impl FnOnce() -> String) {
        if count == 0 {
            self.missing += 1;
            self.problems.push(why());
        } else {
            self.responses += count;
            self.duplicates += count - 1;
        }
    }

    pub fn merge(&mut self, other: Tally) {
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
    pub fn finish(self, function: &str, answers: &str) {
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
pub fn cases(phases: &[(&'static str, Calls)], expected: &[&str]) -> Vec<Case> {
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
    // `FAULT_CASE=ec2-CreateRoute-slow cargo test -p testbed --test faults` reruns the matching cells
    // only (`--test faults_alerts`, `--test faults_drain` for the other matrices).
    if let Ok(only) = std::env::var("FAULT_CASE") {
        cases.retain(|c| c.name().contains(&only));
    }
    cases
}

/// Worlds per matrix: a case mostly waits (retries, slow answers), so more worlds than cores.
pub const WORKERS: usize = 6;

/// Run the cases on `workers` worlds at once (most of a case's time is waiting: retries, slow
/// answers), then count the secrets in each world's output.
pub fn run_matrix<W>(
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
pub fn secrets_in(text: &str) -> usize {
    text.lines().filter(|l| l.contains(SIGNATURE) || l.contains(WEBHOOK_TOKEN) || l.contains("T0SECRET")).count()
}

/// Wait until every call the proxy let through has its answer: a slow one lands in moto after
/// the function gave up on it, and what it made must be cleaned up too.
pub fn settle(proxy: &Proxy) {
    let until = Instant::now() + Duration::from_secs(20);
    while proxy.calls().calls.iter().any(|c| c.status.is_null()) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A number of a case's own from its name (FNV-1a, 128 bits): a task id, a lifecycle token.
pub fn fnv(text: &str) -> u128 {
    text.bytes()
        .fold(0x6c62272e07bb014262b821756295c58d, |h, b| (h ^ u128::from(b)).wrapping_mul(0x1000000000000000000013b))
}
