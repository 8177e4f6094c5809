//! One request in, exactly one response out: dispatch to the resource, guard the deadline and
//! panics, answer, and only then return success to Lambda.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use tracing::{Instrument, error, info, info_span, warn};

use super::deliver::{NotDelivered, put_response};
use super::request::{EnvelopeError, Request, RequestType, ResponseTarget};
use super::response::{Response, Status};
use super::response_url::ResponseUrls;
use super::{ProtocolError, failed_create_id, is_failed_create_id, properties};
use crate::env::{ConfigError, Env};
use crate::error_chain;
use crate::http::{Http, absolute_url};
use crate::metrics::{Emf, Unit};

/// What a resource type implements: its business rules on typed properties, nothing of the
/// protocol. Errors are the crate's own enum; their `Display` becomes the stack event's reason,
/// so it says what is wrong and how to fix it.
pub trait CustomResource: Send + Sync + 'static {
    type Properties: DeserializeOwned + Send + 'static;
    type Error: std::error::Error + Send + 'static;

    fn create(
        &self,
        ctx: &RequestContext,
        props: Self::Properties,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;

    /// `old` is `None` when the old properties no longer parse (e.g. written for an older version).
    /// Return a new physical id to make CloudFormation replace the resource (it then sends
    /// Delete for the old id).
    fn update(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        props: Self::Properties,
        old: Option<Self::Properties>,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;

    /// What is already gone is success.
    fn delete(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        props: Self::Properties,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// What a Delete acts on when its properties no longer parse (a property renamed or removed
    /// by an upgrade of this function): a resource that can find what it owns from the physical
    /// id alone returns properties saying so. `None` (the default) answers FAILED, naming the problem.
    fn properties_for_unparsable_delete(&self) -> Option<Self::Properties> {
        None
    }
}

/// A successful Create or Update: the physical id and the attributes for `Fn::GetAtt`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub physical_id: String,
    pub data: BTreeMap<String, String>,
    pub no_echo: bool,
}

impl Outcome {
    pub fn new(physical_id: impl Into<String>) -> Self {
        Self { physical_id: physical_id.into(), ..Self::default() }
    }

    pub fn with_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.insert(name.into(), value.into());
        self
    }
}

/// What a handler knows of its request, and where it says what it is doing.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub stack_id: String,
    pub logical_resource_id: String,
    pub resource_type: String,
    step: Arc<Mutex<String>>,
    /// The physical id a failed Create or Update answers with, once the work has made something.
    claimed: Arc<Mutex<Option<String>>>,
    /// Said after "deleted" (or "created", "updated") in a successful answer.
    note: Arc<Mutex<Option<String>>>,
    /// When the deadline guard answers FAILED if the work is still running.
    guard_at: Instant,
    /// From the invocation to Lambda's deadline: about the function's Timeout.
    timeout: Duration,
}

impl RequestContext {
    fn new(request: &Request, guard_at: Instant, timeout: Duration) -> Self {
        Self {
            guard_at,
            timeout,
            request_id: request.target.request_id.clone(),
            stack_id: request.target.stack_id.clone(),
            logical_resource_id: request.target.logical_resource_id.clone(),
            resource_type: request.resource_type.clone(),
            step: Arc::new(Mutex::new("starting".into())),
            claimed: Arc::new(Mutex::new(None)),
            note: Arc::new(Mutex::new(None)),
        }
    }

    /// Say that the work is about to make something under `physical_id`. From then on a failed
    /// Create (an error, a panic, the deadline) answers with this id instead of one that means
    /// "nothing made", so CloudFormation's rollback sends Delete for it and the Delete undoes it.
    /// A replacing Update that fails answers with it too, so the cleanup deletes the new resource.
    pub fn claim(&self, physical_id: impl Into<String>) {
        if let Ok(mut claimed) = self.claimed.lock() {
            *claimed = Some(physical_id.into());
        }
    }

    fn claimed(&self) -> Option<String> {
        self.claimed.lock().ok().and_then(|c| c.clone())
    }

