use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use lifecycle_drain::{Config, Drainer};
use serde_json::Value;
use shared::eventbridge::Configured;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let sdk = shared::aws::sdk_config(shared::http::sdk_client()).await;
    // A bad configuration does not crash the cold start: every invocation fails with its reason.
    let drainer = Arc::new(Configured::new(Config::from_env().map(|config| Drainer::new(config, &sdk))));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let drainer = drainer.clone();
        async move { lifecycle_drain::handle(&drainer, event).await }
    }))
    .await
}
