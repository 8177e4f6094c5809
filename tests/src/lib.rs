//! The testbed of the integration tests: real components on 127.0.0.1, started by the tests and
//! stopped by PID when dropped.
//!
//! - [`Moto`]: moto's server (with the lifecycle actions moto lacks) as the AWS endpoint.
//! - [`Proxy`]: counts AWS calls by action and injects faults, between the functions and moto.
//! - [`Receiver`]: records CloudFormation response PUTs and webhook POSTs.
//! - [`Lambda`]: the Lambda Runtime Interface Emulator running a built `bootstrap`.
//! - [`alerts::AlertsRig`]: all of that for task-alerts, with an SNS topic and chat webhooks.
//! - [`drain::DrainRig`]: all of that for lifecycle-drain, with an ECS container instance and its tasks.
//!
//! The Python venv (`.venv`, made by `make venv`) provides moto and the emulator.

pub mod alerts;
mod aws;
pub mod drain;
pub mod ec2;
mod lambda;
mod paths;
mod process;
pub mod rig;
mod servers;

pub use aws::Aws;
pub use lambda::{Invocation, Lambda, outcome};
pub use paths::{binary, lambda_artifact, repo_root, target_dir, venv};
pub use process::{Process, free_port};
pub use rig::{Rig, cfn_event};
pub use servers::{Call, Calls, Moto, Proxy, Received, Receiver, agent};

use serde_json::Value;

/// A CloudFormation request from `tests/fixtures/cloudformation/<kind>.json`, answered at
/// `response_url`, with `properties` merged over the fixture's (`null` removes one).
pub fn cfn_request(kind: &str, response_url: &str, properties: Value) -> Value {
    let mut request = load_event(&format!("tests/fixtures/cloudformation/{kind}.json"), response_url);
    let props = request["ResourceProperties"].as_object_mut().expect("fixture has ResourceProperties");
    for (k, v) in properties.as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            props.remove(&k);
        } else {
            props.insert(k, v);
        }
    }
    request
}

/// A request file from the repo (e.g. `events/vpc-peering/create.same-account.json`), to be
/// answered at `response_url`.
pub fn load_event(relative_path: &str, response_url: &str) -> Value {
    let path = repo_root().join(relative_path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut request: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    request["ResponseURL"] = Value::String(response_url.to_string());
    request
}

/// A presigned-looking response URL on the receiver, unique per call so tests can tell
/// responses apart. Its signature is what the no-URL-in-logs checks look for.
pub fn response_url(receiver: &Receiver, name: &str) -> String {
    receiver.url(&format!(
        "/cloudformation-custom-resource-response/{name}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=7200&X-Amz-Signature={SIGNATURE}"
    ))
}

/// The signature in [`response_url`]s: never to be seen in a log.
pub const SIGNATURE: &str = "5ec7e7516a7a7e0000feedfacecafebeef0123456789abcdef0123456789abcd";
