//! The service-level flows of the handler: a problem is alerted like a stopped task (duplicates and
//! storms suppressed) and remembered as open; a recovery sends a resolution only for what was open;
//! a disconnected agent waits on the queue for its second look.

use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::{info, warn};

use super::Alerter;
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

    /// A recovery: the resolution of the problems it ends that were alerted, once.
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
        let closed = suppression
            .close(subject, ends)
            .await
            .map_err(|failure| AlertError::OpenProblems { event_name: event_name.to_string(), failure })?;
        if closed.is_empty() {
            let why = format!("{event_name}: no alert of {} is open", subject.label());
            info!(reason = %why, event = event["id"].as_str().unwrap_or(""), "ignored");
            return Ok(json!({"status": "ignored", "reason": why}));
        }
        let alert = Alert::resolution(subject, &closed, event_name, at);
        let sent = self.send(&alert, deadline).await;
        if sent.is_err()
            && let Err(failure) = suppression.reopen(subject, &closed).await
        {
            warn!(error = %failure, "could not reopen the problem: Lambda's retry will not resend the resolution");
        }
        sent
    }

    /// Queue the second look at a disconnected agent, the grace period from now.
    pub(super) async fn look_later(&self, look: &LookAgain) -> Result<Value, AlertError> {
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
}
