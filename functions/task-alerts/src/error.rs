//! What can go wrong in an invocation, as the one line Lambda records and the on-failure
//! destination keeps. No variant holds the webhook URL or the secret's value.

use std::fmt;

use shared::aws::AwsFailure;
use shared::retry::Last;

use crate::config::{ConfigError, TOPIC_ARN, WEBHOOK_SECRET_ARN};
use crate::kms::KmsProblem;
use crate::webhook::{PostError, UnusableSecret};

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// At least one destination kept failing; the invocation fails so Lambda retries it and the
    /// on-failure destination keeps the event.
    #[error("alert \"{title}\" not delivered: {}{}", join(failed), sent_note(delivered))]
    NotDelivered { title: String, failed: Vec<DestinationFailure>, delivered: Vec<&'static str> },
    /// The suppression table could not say whether a recovery ends an alerted problem; the
    /// invocation fails so Lambda retries it (else the resolution would be lost).
    #[error("cannot tell whether {event_name} resolves an alert: {failure}{}", hint_for_table(.failure))]
    OpenProblems { event_name: String, failure: AwsFailure },
    /// The second look at a disconnected agent could not be queued; Lambda retries the event.
    #[error("cannot queue the second look at the disconnected agent: {failure}{}", hint_for_queue(.failure))]
    LookAgain { failure: AwsFailure },
    /// The second look could not read the instance; SQS brings the message back to try again.
    #[error("cannot look at the disconnected agent's instance again: {failure}{}", hint_for_second_look(.failure))]
    SecondLook { failure: AwsFailure },
}

fn hint_for_second_look(failure: &AwsFailure) -> &'static str {
    if failure.is_access_denied() { "; allow ecs:DescribeContainerInstances for this function's role" } else { "" }
}

fn hint_for_table(failure: &AwsFailure) -> &'static str {
    if failure.is_access_denied() {
        "; allow dynamodb:UpdateItem on the SUPPRESSION_TABLE for this function's role"
    } else {
        ""
    }
}

fn hint_for_queue(failure: &AwsFailure) -> &'static str {
    if failure.is_access_denied() {
        "; allow sqs:SendMessage on the LOOK_AGAIN_QUEUE_URL queue for this function's role"
    } else if failure.code_is("AWS.SimpleQueueService.NonExistentQueue") || failure.code_is("QueueDoesNotExist") {
        "; check that LOOK_AGAIN_QUEUE_URL names an existing queue"
    } else {
        ""
    }
}

/// One destination that gave up, after how many attempts, and the last failure.
#[derive(Debug)]
pub struct DestinationFailure {
    pub destination: &'static str,
    pub attempts: u32,
    pub last: Last<DeliveryError>,
}

impl fmt::Display for DestinationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tries = if self.attempts == 1 { "1 attempt".to_string() } else { format!("{} attempts", self.attempts) };
        write!(f, "{}: {} ({tries})", self.destination, self.last)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// `granted`: the key `AlertTopicKmsKeyArn` grants the role, if set.
    #[error("{failure}{}", hint_for_sns(.failure, .topic, .granted.as_deref()))]
    Sns { failure: AwsFailure, topic: String, granted: Option<String> },
    #[error("cannot read the webhook secret {secret}: {failure}{}", hint_for_secret(.failure))]
    SecretRead { secret: String, failure: AwsFailure },
    #[error(
        "the webhook secret {secret} is unusable: {problem}; store the URL, or JSON {{\"url\": \"https://…\", \"format\": \"slack|teams|discord|generic\"}}"
    )]
    SecretUnusable { secret: String, problem: UnusableSecret },
    #[error("{0}")]
    Post(PostError),
}

fn hint_for_sns(failure: &AwsFailure, topic: &str, granted: Option<&str>) -> String {
    // Before `is_access_denied` below, which counts `KMSAccessDenied` too: that one is about the
    // key, not the topic.
    if let Some(problem) = KmsProblem::of(failure) {
        problem.hint(failure, topic, granted)
    } else if failure.is_access_denied() {
        "; allow sns:Publish on the topic for this function's role".into()
    } else if failure.code_is("NotFound") {
        format!("; check that {TOPIC_ARN} names an existing topic in this region")
    } else {
        String::new()
    }
}

fn hint_for_secret(failure: &AwsFailure) -> String {
    if failure.is_access_denied() {
        "; allow secretsmanager:GetSecretValue on it (and kms:Decrypt on its key if customer-managed)".into()
    } else if failure.code_is("ResourceNotFoundException") {
        format!("; check {WEBHOOK_SECRET_ARN}")
    } else {
        String::new()
    }
}

fn join(failed: &[DestinationFailure]) -> String {
    failed.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn sent_note(delivered: &[&str]) -> String {
    if delivered.is_empty() { String::new() } else { format!(" ({} got it)", delivered.join(", ")) }
}

impl AlertError {
    /// For Lambda's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            AlertError::Config(_) => "BadConfiguration",
            AlertError::NotDelivered { .. } => "AlertNotDelivered",
            AlertError::OpenProblems { .. } => "OpenProblemsUnknown",
            AlertError::LookAgain { .. } => "LookAgainNotQueued",
            AlertError::SecondLook { .. } => "SecondLookFailed",
        }
    }
}

impl From<AlertError> for lambda_runtime::Diagnostic {
    fn from(error: AlertError) -> Self {
        lambda_runtime::Diagnostic { error_type: error.kind().into(), error_message: error.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(action: &'static str, code: &str) -> AwsFailure {
        AwsFailure { action, code: code.into(), message: "denied".into() }
    }

    /// A key's refusal is told apart from the topic's before any access-denied hint.
    #[test]
    fn the_key_before_the_topic() {
        const PUBLISH: &str = "; allow sns:Publish on the topic for this function's role";
        let topic = "arn:aws:sns:us-east-1:123456789012:alerts";
        for code in ["AuthorizationError", "AccessDenied", "AccessDeniedException"] {
            assert_eq!(hint_for_sns(&failure("sns:Publish", code), topic, None), PUBLISH, "{code}");
        }
        let key = hint_for_sns(&failure("sns:Publish", "KMSAccessDenied"), topic, None);
        assert!(!key.contains("sns:Publish on the topic") && key.contains("kms"), "{key}");
        let secret = hint_for_secret(&failure("secretsmanager:GetSecretValue", "AccessDeniedException"));
        assert!(secret.starts_with("; allow secretsmanager:GetSecretValue"), "{secret}");
    }
}
