//! One invocation: a lifecycle event or handed-over drains from the queue. Each drain runs the
//! loop observe → decide → act until it completes or hands over before the deadline.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::aws::{CallsInFlight, unanswered_calls};
use shared::retry::deadline_instant;
use tokio::time::Instant;
use tracing::{Instrument, error, info, info_span, warn};

use crate::config::{Config, ConfigError, LifecycleResult};
use crate::ecs::Ecs;
use crate::error::DrainError;
use crate::job::{DrainJob, Input};
use crate::lifecycle::{Action, Lifecycle};
use crate::plan::{self, Agent, Begin, Step, begin, decide};

/// How long before Lambda's deadline a run that is still waiting on AWS is cut short (at most a
/// quarter of the time there is).
const GUARD_MARGIN: Duration = Duration::from_secs(1);

pub struct Drainer {
    config: Config,
    ecs: Ecs,
    lifecycle: Lifecycle,
}

/// The Lambda handler. A bad configuration fails every invocation with its reason.
pub async fn handle(drainer: &Result<Drainer, ConfigError>, event: LambdaEvent<Value>) -> Result<Value, DrainError> {
    let span = info_span!("event", request_id = %event.context.request_id);
    match drainer {
        Ok(drainer) => drainer.handle(event).instrument(span).await,
        Err(config) => {
            span.in_scope(|| error!(error = %config, "not started"));
            Err(config.clone().into())
        }
    }
}

