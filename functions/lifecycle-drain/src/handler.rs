//! One invocation: a lifecycle event or handed-over drains from the queue. Each drain runs the
//! loop observe → decide → act until it completes or hands over before the deadline.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::aws::{CallsInFlight, unanswered_calls};
use shared::eventbridge::Configured;
use shared::metrics::{Emf, Unit};
use shared::retry::deadline_instant;
use tokio::time::Instant;
use tracing::{Instrument, error, info, info_span, warn};

use crate::config::{Config, LifecycleResult};
use crate::ecs::{Ecs, Known};
use crate::error::DrainError;
use crate::job::{DrainJob, Input};
use crate::lifecycle::{Lifecycle, LifecycleAnswer};
use crate::pacing::{Pace, account_of};
use crate::plan::{self, Agent, Begin, HANDOVER_MARGIN, Step, begin, decide};

/// How long before Lambda's deadline a run that is still waiting on AWS is cut short (at most a
/// quarter of the time there is).
const GUARD_MARGIN: Duration = Duration::from_secs(1);

pub struct Drainer {
    config: Config,
    ecs: Ecs,
    lifecycle: Lifecycle,
    /// The clients' Region: with the account, it keys AWS's request-rate buckets.
    region: String,
    /// What a run keeps after its throttled calls (their SDK retries included) have stopped: the
    /// hand-over or the completion.
    keep: Duration,
}

/// The Lambda handler. A bad configuration fails every invocation with its reason.
pub async fn handle(drainer: &Configured<Drainer>, event: LambdaEvent<Value>) -> Result<Value, DrainError> {
    drainer.handle(event, Drainer::handle).await
}

