//! What the functions that EventBridge invokes share: reading an event's envelope, and a bad
//! configuration that fails each invocation with its reason instead of the cold start.

use std::future::Future;

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::{Instrument, error, info_span};

use crate::env::ConfigError;

/// Why an event's `detail` is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unread {
    /// Another source or type: the rule matches more than this function acts on. Says which.
    Ignore(String),
    /// The expected source and type, but no `detail` object: something is wrong with the event.
    Reject(String),
}

/// The event's `detail` when its `source` and `detail-type` are the ones expected; else why not.
/// Anything that is not an event at all (no such fields) is ignored as another type.
pub fn detail<'a>(event: &'a Value, source: &str, detail_type: &str) -> Result<&'a Value, Unread> {
    if (field(event, "source"), field(event, "detail-type")) != (source, detail_type) {
        return Err(Unread::Ignore(format!(
            "not an {detail_type} event from {source} (source {:?}, detail-type {:?})",
            field(event, "source"),
            field(event, "detail-type")
        )));
    }
    event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(|| Unread::Reject("the event has no `detail` object".into()))
}

/// A text field of the envelope (`account`, `region`, …); missing or not text: empty.
pub fn field<'a>(event: &'a Value, name: &str) -> &'a str {
    event.get(name).and_then(Value::as_str).unwrap_or("")
}

/// What a function built at cold start from its configuration, or why it could not. A bad
/// configuration does not crash the cold start (Lambda would only report that the runtime
/// exited): every invocation fails with the reason, naming the variable.
pub struct Configured<T>(Result<T, ConfigError>);

impl<T> Configured<T> {
    pub fn new(built: Result<T, ConfigError>) -> Self {
        Configured(built)
    }

    /// One invocation, in a span that names the request: `handle` it with what was built, or fail
    /// with the configuration's reason, logged once. Then the calls AWS throttled in it, as
    /// metrics ([`crate::metrics::flush_throttled`]).
    pub async fn handle<'a, P, O, E, F>(
        &'a self,
        event: LambdaEvent<P>,
        handle: impl FnOnce(&'a T, LambdaEvent<P>) -> F,
    ) -> Result<O, E>
    where
        F: Future<Output = Result<O, E>>,
        E: From<ConfigError>,
    {
        let span = info_span!("event", request_id = %event.context.request_id);
        match &self.0 {
            // Boxed: a handler's SDK futures nest deep enough to overflow the compiler's layout
            // recursion once wrapped here.
            Ok(built) => {
                let result = Box::pin(handle(built, event)).instrument(span).await;
                crate::metrics::flush_throttled();
                result
            }
            Err(reason) => {
                span.in_scope(|| error!(error = %reason, "not started"));
                Err(reason.clone().into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SOURCE: &str = "aws.ecs";
    const TYPE: &str = "ECS Task State Change";

    #[test]
    fn the_envelope_decides_whether_the_detail_is_read() {
        let event = json!({"source": SOURCE, "detail-type": TYPE, "account": "123456789012", "detail": {"a": 1}});
        assert_eq!(detail(&event, SOURCE, TYPE), Ok(&json!({"a": 1})));
        assert_eq!(field(&event, "account"), "123456789012");
        assert_eq!(field(&event, "region"), "");

        let other = json!({"source": "aws.autoscaling", "detail-type": TYPE, "detail": {}});
        let ignored = r#"not an ECS Task State Change event from aws.ecs (source "aws.autoscaling", detail-type "ECS Task State Change")"#;
        assert_eq!(detail(&other, SOURCE, TYPE), Err(Unread::Ignore(ignored.into())));
        let not_an_event = r#"not an ECS Task State Change event from aws.ecs (source "", detail-type "")"#;
        assert_eq!(detail(&json!([1]), SOURCE, TYPE), Err(Unread::Ignore(not_an_event.into())));

        let rejected = Err(Unread::Reject("the event has no `detail` object".into()));
        assert_eq!(detail(&json!({"source": SOURCE, "detail-type": TYPE}), SOURCE, TYPE), rejected);
        assert_eq!(detail(&json!({"source": SOURCE, "detail-type": TYPE, "detail": "x"}), SOURCE, TYPE), rejected);
    }

    #[tokio::test]
    async fn a_bad_configuration_fails_each_invocation_with_its_reason() {
        let event = || LambdaEvent::new(json!({}), lambda_runtime::Context::default());
        let handle = |built: &u32, _: LambdaEvent<Value>| {
            let built = *built;
            async move { Ok::<u32, ConfigError>(built) }
        };
        assert_eq!(Configured::new(Ok(7)).handle(event(), handle).await, Ok(7));
        let bad = ConfigError::bad("POLL_INTERVAL_SECONDS", "must be whole seconds from 1 to 300, not `0`");
        let configured = Configured::new(Err(bad.clone()));
        for _ in 0..2 {
            assert_eq!(configured.handle(event(), handle).await, Err(bad.clone()));
        }
    }
}
