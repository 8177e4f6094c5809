//! The bare reference the benchmark compares every function with: `lambda_runtime` and nothing
//! else (no telemetry, no SDK), built with the workspace's release profile.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<Value, Error>(event.payload) })).await
}
