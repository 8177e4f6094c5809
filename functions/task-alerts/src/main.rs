use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use shared::eventbridge::Configured;
use task_alerts::{Alerter, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let http = shared::http::Http::new();
    let sdk = shared::aws::sdk_config(http.sdk()).await;
    // A bad configuration does not crash the cold start: every invocation fails with its reason.
    let alerter = Arc::new(Configured::new(Config::from_env().map(|config| Alerter::new(config, &sdk, http.clone()))));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let alerter = alerter.clone();
        async move { task_alerts::handle(&alerter, event).await }
    }))
    .await
}