impl Drainer {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        // Every client names its unanswered calls if the deadline comes first. ECS and Auto Scaling
        // meter requests per account and Region: their clients take the paced functions' SDK retry,
        // and every call of theirs is paced ([`Pace`]).
        let retry = shared::pace::retry_config();
        let autoscaling = aws_sdk_autoscaling::config::Builder::from(sdk).retry_config(retry.clone());
        let ecs = aws_sdk_ecs::config::Builder::from(sdk).retry_config(retry.clone());
        let sqs = aws_sdk_sqs::config::Builder::from(sdk).interceptor(CallsInFlight).build();
        let lifecycle = Lifecycle::new(
            aws_sdk_autoscaling::Client::from_conf(autoscaling.interceptor(CallsInFlight).build()),
            aws_sdk_sqs::Client::from_conf(sqs),
            config.queue_url.clone(),
        );
        Drainer {
            ecs: Ecs::new(aws_sdk_ecs::Client::from_conf(ecs.interceptor(CallsInFlight).build())),
            lifecycle,
            config,
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            keep: HANDOVER_MARGIN,
        }
    }

    /// How this run paces its calls: the event's account (else the container instance's, for a
    /// drain queued without one), and retries of throttled calls until `keep` before the deadline.
    fn pace(&self, job: &DrainJob, deadline: Instant) -> Pace {
        let found = job.found.as_ref().and_then(|f| account_of(&f.container_instance_arn));
        Pace {
            account: job.account.as_deref().or(found).unwrap_or_default().to_string(),
            region: self.region.clone(),
            until: deadline.checked_sub(self.keep).unwrap_or_else(Instant::now),
        }
    }

    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, DrainError> {
        let deadline = deadline_instant(event.context.deadline);
        let jobs = match Input::parse(&event.payload, now_ms()) {
            Input::Jobs(jobs) => jobs,
            Input::Ignore(why) => {
                info!(reason = %why, "ignored");
                Emf::new().dimension("Outcome", "ignored").metric("Drains", Unit::Count, 1.0).emit();
                return Ok(json!({"status": "ignored", "reason": why}));
            }
            Input::Reject(why) => {
                warn!(reason = %why, "rejected");
                Emf::new().dimension("Outcome", "rejected").metric("Drains", Unit::Count, 1.0).emit();
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
            let pace = self.pace(&job, deadline);
            let (started_at_ms, round) = (job.started_at_ms, job.round);
            let mut run = Box::pin(self.run(job, &pace, deadline).instrument(span.clone()));
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
                    drain_metric("interrupted", false, started_at_ms, round).emit();
                    return Err(e);
                }
            };
            let status = outcome["status"].as_str().unwrap_or("unknown");
            drain_metric(status, outcome[AT_MAXIMUM] == true, started_at_ms, round).emit();
            outcomes.push(outcome);
        }
        Ok(if outcomes.len() == 1 { outcomes.remove(0) } else { json!(outcomes) })
    }

    /// The drain, handed over to the next run if AWS still throttles it when this run's time for
    /// retries is over: a throttle ends a run as a drain that must wait longer does, never as a failure.
    async fn run(&self, mut job: DrainJob, pace: &Pace, deadline: Instant) -> Result<Value, DrainError> {
        match self.drain(&mut job, pace, deadline).await {
            Err(e) if e.is_throttled() => {
                warn!(error = %e, "AWS kept throttling this run's calls past its time for retries: the next run continues the drain");
                let mut outcome = self.hand_over(job.clone(), pace).await?;
                if outcome["status"] == "handed-over" {
                    // The error says it was retried until this run's time and that the next run
                    // tries again.
                    outcome["reason"] = json!(e.to_string());
                }
                Ok(outcome)
            }
            other => other,
        }
    }

    async fn drain(&self, job: &mut DrainJob, pace: &Pace, deadline: Instant) -> Result<Value, DrainError> {
        if !self.config.hook.owns(&job.hook) {
            info!(configured = %self.config.hook, "ignored: not our lifecycle hook");
            return Ok(
                json!({"status": "ignored", "reason": format!("hook {} is not {}", job.hook, self.config.hook)}),
            );
        }
        let cluster = job.metadata_cluster.as_deref().or(self.config.cluster.as_deref());
        let found = self.ecs.find(&job.instance_id, job.found.as_ref(), cluster, pace).await?;
        let instance = match (begin(found.as_ref().map(|i| i.status.as_str())), found) {
            (Begin::Complete(why), _) => return self.complete(job, LifecycleResult::Continue, &why, pace).await,
            // Not reached: `begin(None)` completes.
            (_, None) => {
                return self.complete(job, LifecycleResult::Continue, "not an ECS container instance", pace).await;
            }
            (Begin::SetDraining, Some(instance)) => {
                self.ecs.set_draining(&instance.found, pace).await?;
                info!(cluster = %instance.found.cluster, container_instance = %instance.found.container_instance_arn, "set DRAINING");
                instance
            }
            (Begin::Wait, Some(instance)) => instance,
        };
        job.found = Some(instance.found.clone());
        // Read at each look while it reads disconnected; trusted after two (see `plan::agent`).
        let mut disconnected_since = (!instance.agent_connected).then(Instant::now);
        let mut agent = Agent::Connected;
        let mut known = Known::default();
        let mut looked = false;
        loop {
            if looked
                && let Some(since) = disconnected_since
                && self.ecs.agent_connected(&instance.found, pace).await?
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
            let tasks = self.ecs.tasks(&instance.found, &mut known, pace).await?;
            let drained_for = Duration::from_millis(now_ms().saturating_sub(job.started_at_ms));
            let time_left = deadline.saturating_duration_since(Instant::now());
            match decide(agent, &tasks, drained_for, time_left, &self.config) {
                Step::Complete { result, why } => return self.complete(job, result, &why, pace).await,
                Step::GiveUp { result, why } => {
                    warn!(reason = %why, "giving up the wait");
                    let mut outcome = self.complete(job, result, &why, pace).await?;
                    outcome[AT_MAXIMUM] = json!(true);
                    return Ok(outcome);
                }
                Step::StopStandalone(arns) => {
                    for arn in arns {
                        let reason = "ecs-plumbing: instance draining for termination";
                        self.ecs.stop_task(&instance.found.cluster, &arn, reason, pace).await?;
                        info!(task = %arn, "stopped a standalone task after the grace period");
                    }
                }
                Step::Wait(pause) => {
                    let holding = tasks.iter().filter(|t| t.holds_the_drain(agent)).count();
                    info!(tasks = holding, "waiting for tasks to stop");
                    tokio::time::sleep(pause).await;
                }
                Step::HandOver => return self.hand_over(job.clone(), pace).await,
            }
        }
    }

    async fn complete(
        &self,
        job: &DrainJob,
        result: LifecycleResult,
        why: &str,
        pace: &Pace,
    ) -> Result<Value, DrainError> {
        let status = match self.lifecycle.complete(job, result, pace).await? {
            LifecycleAnswer::Done => {
                info!(result = result.as_str(), reason = %why, "completed the lifecycle action");
                "completed"
            }
            LifecycleAnswer::NotActive => {
                info!(reason = %why, "the lifecycle action is no longer active (completed by another run, or expired): done");
                "already-completed"
            }
        };
        Ok(json!({"status": status, "result": result.as_str(), "reason": why}))
    }

    /// Keep the action alive, then queue the drain for the next run.
    async fn hand_over(&self, job: DrainJob, pace: &Pace) -> Result<Value, DrainError> {
        let mut throttled = None;
        match self.lifecycle.heartbeat(&job, pace).await {
            Ok(LifecycleAnswer::Done) => {}
            Ok(LifecycleAnswer::NotActive) => {
                info!("the lifecycle action is no longer active (completed by another run, or expired): done");
                return Ok(json!({"status": "already-completed"}));
            }
            // Queued all the same: the next run records the heartbeat; failing here would only
            // leave the drain to Lambda's retry of the event, with no heartbeat either.
            Err(e) if e.is_throttled() => {
                warn!(error = %e, "heartbeat throttled: the next run records it");
                throttled = Some(format!("{e}; the next run records the heartbeat"));
            }
            Err(e) => return Err(e),
        }
        let next = DrainJob { round: job.round + 1, ..job };
        self.lifecycle.hand_over(&next, self.config.handover_delay).await?;
        info!(
            delay_s = self.config.handover_delay.as_secs(),
            next_round = next.round,
            "heartbeat recorded; handed over to the next run"
        );
        let mut outcome = json!({"status": "handed-over", "round": next.round});
        if let Some(reason) = throttled {
            outcome["reason"] = json!(reason);
        }
        Ok(outcome)
    }
}

