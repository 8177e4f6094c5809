//! AWS SDK configuration and the one shape every crate gives a failed AWS call.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The SDK's standard chain: region, credentials, and endpoints from `AWS_ENDPOINT_URL` /
/// `AWS_ENDPOINT_URL_<SERVICE>`, so the same binary runs against AWS and the local emulator.
pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// A failed AWS call: which action, AWS's error code, and its message. Crates wrap it in their
/// own error enums and decide on the hint; the code stays matchable until the edge.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{action} failed with {code}: {message}")]
pub struct AwsFailure {
    /// `service:Action`, as IAM spells it, so the reason maps to the permission.
    pub action: &'static str,
    pub code: String,
    pub message: String,
}

impl AwsFailure {
    pub fn from_sdk<E, R>(action: &'static str, err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (code, message) = match err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                (e.code().unwrap_or("UnknownError").to_string(), e.message().unwrap_or("no message").to_string())
            }
            SdkError::TimeoutError(_) => ("Timeout".into(), "the call timed out".into()),
            SdkError::DispatchFailure(_) => ("ConnectionError".into(), DisplayErrorContext(err).to_string()),
            SdkError::ResponseError(_) => ("InvalidResponse".into(), DisplayErrorContext(err).to_string()),
            _ => ("RequestNotSent".into(), DisplayErrorContext(err).to_string()),
        };
        Self { action, code, message }
    }

    /// For `map_err`: `client.call().send().await.map_err(AwsFailure::of("ec2:CreateRoute"))`.
    pub fn of<E, R>(action: &'static str) -> impl FnOnce(SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        move |e| Self::from_sdk(action, &e)
    }

    /// Worth another try: throttling, AWS's own 5xx codes, and calls that got no usable answer.
    pub fn is_transient(&self) -> bool {
        const TRANSIENT: &[&str] = &[
            "RequestLimitExceeded",
            "TooManyRequestsException",
            "InternalError",
            "InternalFailure",
            "InternalServerError",
            "ServiceUnavailable",
            "Unavailable",
            "Timeout",
            "ConnectionError",
            "InvalidResponse",
        ];
        self.code.contains("Throttl") || TRANSIENT.iter().any(|code| self.code_is(code))
    }

    /// AWS and moto spell some codes differently (`…ID.NotFound` vs `…Id.NotFound`).
    pub fn code_is(&self, code: &str) -> bool {
        self.code.eq_ignore_ascii_case(code)
    }
}

/// Whether `id` has the shape of an AWS resource id: `prefix` then at least 8 hex digits
/// (`vpc-0a1b2c3d`, `sg-0123456789abcdef0`). A shape check only: it says nothing of existence.
pub fn is_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| rest.len() >= 8 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}
