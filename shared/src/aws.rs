//! AWS SDK configuration and the one shape every crate gives a failed AWS call.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The SDK's standard chain: region, credentials, and endpoints from `AWS_ENDPOINT_URL` /
/// `AWS_ENDPOINT_URL_<SERVICE>`, so the same binary runs against AWS and the local emulator;
/// its HTTP client is the process's one ([`crate::http::Http::sdk`] or [`crate::http::sdk_client`]).
pub async fn sdk_config(http: SharedHttpClient) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http).load().await
}

/// The configuration of a unit test's clients: Region us-east-1, made-up credentials, no retries
/// (what a test scripts is the answer), and `http` to answer in AWS's place (`aws_smithy_mocks`'
/// `create_mock_http_client()`, its rules on each client's config). No call leaves the process.
pub async fn test_config(http: SharedHttpClient) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .test_credentials()
        .retry_config(RetryConfig::disabled())
        .http_client(http)
        .load()
        .await
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
        let failure = Self { action, code, message };
        // Every failed call passes here once: the one place a throttled answer is counted.
        if failure.is_throttling() {
            crate::metrics::count_throttled(action);
        }
        failure
    }

    /// For `map_err`: `client.call().send().await.map_err(AwsFailure::of("ec2:CreateRoute"))`.
    pub fn of<E, R>(action: &'static str) -> impl FnOnce(SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        move |e| Self::from_sdk(action, &e)
    }

    /// The service's request-rate limit answered, in any service's words: EC2's
    /// `RequestLimitExceeded` ("Error codes for the Amazon EC2 API"); the common
    /// `ThrottlingException` ("Common Errors" of the ECS, DynamoDB, CloudWatch Logs and Secrets
    /// Manager API references), `Throttling` as the query services say it (Auto Scaling, STS);
    /// SQS's `RequestThrottled`, SNS's `Throttled`, KMS's `KMSThrottling` as SNS passes it on, and
    /// `TooManyRequestsException` (Lambda). Also DynamoDB's `ProvisionedThroughputExceededException`
    /// (the table's capacity, not the API's rate, but the DynamoDB API reference says to retry it
    /// with backoff, and the SDK's own retry counts it as throttling).
    pub fn is_throttling(&self) -> bool {
        const THROTTLING: &[&str] = &[
            "RequestLimitExceeded",
            "TooManyRequestsException",
            "RequestThrottled",
            "ProvisionedThroughputExceededException",
        ];
        self.code.contains("Throttl") || THROTTLING.iter().any(|code| self.code_is(code))
    }

    /// The caller may not do this, in any service's words, so the hint can name the permission:
    /// EC2's `UnauthorizedOperation` ("Error codes for the Amazon EC2 API"); the common
    /// `AccessDeniedException` ("Common Errors": ECS, DynamoDB, CloudWatch Logs, Secrets Manager),
    /// `AccessDenied` as the query services say it (STS, SQS, Auto Scaling); and SNS's
    /// `AuthorizationError` ("Publish" in the SNS API reference). Any code containing
    /// `AccessDenied` counts, so KMS's `KMSAccessDenied` as SNS passes it on does too: a caller
    /// that must tell the key from the call (task-alerts' publish) decides that first.
    pub fn is_access_denied(&self) -> bool {
        self.code.contains("AccessDenied")
            || self.code_is("UnauthorizedOperation")
            || self.code_is("AuthorizationError")
    }

    /// Worth another try: throttling, AWS's own 5xx codes, and calls that got no usable answer.
    pub fn is_transient(&self) -> bool {
        const TRANSIENT: &[&str] = &[
            "InternalError",
            "InternalFailure",
            "InternalServerError",
            "ServiceUnavailable",
            "Unavailable",
            "Timeout",
            "ConnectionError",
            "InvalidResponse",
        ];
        self.is_throttling() || TRANSIENT.iter().any(|code| self.code_is(code))
    }

    /// AWS and moto spell some codes differently (`…ID.NotFound` vs `…Id.NotFound`).
    pub fn code_is(&self, code: &str) -> bool {
        self.code.eq_ignore_ascii_case(code)
    }
}

/// Every item of a paginated read, all its pages (`client.describe_…().into_paginator().items()
/// .send()`): the first page that fails fails the read, named by `action`.
pub async fn every_item<T, E, R>(
    action: &'static str,
    items: PaginationStream<Result<T, SdkError<E, R>>>,
) -> Result<Vec<T>, AwsFailure>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    items.collect::<Result<Vec<T>, _>>().await.map_err(AwsFailure::of(action))
}

/// Keeps track of the AWS calls waiting for an answer, so that a deadline can name the one that
/// hung ([`unanswered_calls`]). Add it to every client whose calls a deadline may cut short:
/// `aws_sdk_ec2::config::Builder::from(&sdk).interceptor(CallsInFlight)`.
#[derive(Debug, Clone, Copy)]
pub struct CallsInFlight;

