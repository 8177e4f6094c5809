//! A built function run by the Lambda Runtime Interface Emulator (from aws-sam-cli), as
//! `sam local invoke` runs it but on the host. One invoke at a time: a second concurrent
//! invoke crashes the emulator, so `invoke` takes a lock.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::paths::rie;
use crate::process::{Process, free_port};
use crate::servers::agent;

pub struct Lambda {
    process: Mutex<Process>,
    invoke_port: u16,
    timeout: Duration,
}

/// What the emulator answered.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub status: u16,
    pub body: String,
    /// When the invoke was sent, in seconds since the epoch (compare with `Received::time`).
    pub sent_at: f64,
    pub elapsed: Duration,
}

impl Invocation {
    /// The handler returned an error (`{"errorType", "errorMessage"}`).
    pub fn is_error(&self) -> bool {
        serde_json::from_str::<serde_json::Value>(&self.body).is_ok_and(|v| v.get("errorType").is_some())
    }
}

/// The environment every function gets in tests; callers add theirs (e.g. `AWS_ENDPOINT_URL`).
const BASE_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
    ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/22/[$LATEST]0123456789abcdef0123456789abcdef"),
    ("LOG_FORMAT", "plain"),
    ("RUST_BACKTRACE", "0"),
    // Half the 2 MiB that tokio's workers get on Lambda: a debug build whose futures grow near
    // that (an SDK call's future held across a join) overflows here first, not in production.
    ("RUST_MIN_STACK", "1048576"),
    // CloudFormation answers go to the receiver on 127.0.0.1; the functions refuse any response
    // URL but AWS's S3 hosts unless this test-only setting allows loopback.
    ("TEST_ONLY_LOOPBACK_RESPONSE_URL", "1"),
];

impl Lambda {
    /// Start the emulator for `bootstrap` with a function timeout of `timeout_secs`.
    pub fn start(name: &str, bootstrap: &Path, timeout_secs: u32, env: &[(&str, &str)]) -> Self {
        // A port taken between `free_port` and the emulator's bind: up to three tries on new ports.
        for _ in 0..3 {
            let (invoke_port, api_port) = (free_port(), free_port());
            let mut command = Command::new(rie());
            // Only what we set reaches the function: no host AWS profile or credentials.
            command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
            command.envs(BASE_ENV.iter().copied());
            command.env("AWS_LAMBDA_FUNCTION_NAME", name).env("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout_secs.to_string());
            command.envs(env.iter().copied());
            command
                .arg("--log-level")
                .arg("info")
                .arg("--runtime-interface-emulator-address")
                .arg(format!("127.0.0.1:{invoke_port}"))
                .arg("--runtime-api-address")
                .arg(format!("127.0.0.1:{api_port}"))
                .arg(bootstrap);
            let mut process = Process::spawn(name, command);
            if process.wait_for_port_unless_taken(invoke_port, Duration::from_secs(20)) {
                return Self {
                    process: Mutex::new(process),
                    invoke_port,
                    timeout: Duration::from_secs(timeout_secs.into()),
                };
            }
        }
        panic!("{name}: the emulator found its ports taken three times");
    }

    pub fn invoke(&self, payload: &[u8]) -> Invocation {
        let _one_at_a_time = self.process.lock().unwrap_or_else(|p| p.into_inner());
        let url = format!("http://127.0.0.1:{}/2015-03-31/functions/function/invocations", self.invoke_port);
        let sent_at = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs_f64();
        let started = Instant::now();
        let mut response = agent(self.timeout + Duration::from_secs(15))
            .post(&url)
            .send(payload)
            .unwrap_or_else(|e| panic!("invoke failed: {e}"));
        let body = response.body_mut().read_to_string().unwrap_or_default();
        Invocation { status: response.status().as_u16(), body, sent_at, elapsed: started.elapsed() }
    }

    pub fn invoke_json(&self, payload: &serde_json::Value) -> Invocation {
        self.invoke(payload.to_string().as_bytes())
    }

    /// Everything the emulator and the function printed so far.
    pub fn logs(&self) -> String {
        self.process.lock().unwrap_or_else(|p| p.into_inner()).output()
    }

    /// The lines the function itself logged so far (not the emulator's: `(rapid)`, START, END, REPORT;
    /// nor its metrics, see [`metric_lines`](Self::metric_lines)).
    /// Call after [`settled`](Self::settled) to be sure an invocation's lines are all in.
    pub fn function_lines(&self) -> Vec<String> {
        let emulator = |l: &str| {
            let request = ["START RequestId:", "END RequestId:", "REPORT RequestId:"].iter().any(|p| l.starts_with(p));
            request || l.contains("] (rapid) ") || l.is_empty()
        };
        let logs = self.logs();
        logs.lines().map(str::trim).filter(|l| !emulator(l) && !is_metric_line(l)).map(str::to_string).collect()
    }

    /// The embedded-metric-format lines the function printed so far (`shared::metrics`), as printed.
    pub fn metric_lines(&self) -> Vec<String> {
        self.logs().lines().map(str::trim).filter(|l| is_metric_line(l)).map(str::to_string).collect()
    }

    /// The PID of the function's process (the bootstrap, a child of the emulator), once the
    /// first invoke has started it.
    pub fn bootstrap_pid(&self) -> Option<u32> {
        let emulator = self.process.lock().unwrap_or_else(|p| p.into_inner()).pid();
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid …`: comm may hold spaces, so read after its closing parenthesis.
            let ppid: u32 = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == emulator).then_some(pid)
        })
    }

    /// The function process's peak resident memory so far (`VmHWM`, KiB): what Lambda bills as
    /// memory used (the emulator's own REPORT figure is fake).
    pub fn peak_memory_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.bootstrap_pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The init phase's duration, from the emulator's `INIT REPORT(durationMs: …)` (info level).
    pub fn init_ms(&self) -> Option<f64> {
        let logs = self.logs();
        let after = logs.split_once("INIT REPORT(durationMs: ")?.1;
        after.split(')').next()?.trim().parse().ok()
    }

    /// Each invocation's `Duration` from the emulator's REPORT lines, in order (ms).
    pub fn durations_ms(&self) -> Vec<f64> {
        self.logs()
            .lines()
            .filter(|l| l.starts_with("REPORT RequestId:"))
            .filter_map(|l| l.split('\t').find_map(|f| f.trim().strip_prefix("Duration: ")))
            .filter_map(|f| f.trim_end_matches(" ms").parse().ok())
            .collect()
    }

    /// Wait until the emulator has printed `invocations` REPORT lines: it prints one after each
    /// invocation, after the function's own lines.
    pub fn settled(&self, invocations: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.logs().matches("REPORT RequestId:").count() < invocations && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A line that is an embedded-metric-format document: a JSON object with an `_aws` member.
fn is_metric_line(line: &str) -> bool {
    line.starts_with('{')
        && serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v.get("_aws").is_some_and(|m| m.is_object()))
}

/// What a handler returned, as JSON: its result, or its `{"errorType", "errorMessage"}`.
pub fn outcome(invocation: &Invocation) -> serde_json::Value {
    assert_eq!(invocation.status, 200, "{invocation:?}");
    serde_json::from_str(&invocation.body).unwrap_or_else(|e| panic!("not JSON ({e}): {invocation:?}"))
}
