//! The lifecycle action (Auto Scaling, paced: it answers `Throttling` when its rate is exceeded)
//! and the hand-over queue (SQS).

use std::time::Duration;

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_sqs::Client as Sqs;
use shared::aws::AwsFailure;

use crate::config::LifecycleResult;
use crate::error::DrainError;
use crate::job::DrainJob;
use crate::pacing::Pace;

/// What Auto Scaling answered about the lifecycle action (not a planned change: those are the
/// custom resources' `Action`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleAnswer {
    Done,
    /// No longer active: completed by another run, or timed out. Nothing left to do.
    NotActive,
}

pub struct Lifecycle {
    autoscaling: AutoScaling,
    sqs: Sqs,
    queue_url: String,
}

impl Lifecycle {
    pub fn new(autoscaling: AutoScaling, sqs: Sqs, queue_url: String) -> Self {
        Lifecycle { autoscaling, sqs, queue_url }
    }

    pub async fn complete(
        &self,
        job: &DrainJob,
        result: LifecycleResult,
        pace: &Pace,
    ) -> Result<LifecycleAnswer, DrainError> {
        const ACTION: &str = "autoscaling:CompleteLifecycleAction";
        let complete = self
            .autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(&job.auto_scaling_group)
            .lifecycle_hook_name(&job.hook)
            .lifecycle_action_token(&job.token)
            .instance_id(&job.instance_id)
            .lifecycle_action_result(result.as_str());
        outcome(pace.send(ACTION, || complete.clone().send()).await.map(|_| ()))
    }

    pub async fn heartbeat(&self, job: &DrainJob, pace: &Pace) -> Result<LifecycleAnswer, DrainError> {
        const ACTION: &str = "autoscaling:RecordLifecycleActionHeartbeat";
        let heartbeat = self
            .autoscaling
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&job.auto_scaling_group)
            .lifecycle_hook_name(&job.hook)
            .lifecycle_action_token(&job.token)
            .instance_id(&job.instance_id);
        let sent = pace.send(ACTION, || heartbeat.clone().send()).await.map(|_| ());
        outcome(sent)
    }

    /// Queue `job` for the function's next run, `delay` from now.
    pub async fn hand_over(&self, job: &DrainJob, delay: Duration) -> Result<(), DrainError> {
        let body = serde_json::to_string(job).map_err(|e| AwsFailure {
            action: "sqs:SendMessage",
            code: "NotSerializable".into(),
            message: e.to_string(),
        })?;
        let delay = i32::try_from(delay.as_secs().min(900)).unwrap_or(900);
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .await
            .map_err(AwsFailure::of("sqs:SendMessage"))?;
        Ok(())
    }
}

/// `ValidationError: No active Lifecycle Action found …` means the action is over: not an error.
fn outcome(sent: Result<(), AwsFailure>) -> Result<LifecycleAnswer, DrainError> {
    match sent {
        Ok(()) => Ok(LifecycleAnswer::Done),
        Err(f) if f.code_is("ValidationError") && f.message.contains("No active Lifecycle Action") => {
            Ok(LifecycleAnswer::NotActive)
        }
        Err(f) => Err(f.into()),
    }
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
