//! The service-level flows of the handler: a problem is alerted like a stopped task (duplicates and
//! storms suppressed) and remembered as open; a recovery sends a resolution only for what was open;
//! a disconnected agent waits on the queue for its second look.

use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::{info, warn};

use super::Alerter;
use crate::accounts::is_another;
use crate::agent::LookAgain;
use crate::ecs_reads::Unread;
use crate::error::AlertError;
use crate::message::Alert;
use crate::service_event::{Kind, Problem, Subject, SubjectName, agent_problem};

impl Alerter {
    /// Alert on a service-level problem, then remember it as open so its recovery is sent once.
    pub(super) async fn problem(
        &self,
        problem: Problem,
        event: &Value,
        deadline: Instant,
    ) -> Result<Value, AlertError> {
        let mut alert = Alert::for_problem(&problem);
        if let (Kind::DeploymentFailed, Some(id), SubjectName::Service(service)) =
            (problem.kind, &problem.deployment_id, &problem.subject.name)
            && self.reads_in(&problem.subject.account, "the deployment's task definitions")
        {
            match self.ecs_reads.rollback(&problem.subject.cluster, service, id).await {
                Ok(rollback) => alert = alert.with_rollback(rollback.failed, rollback.rolled_back_to),
                Err(unread) => info!(reason = %unread, "the deployment's task definitions were not read"),
            }
        }
        let answer = self.alert(alert, event, deadline).await?;
        if answer["status"] == "sent"
            && let Some(suppression) = &self.suppression
            && let Err(failure) = suppression.open(&problem.subject, problem.kind).await
        {
            warn!(error = %failure, "could not remember the open problem: its resolution will not be sent");
        }
        Ok(answer)
    }

    /// A recovery: the resolution of the problems it ends that were alerted, once. The open problems
    /// are claimed for the event, the resolution sent, and the claim finished (see
    /// [`crate::suppress`]'s `open`). A failure before the resolution is delivered fails the
    /// invocation, and Lambda's retry of the same event finds its claim again and sends it; a second
    /// delivery of the event after that finds nothing open. (Two deliveries of one event at the same
    /// moment both hold the claim and both send: at least once, as every delivery here.)
    pub(super) async fn recovery(
        &self,
        subject: &Subject,
        ends: &[Kind],
        event_name: &str,
        at: Option<String>,
        event: &Value,
        deadline: Instant,
    ) -> Result<Value, AlertError> {
        let Some(suppression) = &self.suppression else {
            let why = format!("{event_name}: without SUPPRESSION_TABLE no alert is known to be open");
            info!(reason = %why, "ignored");
            return Ok(json!({"status": "ignored", "reason": why}));
        };
        let event_id = event["id"].as_str().filter(|id| !id.is_empty()).unwrap_or(event_name);
        let claimed = suppression
            .claim_recovery(subject, ends, event_id)
            .await
            .map_err(|failure| AlertError::OpenProblems { event_name: event_name.to_string(), failure })?;
        if claimed.is_empty() {
            let why = format!("{event_name}: no alert of {} is open", subject.label());
            info!(reason = %why, event = event_id, "ignored");
            return Ok(json!({"status": "ignored", "reason": why}));
        }
        let alert = Alert::resolution(subject, &claimed, event_name, at);
        let sent = self.send(&alert, deadline).await?;
        if let Err(failure) = suppression.finish_recovery(subject, &claimed, event_id).await {
            warn!(error = %failure, "resolution sent, but its problems stay open: a later recovery may repeat it");
        }
        Ok(sent)
    }

    /// Queue the second look at a disconnected agent, the grace period from now.
    ///
    /// Another account's agent gets no second look (DescribeContainerInstances is read in this
    /// account only), and is not alerted on at once either: ECS's agent "disconnects and reconnects
    /// several times per hour as a part of its normal operation" (see [`crate::agent`]), so an alert
    /// on every disconnect would be wrong far more often than right. A stranded instance's tasks
    /// still alert when they stop; `AGENT_DISCONNECT_GRACE_SECONDS=0` alerts on every disconnect.
    pub(super) async fn look_later(&self, look: &LookAgain) -> Result<Value, AlertError> {
        if self.in_another_account(Some(&look.account)) {
            let why = format!(
                "an agent disconnected in account {}: another account's instances cannot be looked at again \
                 (set AGENT_DISCONNECT_GRACE_SECONDS=0 to alert at once)",
                look.account
            );
            info!(reason = %why, "ignored");
            return Ok(json!({"status": "ignored", "reason": why}));
        }
        let Some(queue) = &self.look_again else {
            let why = "an agent disconnected, but without LOOK_AGAIN_QUEUE_URL it cannot be looked at again \
                       (set AGENT_DISCONNECT_GRACE_SECONDS=0 to alert at once)";
            info!(reason = why, "ignored");
            return Ok(json!({"status": "ignored", "reason": why}));
        };
        let message_id = queue.send(look).await.map_err(|failure| AlertError::LookAgain { failure })?;
        let instance = &look.container_instance_arn;
        info!(instance, message_id, delay_s = look.grace_seconds, "agent disconnected: looking again later");
        Ok(json!({"status": "looking-again", "instance": instance, "delaySeconds": look.grace_seconds}))
    }

    /// The grace period is over: alert on each instance still stranded.
    pub(super) async fn look_now(&self, looks: Vec<LookAgain>, deadline: Instant) -> Result<Value, AlertError> {
        let mut answers = Vec::new();
        for look in looks {
            answers.push(self.look(&look, deadline).await?);
        }
        Ok(if answers.len() == 1 { answers.remove(0) } else { Value::Array(answers) })
    }

    async fn look(&self, look: &LookAgain, deadline: Instant) -> Result<Value, AlertError> {
        let instance = &look.container_instance_arn;
        if !self.reads_in(&look.account, "a disconnected agent's second look") {
            let why = format!("instance {instance} is in account {}, not this one", look.account);
            return Ok(json!({"status": "ignored", "reason": why}));
        }
        let state = match self.ecs_reads.instance(look).await {
            Ok(state) => state,
            Err(Unread::Aws(failure)) => return Err(AlertError::SecondLook { failure }),
            Err(gone) => {
                info!(instance, reason = %gone, "not alerted");
                return Ok(json!({"status": "ignored", "reason": gone.to_string()}));
            }
        };
        if let Err(why) = state.still_stranded() {
            info!(instance, reason = %why, "not alerted");
            return Ok(json!({"status": "ignored", "reason": why}));
        }
        let mut problem = agent_problem(look.subject(), &state, Some(look.grace_seconds));
        problem.at = look.disconnected_at.clone();
        problem.container_instance_arn = Some(instance.clone());
        self.problem(problem, &Value::Null, deadline).await
    }

    /// Whether an event from `account` is this account's (or the stack's account is unknown), and so
    /// the function may read `what` from ECS; logs one line when it may not.
    pub(super) fn reads_in(&self, account: &str, what: &str) -> bool {
        let another = self.in_another_account(Some(account));
        if another {
            info!(account, "{what} not read: the event comes from another account (reads stay in this one)");
        }
        !another
    }

    /// Whether `account` is another than the one the stack runs in (`STACK_ACCOUNT_ID`).
    pub(super) fn in_another_account(&self, account: Option<&str>) -> bool {
        is_another(self.config.stack_account.as_deref(), account)
    }
}