/// The answer's member that says the drain ended at the maximum drain time (`DRAIN_MAX_SECONDS`).
const AT_MAXIMUM: &str = "atMaximum";

/// One run of a drain: `Drains` (one) by `Outcome` (its answer's `status`: `completed`,
/// `already-completed`, `handed-over`, `ignored`, `failed`; `interrupted` when the run failed
/// and is retried) and by `Function` alone; `DrainsAtMaximum` (1 when the maximum drain time
/// ended it: the alarm's metric), `DrainSeconds` since the first run started, `DrainRounds` this
/// run's number (1 for the run the event started).
fn drain_metric(outcome: &str, at_maximum: bool, started_at_ms: u64, round: u32) -> Emf {
    let seconds = now_ms().saturating_sub(started_at_ms) as f64 / 1000.0;
    Emf::new()
        .dimension("Outcome", outcome)
        .rollup(&[])
        .metric("Drains", Unit::Count, 1.0)
        .metric("DrainsAtMaximum", Unit::Count, if at_maximum { 1.0 } else { 0.0 })
        .metric("DrainSeconds", Unit::Seconds, seconds)
        .metric("DrainRounds", Unit::Count, f64::from(round) + 1.0)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_drain_metric_per_run() {
        let started = now_ms() - 90_000;
        let doc = drain_metric("completed", true, started, 2).to_json(1);
        assert_eq!((doc["Outcome"].as_str(), doc["Drains"].as_f64()), (Some("completed"), Some(1.0)));
        assert_eq!((doc["DrainsAtMaximum"].as_f64(), doc["DrainRounds"].as_f64()), (Some(1.0), Some(3.0)));
        assert!(doc["DrainSeconds"].as_f64().is_some_and(|s| (90.0..100.0).contains(&s)), "{doc}");
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], json!([["Function", "Outcome"], ["Function"]]));
        let units: Vec<&str> =
            directive["Metrics"].as_array().into_iter().flatten().filter_map(|m| m["Unit"].as_str()).collect();
        assert_eq!(units, ["Count", "Count", "Seconds", "Count"]);
        // A drain queued with a start in the future (a clock step) is 0 s old, not negative.
        assert_eq!(drain_metric("handed-over", false, now_ms() + 60_000, 0).to_json(1)["DrainSeconds"], 0.0);
    }
}