    /// Something the user should know although the request succeeded (what was left, and
    /// where): the success answer's reason carries it.
    pub fn note(&self, what: impl Into<String>) {
        if let Ok(mut note) = self.note.lock() {
            *note = Some(what.into());
        }
    }

    fn noted(&self, done: &str) -> String {
        match self.note.lock().ok().and_then(|n| n.clone()) {
            Some(note) => format!("{done}; {note}"),
            None => done.to_string(),
        }
    }

    /// Say what the work is doing now ("creating route in rtb-1"): if the deadline comes first,
    /// the reason names it.
    pub fn step(&self, what: impl Into<String>) {
        if let Ok(mut step) = self.step.lock() {
            *step = what.into();
        }
    }

    /// Time left before the deadline guard answers for the work. Long waits stop early enough
    /// to undo what they made and report it themselves.
    pub fn time_left(&self) -> Duration {
        self.guard_at.saturating_duration_since(Instant::now())
    }

    /// The stack's account, from its ARN (`arn:<partition>:cloudformation:<region>:<account>:stack/…`).
    pub fn stack_account(&self) -> Option<&str> {
        self.stack_id.split(':').nth(4).filter(|a| a.len() == 12)
    }

    /// The time Lambda gave this invocation: about the function's Timeout (for reasons that
    /// say how to size it).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn current_step(&self) -> String {
        self.step.lock().map(|s| s.clone()).unwrap_or_else(|_| "an unknown step".into())
    }
}

