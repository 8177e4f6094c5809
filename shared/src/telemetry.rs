//! Logging: JSON lines in Lambda (CloudWatch Logs Insights reads the fields), plain text when
//! `LOG_FORMAT=plain` (local runs and tests). Level from `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`.

use tracing_subscriber::EnvFilter;

/// The SDK's own info lines (credential and endpoint resolution) are noise in every invocation.
/// The runtime's panic layer logs every handler error a second time, in Debug form, after the
/// function's own one line (a panic still prints through the panic hook).
const DEFAULT_FILTER: &str =
    "info,aws_config=warn,aws_smithy_runtime=warn,aws_runtime=warn,lambda_runtime::layers::panic=off";

pub fn init() {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    // try_init: a second call (tests, a function that calls it twice) is harmless.
    let _ = if std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("plain")) {
        builder.with_ansi(false).try_init()
    } else {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    };
}
