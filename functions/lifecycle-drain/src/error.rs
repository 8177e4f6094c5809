//! What can end a drain run early. Each says which AWS action failed and how to fix it; an
//! `AccessDenied` names the role (AWS puts it in the message).

use shared::aws::AwsFailure;

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{failure}{}", hint(.failure))]
    Aws { failure: AwsFailure },
    #[error("interrupted before the Lambda deadline: {unanswered}; the next run resumes the drain")]
    Interrupted { unanswered: String },
    #[error(
        "{instance} has {count} container instances in cluster {cluster}: drain each by hand, or deregister the stale ones"
    )]
    Ambiguous { instance: String, cluster: String, count: usize },
}

impl From<AwsFailure> for DrainError {
    fn from(failure: AwsFailure) -> Self {
        DrainError::Aws { failure }
    }
}

impl DrainError {
    /// Retrying will not help (a missing permission, a bad id): end the run with one log line and let
    /// the hook's own timeout decide, instead of failing the same way again.
    pub fn is_permanent(&self) -> bool {
        match self {
            DrainError::Config(_) | DrainError::Ambiguous { .. } => true,
            DrainError::Aws { failure } => !failure.is_transient(),
            DrainError::Interrupted { .. } => false,
        }
    }

    /// ECS's or Auto Scaling's request rate answered (`ThrottlingException`, `Throttling`) after
    /// the SDK's retries and [`crate::pacing::Pace`]'s: the drain continues in the next run, as one
    /// that must wait longer does. Not the queue's: without it there is no next run to hand over to.
    pub fn is_throttled(&self) -> bool {
        matches!(self, DrainError::Aws { failure } if failure.is_throttling() && !failure.action.starts_with("sqs:"))
    }

    /// For Lambda's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            DrainError::Config(_) => "BadConfiguration",
            DrainError::Aws { .. } => "AwsError",
            DrainError::Ambiguous { .. } => "AmbiguousInstance",
            DrainError::Interrupted { .. } => "Interrupted",
        }
    }
}

fn hint(failure: &AwsFailure) -> String {
    if failure.is_access_denied() {
        format!("; allow {} for this function's role", failure.action)
    } else if failure.is_transient() {
        "; retried until the deadline: the next run tries again".into()
    } else {
        String::new()
    }
}

impl From<DrainError> for lambda_runtime::Diagnostic {
    fn from(error: DrainError) -> Self {
        lambda_runtime::Diagnostic { error_type: error.kind().into(), error_message: error.to_string() }
    }
}
