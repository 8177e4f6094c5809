//! What every ecs-plumbing function shares, and nothing else: the custom-resource protocol
//! (no business rules), the EventBridge envelope, configuration and telemetry setup from the
//! environment, AWS SDK configuration, pacing calls to AWS's request rate limits, retrying
//! until the Lambda deadline, and metrics as embedded metric format lines.

// Code that ships never unwraps input or AWS data: a panic would fail a stack or drop an alert.
#![warn(clippy::unwrap_used)]

pub mod aws;
pub mod custom_resource;
pub mod env;
pub mod eventbridge;
pub mod http;
pub mod metrics;
pub mod pace;
pub mod retry;
pub mod telemetry;
pub mod text;

/// The error and its sources, each once (thiserror messages often already embed their source).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        source = s.source();
    }
    text
}