/// The calls started and not yet ended, by a number of their own.
static IN_FLIGHT: Mutex<BTreeMap<u64, (String, Instant)>> = Mutex::new(BTreeMap::new());
static NEXT_CALL: AtomicU64 = AtomicU64::new(0);

/// Lives in the call's config bag: dropped when the call ends, however it ends (answered, failed,
/// or its future dropped by a deadline), and takes the call off the list then.
#[derive(Debug)]
struct InFlight(u64);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut calls) = IN_FLIGHT.lock() {
            calls.remove(&self.0);
        }
    }
}

impl Storable for InFlight {
    type Storer = StoreReplace<Self>;
}

impl Intercept for CallsInFlight {
    fn name(&self) -> &'static str {
        "CallsInFlight"
    }

    // Not `read_before_execution`: the operation's name is not in the bag yet there.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let action = cfg.load::<Metadata>().map(|m| iam_action(m.service(), m.name()));
        let id = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut calls) = IN_FLIGHT.lock() {
            calls.insert(id, (action.unwrap_or_else(|| "an AWS call".into()), Instant::now()));
        }
        cfg.interceptor_state().store_put(InFlight(id));
        Ok(())
    }
}

/// The AWS calls waiting for an answer now, oldest first, with how long each has waited.
fn calls_in_flight() -> Vec<(String, Duration)> {
    let calls = IN_FLIGHT.lock().map(|c| c.values().cloned().collect::<Vec<_>>()).unwrap_or_default();
    calls.into_iter().map(|(action, since)| (action, since.elapsed())).collect()
}

/// For a reason: "no answer from ec2:CreateRoute after 3 s (Timeout)", or `None` when no call waits.
pub fn unanswered_calls() -> Option<String> {
    let calls = calls_in_flight();
    if calls.is_empty() {
        return None;
    }
    let named: Vec<String> =
        calls.iter().map(|(action, waited)| format!("{action} after {} s", waited.as_secs())).collect();
    Some(format!("no answer from {} (Timeout)", named.join(", ")))
}

/// The SDK's service name as IAM's action prefix: "Auto Scaling" -> "autoscaling", "CloudWatch Logs" -> "logs".
fn iam_action(service: &str, operation: &str) -> String {
    let prefix = service.to_ascii_lowercase().replace(' ', "");
    let prefix = if prefix == "cloudwatchlogs" { "logs".to_string() } else { prefix };
    format!("{prefix}:{operation}")
}

/// Whether `id` has the shape of an AWS resource id: `prefix` then at least 8 hex digits
/// (`vpc-0a1b2c3d`, `sg-0123456789abcdef0`). A shape check only: it says nothing of existence.
pub fn is_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| rest.len() >= 8 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: &str) -> AwsFailure {
        AwsFailure { action: "ec2:CreateRoute", code: code.into(), message: String::new() }
    }

    /// Each code as the services spell it: (code, throttling, access denied, transient).
    #[test]
    fn what_each_code_means() {
        let table = [
            ("RequestLimitExceeded", true, false, true),
            ("ThrottlingException", true, false, true),
            ("Throttling", true, false, true),
            ("RequestThrottled", true, false, true),
            ("Throttled", true, false, true),
            ("KMSThrottling", true, false, true),
            ("TooManyRequestsException", true, false, true),
            ("ProvisionedThroughputExceededException", true, false, true),
            ("UnauthorizedOperation", false, true, false),
            ("AccessDenied", false, true, false),
            ("AccessDeniedException", false, true, false),
            ("AuthorizationError", false, true, false),
            ("KMSAccessDenied", false, true, false),
            ("InternalError", false, false, true),
            ("ServiceUnavailable", false, false, true),
            ("Timeout", false, false, true),
            ("ConnectionError", false, false, true),
            ("InvalidVpcID.NotFound", false, false, false),
            ("RouteAlreadyExists", false, false, false),
            ("ConditionalCheckFailedException", false, false, false),
            ("ResourceNotFoundException", false, false, false),
            ("ValidationError", false, false, false),
        ];
        for (code, throttling, denied, transient) in table {
            let f = failure(code);
            assert_eq!(f.is_throttling(), throttling, "{code}: throttling");
            assert_eq!(f.is_access_denied(), denied, "{code}: access denied");
            assert_eq!(f.is_transient(), transient, "{code}: transient");
        }
    }

    #[test]
    fn codes_compare_without_case() {
        assert!(failure("InvalidVpcId.NotFound").code_is("InvalidVpcID.NotFound"));
        assert!(failure("unauthorizedoperation").is_access_denied());
        assert!(failure("requestlimitexceeded").is_throttling());
        assert!(!failure("InvalidVpcID.NotFound").code_is("InvalidVpcID.Malformed"));
    }
}