impl Drainer {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        // Every client names its unanswered calls if the deadline comes first.
        let autoscaling = aws_sdk_autoscaling::config::Builder::from(sdk).interceptor(CallsInFlight).build();
        let sqs = aws_sdk_sqs::config::Builder::from(sdk).interceptor(CallsInFlight).build();
        let ecs = aws_sdk_ecs::config::Builder::from(sdk).interceptor(CallsInFlight).build();
        let lifecycle = Lifecycle::new(
            aws_sdk_autoscaling::Client::from_conf(autoscaling),
            aws_sdk_sqs::Client::from_conf(sqs),
            config.queue_url.clone(),
        );
        Drainer { ecs: Ecs::new(aws_sdk_ecs::Client::from_conf(ecs)), lifecycle, config }
    }

    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, DrainError> {
        let deadline = deadline_instant(event.context.deadline);
        let jobs = match Input::parse(&event.payload, now_ms()) {
            Input::Jobs(jobs) => jobs,
            Input::Ignore(why) => {
                info!(reason = %why, "ignored");
                return Ok(json!({"status": "ignored", "reason": why}));
            }
            Input::Reject(why) => {
                warn!(reason = %why, "rejected");
                return Ok(json!({"status": "rejected", "reason": why}));
            }
        };
        let mut outcomes = Vec::new();
        for job in jobs {
            let span = info_span!("drain", instance = %job.instance_id, hook = %job.hook, round = job.round);
            // Boxed: the SDK's futures nest deep enough to overflow the compiler's layout recursion.
            // Cut short before Lambda's deadline, so a call that hangs ends the run with its name.
            let guard = deadline - GUARD_MARGIN.min(deadline.saturating_duration_since(Instant::now()) / 4);
            // Pinned here, so a cut run is still alive (its calls listed) when the cut is named.
            let mut run = Box::pin(self.drain(job, deadline).instrument(span.clone()));
            let result = tokio::select! {
                result = &mut run => result,
                _ = tokio::time::sleep_until(guard) => {
                    let unanswered = unanswered_calls().unwrap_or_else(|| "no AWS call was waiting".into());
                    Err(DrainError::Interrupted { unanswered })
                }
            };
            let outcome = match result {
                Ok(outcome) => outcome,
                // Retrying cannot fix a missing permission: one line, and the hook's own timeout decides.
                Err(e) if e.is_permanent() => {
                    span.in_scope(|| error!(error = %e, "drain stopped; the lifecycle hook's DefaultResult applies when its heartbeat timeout ends"));
                    json!({"status": "failed", "reason": e.to_string()})
                }
                Err(e) => {
                    span.in_scope(|| warn!(error = %e, "drain interrupted; Lambda's retry of this event (or the queue's redelivery) resumes it"));
                    return Err(e);
                }
            };
            outcomes.push(outcome);
        }
        Ok(if outcomes.len() == 1 { outcomes.remove(0) } else { json!(outcomes) })
    }

    async fn drain(&self, mut job: DrainJob, deadline: Instant) -> Result<Value, DrainError> {
        if !self.config.hook.owns(&job.hook) {
            info!(configured = %self.config.hook, "ignored: not our lifecycle hook");
            return Ok(
                json!({"status": "ignored", "reason": format!("hook {} is not {}", job.hook, self.config.hook)}),
            );
        }
        let cluster = job.metadata_cluster.as_deref().or(self.config.cluster.as_deref());
        let found = self.ecs.find(&job.instance_id, job.found.as_ref(), cluster).await?;
        let instance = match (begin(found.as_ref().map(|i| i.status.as_str())), found) {
            (Begin::Complete(why), _) => return self.complete(&job, LifecycleResult::Continue, &why).await,
            // Not reached: `begin(None)` completes.
            (_, None) => return self.complete(&job, LifecycleResult::Continue, "not an ECS container instance").await,
            (Begin::SetDraining, Some(instance)) => {
                self.ecs.set_draining(&instance.found).await?;
                info!(cluster = %instance.found.cluster, container_instance = %instance.found.container_instance_arn, "set DRAINING");
                instance
            }
            (Begin::Wait, Some(instance)) => instance,
        };
        job.found = Some(instance.found.clone());
        // Read at each look while it reads disconnected; trusted after two (see `plan::agent`).
        let mut disconnected_since = (!instance.agent_connected).then(Instant::now);
        let mut agent = Agent::Connected;
        let mut services = HashMap::new();
        let mut looked = false;
        loop {
            if looked
                && let Some(since) = disconnected_since
                && self.ecs.agent_connected(&instance.found).await?
            {
                info!(disconnected_s = since.elapsed().as_secs(), "the container instance's agent reconnected");
                disconnected_since = None;
            }
            looked = true;
            let now = plan::agent(disconnected_since.map(|since| since.elapsed()), self.config.poll_interval);
            if now == Agent::Disconnected && agent == Agent::Connected {
                warn!(container_instance = %instance.found.container_instance_arn, "the container instance's agent is disconnected: tasks ECS has asked to stop (desiredStatus STOPPED) are not waited for, as it can never report them STOPPED");
            }
            agent = now;
            let tasks = self.ecs.tasks(&instance.found, &mut services).await?;
            let drained_for = Duration::from_millis(now_ms().saturating_sub(job.started_at_ms));
            let time_left = deadline.saturating_duration_since(Instant::now());
            match decide(agent, &tasks, drained_for, time_left, &self.config) {
                Step::Complete { result, why } => return self.complete(&job, result, &why).await,
                Step::GiveUp { result, why } => {
                    warn!(reason = %why, "giving up the wait");
                    return self.complete(&job, result, &why).await;
                }
                Step::StopStandalone(arns) => {
                    for arn in arns {
                        self.ecs
                            .stop_task(&instance.found.cluster, &arn, "ecs-plumbing: instance draining for termination")
                            .await?;
                        info!(task = %arn, "stopped a standalone task after the grace period");
                    }
                }
                Step::Wait(pause) => {
                    let holding = tasks.iter().filter(|t| t.holds_the_drain(agent)).count();
                    info!(tasks = holding, "waiting for tasks to stop");
                    tokio::time::sleep(pause).await;
                }
                Step::HandOver => return self.hand_over(job).await,
            }
        }
    }

    async fn complete(&self, job: &DrainJob, result: LifecycleResult, why: &str) -> Result<Value, DrainError> {
        let status = match self.lifecycle.complete(job, result).await? {
            Action::Done => {
                info!(result = result.as_str(), reason = %why, "completed the lifecycle action");
                "completed"
            }
            Action::NotActive => {
                info!(reason = %why, "the lifecycle action is no longer active (completed by another run, or expired): done");
                "already-completed"
            }
        };
        Ok(json!({"status": status, "result": result.as_str(), "reason": why}))
    }

    /// Keep the action alive, then queue the drain for the next run.
    async fn hand_over(&self, job: DrainJob) -> Result<Value, DrainError> {
        if self.lifecycle.heartbeat(&job).await? == Action::NotActive {
            info!("the lifecycle action is no longer active (completed by another run, or expired): done");
            return Ok(json!({"status": "already-completed"}));
        }
        let next = DrainJob { round: job.round + 1, ..job };
        self.lifecycle.hand_over(&next, self.config.handover_delay).await?;
        info!(
            delay_s = self.config.handover_delay.as_secs(),
            next_round = next.round,
            "heartbeat recorded; handed over to the next run"
        );
        Ok(json!({"status": "handed-over", "round": next.round}))
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
