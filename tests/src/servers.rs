//! The Python servers the tests talk to: moto (via the launcher), the counting proxy, and the
//! receiver. Each is a [`Process`] on a free port, ready when it answers HTTP.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::paths::{repo_root, venv};
use crate::process::Process;

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP client that returns every status as a response, not an error.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::config::Config::builder().http_status_as_error(false).timeout_global(Some(timeout)).build(),
    )
}

fn get_json<T: for<'de> Deserialize<'de>>(url: &str) -> T {
    let mut response = agent(Duration::from_secs(10)).get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    response.body_mut().read_json().unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

fn post_json(url: &str, body: &Value) {
    let response =
        agent(Duration::from_secs(10)).post(url).send_json(body).unwrap_or_else(|e| panic!("POST {url}: {e}"));
    assert!(response.status().is_success(), "POST {url}: HTTP {}", response.status());
}

/// Start a Python server from `tests/servers/` with the venv's Python on a port the OS picks
/// (it prints `LISTENING <port>`), then poll `health` until it answers.
fn start_script(name: &str, script: &str, args: &[String], health: &str) -> (Process, u16) {
    let mut command = Command::new(venv().join("bin/python"));
    command.arg("-u").arg(repo_root().join("tests/servers").join(script)).args(args).arg("--port").arg("0");
    let mut process = Process::spawn(name, command);
    let port: u16 = process
        .wait_for_line("LISTENING ", START_TIMEOUT)
        .parse()
        .unwrap_or_else(|e| panic!("{name} printed a bad port: {e}"));
    let url = format!("http://127.0.0.1:{port}{health}");
    let probe = agent(Duration::from_secs(2));
    process.wait_until(&format!("answering {health}"), START_TIMEOUT, || probe.get(&url).call().is_ok());
    (process, port)
}

/// moto's server with the project's additions (see `tests/servers/moto_launcher.py`).
pub struct Moto {
    pub process: Process,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Self {
        let (process, port) =
            start_script("moto", "moto_launcher.py", &["-H".into(), "127.0.0.1".into()], "/moto-api/data.json");
        Self { process, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Seed an active lifecycle action (Auto Scaling's part when an instance starts terminating).
    pub fn seed_lifecycle_action(&self, group: &str, hook: &str, instance_id: &str, token: &str) {
        post_json(
            &format!("{}/moto-api/lifecycle/actions", self.url()),
            &serde_json::json!({
                "AutoScalingGroupName": group, "LifecycleHookName": hook,
                "InstanceId": instance_id, "LifecycleActionToken": token,
            }),
        );
    }

    /// `{"active": [...], "calls": [...]}` of lifecycle actions.
    pub fn lifecycle_actions(&self) -> Value {
        get_json(&format!("{}/moto-api/lifecycle/actions", self.url()))
    }

    /// What SNS would have sent the topic's email, email-json and SMS subscriptions, which moto never
    /// sends: `[{"Protocol", "Endpoint", "TopicArn", "MessageId", "Subject", "Message"}, …]`, oldest first.
    pub fn sns_unsent(&self) -> Vec<Value> {
        let unsent: Value = get_json(&format!("{}/moto-api/sns/unsent", self.url()));
        unsent["unsent"].as_array().cloned().unwrap_or_default()
    }

    /// Set `service`'s deployments (in `cluster`, account 123456789012, us-east-1) as ECS lists them
    /// mid-rollback; moto keeps one deployment per service.
    pub fn set_service_deployments(&self, cluster: &str, service: &str, deployments: Value) {
        let body = serde_json::json!({"cluster": cluster, "service": service, "deployments": deployments});
        post_json(&format!("{}/moto-api/ecs/service-deployments", self.url()), &body);
    }

    /// Set `service`'s event messages (in `cluster`, account 123456789012, us-east-1), which moto
    /// never writes: `[{"id", "createdAt" (epoch seconds), "message"}, …]`.
    pub fn set_service_events(&self, cluster: &str, service: &str, events: Value) {
        let body = serde_json::json!({"cluster": cluster, "service": service, "events": events});
        post_json(&format!("{}/moto-api/ecs/service-events", self.url()), &body);
    }

    /// Put a container instance where real ECS can and moto never does: `status` (`REGISTERING`)
    /// and/or `agentConnected` (false: StopTask there no longer reaches `lastStatus` STOPPED).
    pub fn set_container_instance(&self, arn: &str, status: Option<&str>, agent_connected: Option<bool>) {
        let mut body = serde_json::json!({"containerInstanceArn": arn});
        if let Some(status) = status {
            body["status"] = status.into();
        }
        if let Some(connected) = agent_connected {
            body["agentConnected"] = connected.into();
        }
        post_json(&format!("{}/moto-api/ecs/container-instance", self.url()), &body);
    }
}

/// One AWS call seen by the proxy.
#[derive(Debug, Clone, Deserialize)]
pub struct Call {
    pub action: String,
    pub injected: bool,
    #[serde(default)]
    pub status: Value,
    /// The code the rate model answered with (`RequestLimitExceeded`), if it throttled the call.
    #[serde(default)]
    pub rate: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Calls {
    pub counts: BTreeMap<String, u64>,
    pub calls: Vec<Call>,
    /// Calls the rate model throttled, by action (see [`Proxy::rates`]).
    #[serde(default)]
    pub throttled: BTreeMap<String, u64>,
}

impl Calls {
    pub fn count(&self, action: &str) -> u64 {
        self.counts.get(action).copied().unwrap_or(0)
    }

    /// How many `action` calls the rate model answered as throttled.
    pub fn throttled(&self, action: &str) -> u64 {
        self.throttled.get(action).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// The request-counting, fault-injecting proxy in front of moto.
pub struct Proxy {
    pub process: Process,
    pub port: u16,
}

/// Where proxies started with [`Proxy::start_for`] record the IAM facts of each AWS call, one file
/// per proxy (`<function>-<pid>.jsonl`); `make test` clears it first and checks it last against
/// template.yaml (`tests/checks/check_iam.py`).
const IAM_CALLS_DIR: &str = "target/iam-calls";

impl Proxy {
    /// A proxy that records nothing for the IAM check (proxy tests, cr-probe, the demo, the bench).
    pub fn start(upstream: &str) -> Self {
        Self::launch(upstream, &[])
    }

    /// A proxy in front of `function`'s calls only (the name its template resource builds:
    /// `vpc-peering` …), recording what IAM would be asked for each under `target/iam-calls/`.
    pub fn start_for(upstream: &str, function: &str) -> Self {
        let dir = repo_root().join(IAM_CALLS_DIR).display().to_string();
        Self::launch(upstream, &["--record".into(), dir, "--function".into(), function.into()])
    }

    fn launch(upstream: &str, extra: &[String]) -> Self {
        let mut args = vec!["--upstream".to_string(), upstream.to_string()];
        args.extend_from_slice(extra);
        let (process, port) = start_script("proxy", "proxy.py", &args, "/__proxy/health");
        Self { process, port }
    }

    /// What the functions get as `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn calls(&self) -> Calls {
        get_json(&format!("{}/__proxy/calls", self.url()))
    }

    /// Add a fault rule (see `tests/servers/proxy.py`).
    pub fn add_rule(&self, rule: Value) {
        post_json(&format!("{}/__proxy/rules", self.url()), &rule);
    }

    pub fn reset(&self) {
        post_json(&format!("{}/__proxy/reset", self.url()), &Value::Null);
    }

    /// Turn on rules of AWS behaviour that moto lacks (see `tests/servers/realism.py`), e.g.
    /// `{"new_pcx_not_found": 3, "accepter_lag": 3}`. `reset` turns them off.
    pub fn realism(&self, rules: Value) {
        post_json(&format!("{}/__proxy/realism", self.url()), &rules);
    }

    /// Turn on AWS's request-rate token buckets, per account, Region and action (see
    /// `tests/servers/rates.py`), every bucket full: e.g. `{"scale": 10, "busy": {"ec2:CreateRoute":
    /// 4.5}, "buckets": {"ec2:CreateRoute": [50, 5]}}` (`{}`: the documented figures). `reset` turns
    /// them off.
    pub fn rates(&self, config: Value) {
        post_json(&format!("{}/__proxy/rates", self.url()), &config);
    }
}

/// One PUT or POST the receiver got.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// What the receiver answered.
    pub status: u16,
    /// Seconds since the epoch.
    pub time: f64,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// A header by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Stands in for CloudFormation's presigned response URL and for chat webhooks.
pub struct Receiver {
    pub process: Process,
    pub port: u16,
}

impl Receiver {
    pub fn start() -> Self {
        let (process, port) = start_script("receiver", "receiver.py", &[], "/__health");
        Self { process, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        #[derive(Deserialize)]
        struct All {
            requests: Vec<Received>,
        }
        get_json::<All>(&self.url("/__received")).requests
    }

    /// What arrived at `path`.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path).collect()
    }

    /// Answer the next `count` requests with `status`.
    pub fn fail_next(&self, count: u32, status: u16) {
        post_json(&self.url("/__fail"), &serde_json::json!({"count": count, "status": status}));
    }

    /// Forget what arrived (and any failures still to come).
    pub fn reset(&self) {
        post_json(&self.url("/__reset"), &serde_json::json!({}));
    }
}