/// The protocol's settings, read from the environment once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long before the Lambda deadline the guard answers FAILED: time for the PUT and its
    /// retries. Capped at half the invocation's time, so short timeouts still do work.
    pub deadline_margin: Duration,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`, appended to every reason.
    pub log_stream: Option<String>,
    /// Where answers may go: AWS's S3 hosts (and loopback, in tests).
    pub response_urls: ResponseUrls,
}

impl Settings {
    pub const MARGIN_VAR: &'static str = "DEADLINE_MARGIN_MS";
    const DEFAULT_MARGIN_MS: u64 = 5_000;
    /// Lambda's longest timeout: a larger margin can only be a typo.
    const MAX_MARGIN_MS: u64 = 900_000;

    /// The settings from the process environment; a bad margin is logged, and the default used.
    pub fn from_env() -> Self {
        let (settings, bad_margin) = Self::from_lookup(crate::env::process);
        if let Some(bad) = bad_margin {
            warn!(error = %bad, default_ms = Self::DEFAULT_MARGIN_MS, "using the default deadline margin");
        }
        settings
    }

    /// The settings, and what is wrong with [`Self::MARGIN_VAR`] when the default margin stands in
    /// for it. A bad margin does not fail the cold start: no request could be answered then, and
    /// CloudFormation would wait up to an hour for each.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Self, Option<ConfigError>) {
        let env = Env::new(lookup);
        let (deadline_margin, bad_margin) =
            match env.millis(Self::MARGIN_VAR, Self::DEFAULT_MARGIN_MS, 0..=Self::MAX_MARGIN_MS) {
                Ok(margin) => (margin, None),
                Err(bad) => (Duration::from_millis(Self::DEFAULT_MARGIN_MS), Some(bad)),
            };
        let settings = Self {
            deadline_margin,
            log_stream: env.optional("AWS_LAMBDA_LOG_STREAM_NAME"),
            response_urls: ResponseUrls::from_lookup(|name| env.as_set(name)),
        };
        (settings, bad_margin)
    }
}

/// Run a custom resource as the Lambda function's handler; `http` answers CloudFormation.
pub async fn run<R: CustomResource>(resource: R, http: Http) -> Result<(), lambda_runtime::Error> {
    let protocol = Arc::new(Protocol::new(Settings::from_env(), http));
    let resource = Arc::new(resource);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (protocol, resource) = (protocol.clone(), resource.clone());
        async move {
            let handled = protocol.handle(resource, event).await;
            crate::metrics::flush_throttled();
            handled
        }
    }))
    .await
}

pub struct Protocol {
    http: Http,
    settings: Settings,
}

impl Protocol {
    pub fn new(settings: Settings, http: Http) -> Self {
        Self { http, settings }
    }

    /// Handle one invocation. `Ok` means CloudFormation has its answer.
    pub async fn handle<R: CustomResource>(
        &self,
        resource: Arc<R>,
        event: LambdaEvent<Value>,
    ) -> Result<(), ProtocolError> {
        let started = Instant::now();
        let deadline = crate::retry::deadline_instant(event.context.deadline);
        let parsed = Request::parse(&event.payload);
        // A URL CloudFormation would never send is refused before anything is done for it.
        let url = match &parsed {
            Ok(request) => Some(&request.target.url),
            Err(EnvelopeError::Unusable { target, .. }) => Some(&target.url),
            Err(_) => None,
        };
        if let Some(url) = url
            && let Err(why) = self.settings.response_urls.check(url)
        {
            let refused = EnvelopeError::ResponseUrlRefused(why);
            error!(aws_request_id = %event.context.request_id, error = %refused, "request ignored");
            return Err(refused.into());
        }
        let request = match parsed {
            Ok(request) => request,
            Err(EnvelopeError::Unusable { target, problem }) => {
                let physical_id =
                    target.physical_resource_id.clone().unwrap_or_else(|| failed_create_id(&target.request_id));
                let response = failed(physical_id, format!("invalid request: {problem}"));
                let span = info_span!("request", request_id = %target.request_id, logical_resource_id = %target.logical_resource_id);
                let answered = self.deliver(&target, &response, deadline).instrument(span).await;
                request_metric(None, &response.status, &answered, started).emit();
                return answered;
            }
            Err(e) => {
                error!(aws_request_id = %event.context.request_id, error = %e, "request ignored");
                return Err(e.into());
            }
        };
        let span = info_span!(
            "request",
            request_id = %request.target.request_id,
            logical_resource_id = %request.target.logical_resource_id,
            request_type = ?request.request_type,
        );
        async {
            let response = self.respond(resource, &request, started, deadline).await;
            let answered = self.deliver(&request.target, &response, deadline).await;
            request_metric(Some(request.request_type), &response.status, &answered, started).emit();
            answered
        }
        .instrument(span)
        .await
    }

    async fn respond<R: CustomResource>(
        &self,
        resource: Arc<R>,
        request: &Request,
        started: Instant,
        deadline: Instant,
    ) -> Response {
        let physical_id = request.target.physical_resource_id.clone();
        if request.request_type == RequestType::Delete && physical_id.as_deref().is_some_and(is_failed_create_id) {
            // The rollback of a Create we answered FAILED: it made nothing.
            return succeeded(
                Outcome::new(physical_id.unwrap_or_default()),
                "nothing to delete: the Create had failed",
            );
        }
        let guard = deadline - self.settings.deadline_margin.min(deadline.saturating_duration_since(started) / 2);
        let ctx = RequestContext::new(request, guard, deadline.saturating_duration_since(started));
        let mut work = tokio::spawn(dispatch(resource, request.clone(), ctx.clone()).in_current_span());
        let result = tokio::select! {
            joined = &mut work => match joined {
                Ok(result) => result,
                Err(e) if e.is_panic() => Err(format!("internal error: {}; this is a bug, please report it with this log stream", panic_message(e.into_panic()))),
                Err(_) => Err("internal error: the work was cancelled".to_string()),
            },
            _ = tokio::time::sleep_until(guard) => {
                // Named before the abort: the aborted work drops its calls off the list.
                let unanswered = crate::aws::unanswered_calls().map(|calls| format!(": {calls}")).unwrap_or_default();
                work.abort();
                Err(format!(
                    "timed out after {} s while {}{unanswered}; raise the function's Timeout, or check that it reaches the AWS APIs it calls (VPC endpoints or a NAT gateway)",
                    started.elapsed().as_secs(),
                    ctx.current_step(),
                ))
            }
        };
        match result {
            Ok(outcome) if request.request_type == RequestType::Delete => {
                succeeded(Outcome { physical_id: physical_id.unwrap_or_default(), ..outcome }, &ctx.noted("deleted"))
            }
            Ok(outcome) if request.request_type == RequestType::Create => succeeded(outcome, &ctx.noted("created")),
            Ok(outcome) => succeeded(outcome, &ctx.noted("updated")),
            Err(message) => {
                let physical_id = match (request.request_type, ctx.claimed()) {
                    (RequestType::Create | RequestType::Update, Some(claimed)) => claimed,
                    (RequestType::Create, None) => failed_create_id(&request.target.request_id),
                    _ => physical_id.unwrap_or_default(),
                };
                failed(physical_id, message)
            }
        }
    }

    async fn deliver(
        &self,
        target: &ResponseTarget,
        response: &Response,
        deadline: Instant,
    ) -> Result<(), ProtocolError> {
        let body = response.to_body(target, self.settings.log_stream.as_deref());
        // The URL passed `ResponseUrls::check` before any work was done.
        let Some(url) = absolute_url(&target.url) else {
            return Err(ProtocolError::NotDelivered { attempts: 0, last: "the ResponseURL is not a URL".into() });
        };
        match put_response(&self.http, &url, body, deadline).await {
            Ok(attempts) => {
                info!(
                    status = ?response.status,
                    physical_resource_id = %response.physical_resource_id,
                    reason = %response.message,
                    attempts,
                    "response delivered"
                );
                Ok(())
            }
            Err(NotDelivered { attempts, last }) => {
                error!(status = ?response.status, attempts, last = %last, "response NOT delivered");
                Err(ProtocolError::NotDelivered { attempts, last })
            }
        }
    }
}

/// Parse the properties (step 2) and call the resource. Runs in its own task so a panic or
/// the deadline guard cannot stop the response.
async fn dispatch<R: CustomResource>(
    resource: Arc<R>,
    request: Request,
    ctx: RequestContext,
) -> Result<Outcome, String> {
    let props: R::Properties = match properties::parse(&request.properties) {
        Ok(props) => props,
        Err(e) => match resource.properties_for_unparsable_delete() {
            // A Delete acts on what it owns even when an upgrade renamed a property.
            Some(props) if request.request_type == RequestType::Delete => {
                warn!(error = %e, "properties do not parse; deleting by the physical id alone");
                props
            }
            _ => return Err(format!("invalid properties: {e}")),
        },
    };
    let physical_id = request.target.physical_resource_id.as_deref().unwrap_or_default();
    let result = match request.request_type {
        RequestType::Create => resource.create(&ctx, props).await,
        RequestType::Update => {
            let old = request.old_properties.as_ref().and_then(|raw| match properties::parse(raw) {
                Ok(old) => Some(old),
                Err(e) => {
                    warn!(error = %e, "old properties do not parse; updating without them");
                    None
                }
            });
            resource.update(&ctx, physical_id, props, old).await
        }
        RequestType::Delete => resource.delete(&ctx, physical_id, props).await.map(|()| Outcome::default()),
    };
    result.map_err(|e| error_chain(&e))
}

/// `Requests` (one), by `RequestType` and `Outcome` (`SUCCESS`, `FAILED`, or `NOT_DELIVERED` when
/// CloudFormation never got the answer), and by `Outcome` alone; with `RequestMilliseconds`, from
/// the invocation to the answer. One per response, where it is sent. A request without a usable
/// type (answered FAILED at its URL) is of type `Unknown`.
fn request_metric(
    request_type: Option<RequestType>,
    status: &Status,
    answered: &Result<(), ProtocolError>,
    started: Instant,
) -> Emf {
    let request_type = match request_type {
        Some(RequestType::Create) => "Create",
        Some(RequestType::Update) => "Update",
        Some(RequestType::Delete) => "Delete",
        None => "Unknown",
    };
    let outcome = match (answered, status) {
        (Err(_), _) => "NOT_DELIVERED",
        (Ok(()), Status::Success) => "SUCCESS",
        (Ok(()), Status::Failed) => "FAILED",
    };
    Emf::new()
        .dimension("RequestType", request_type)
        .dimension("Outcome", outcome)
        .rollup(&["Outcome"])
        .metric("Requests", Unit::Count, 1.0)
        .metric("RequestMilliseconds", Unit::Milliseconds, started.elapsed().as_secs_f64() * 1000.0)
}

fn succeeded(outcome: Outcome, message: &str) -> Response {
    Response {
        status: Status::Success,
        message: message.to_string(),
        physical_resource_id: outcome.physical_id,
        data: outcome.data,
        no_echo: outcome.no_echo,
    }
}

fn failed(physical_resource_id: String, message: String) -> Response {
    Response { status: Status::Failed, message, physical_resource_id, data: BTreeMap::new(), no_echo: false }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer failed")]
    struct Outer(#[source] Inner);
    #[derive(Debug, thiserror::Error)]
    #[error("inner cause")]
    struct Inner;
    #[derive(Debug, thiserror::Error)]
    #[error("wrapped: inner cause")]
    struct Embeds(#[source] Inner);

    #[test]
    fn error_chain_names_each_cause_once() {
        assert_eq!(error_chain(&Outer(Inner)), "outer failed: inner cause");
        assert_eq!(error_chain(&Embeds(Inner)), "wrapped: inner cause");
    }

    #[test]
    fn panic_messages() {
        assert_eq!(panic_message(Box::new("static")), "static");
        assert_eq!(panic_message(Box::new(String::from("owned"))), "owned");
        assert_eq!(panic_message(Box::new(7u8)), "a panic without a message");
    }

    #[test]
    fn one_request_metric_per_answer() {
        let not_delivered = || Err(ProtocolError::NotDelivered { attempts: 3, last: "HTTP 503".into() });
        let cases = [
            (Some(RequestType::Create), Status::Success, Ok(()), ("Create", "SUCCESS")),
            (Some(RequestType::Update), Status::Failed, Ok(()), ("Update", "FAILED")),
            (Some(RequestType::Delete), Status::Success, not_delivered(), ("Delete", "NOT_DELIVERED")),
            (None, Status::Failed, Ok(()), ("Unknown", "FAILED")),
        ];
        for (request_type, status, answered, (type_name, outcome)) in cases {
            let doc = request_metric(request_type, &status, &answered, Instant::now()).to_json(1);
            assert_eq!((doc["RequestType"].as_str(), doc["Outcome"].as_str()), (Some(type_name), Some(outcome)));
            assert_eq!(doc["Requests"], 1.0);
            assert!(doc["RequestMilliseconds"].as_f64().is_some_and(|ms| ms >= 0.0), "{doc}");
            let directive = &doc["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(
                directive["Dimensions"],
                serde_json::json!([["Function", "RequestType", "Outcome"], ["Function", "Outcome"]])
            );
        }
    }

    fn settings(vars: &[(&str, &str)]) -> (Settings, Option<ConfigError>) {
        Settings::from_lookup(crate::env::pairs(vars))
    }

    #[test]
    fn a_bad_deadline_margin_gives_the_default_and_a_warning() {
        let (s, bad) = settings(&[]);
        assert_eq!(
            (s.deadline_margin, s.log_stream, s.response_urls, bad),
            (Duration::from_secs(5), None, ResponseUrls::AwsS3, None)
        );
        let (s, bad) =
            settings(&[(Settings::MARGIN_VAR, " 1500 "), ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/22/[$LATEST]0123")]);
        assert_eq!(
            (s.deadline_margin, s.log_stream.as_deref(), bad),
            (Duration::from_millis(1500), Some("2026/11/22/[$LATEST]0123"), None)
        );
        assert_eq!(settings(&[(ResponseUrls::TEST_VAR, "1")]).0.response_urls, ResponseUrls::AwsS3OrLoopback);
        for value in ["abc", "-1", "1.5", "900001"] {
            let (s, bad) = settings(&[(Settings::MARGIN_VAR, value)]);
            assert_eq!(s.deadline_margin, Duration::from_secs(5), "{value}");
            let warning = bad.map(|b| b.to_string()).unwrap_or_default();
            assert_eq!(
                warning,
                format!(
                    "bad configuration: DEADLINE_MARGIN_MS must be whole milliseconds from 0 to 900000, not `{value}`"
                )
            );
        }
    }
}
