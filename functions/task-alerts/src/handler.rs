//! One event in: triage it, then send the alert to every configured destination at once, each
//! retried until shortly before the deadline. `Err` only when a destination kept failing.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_secretsmanager::Client as SecretsClient;
use aws_sdk_sns::Client as SnsClient;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::aws::{AwsFailure, CallsInFlight};
use shared::eventbridge::Configured;
use shared::http::Http;
use shared::metrics::{Emf, Unit};
use shared::retry::{Failure, GaveUp, deadline_instant, until_deadline};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::agent::Queue;
use crate::config::{Config, SnsFormat};
use crate::ecs_reads::EcsReads;
use crate::error::{AlertError, DeliveryError, DestinationFailure};
use crate::logs::{LogTail, Skipped};
use crate::message::Alert;
use crate::service_event::Kind as ServiceKind;
use crate::suppress::{Claim, Suppression, Verdict, storm_key, task_key};
use crate::triage::{Triage, triage};
use crate::webhook::Webhook;

/// How long a suppression or log-line call may take, retries included.
const EXTRAS_TIMEOUT: Duration = Duration::from_secs(3);

/// Stop retrying this long before Lambda's deadline (at most a quarter of the time there is), so the
/// invocation ends with its own error instead of a timeout.
const DEADLINE_MARGIN: Duration = Duration::from_secs(1);

pub struct Alerter {
    config: Config,
    /// Built only for the destinations configured: a client takes ~0.5 ms of the cold start.
    sns: Option<SnsClient>,
    secrets: Option<SecretsClient>,
    http: Http,
    /// The webhook from the secret, and when it was read: re-read after the TTL (rotation).
    webhook: Mutex<Option<(Webhook, Instant)>>,
    suppression: Option<Suppression>,
    log_tail: LogTail,
    /// What service-level alerts read from ECS: a deployment's task definitions, an instance's state.
    ecs_reads: EcsReads,
    /// Where a disconnected agent waits for its second look; `None` without `LOOK_AGAIN_QUEUE_URL`.
    look_again: Option<Queue>,
}

mod service;

/// The Lambda handler. A bad configuration fails every invocation with its reason.
pub async fn handle(alerter: &Configured<Alerter>, event: LambdaEvent<Value>) -> Result<Value, AlertError> {
    alerter.handle(event, Alerter::handle).await
}

impl Alerter {
    /// The SDK clients retry nothing themselves: [`until_deadline`] does, knowing the deadline.
    pub fn new(config: Config, sdk: &aws_config::SdkConfig, http: Http) -> Self {
        // They name their unanswered calls when an attempt runs out of time.
        let no_retry = aws_config::retry::RetryConfig::disabled();
        let sns = config.topic_arn.as_ref().map(|_| {
            let sns = aws_sdk_sns::config::Builder::from(sdk).retry_config(no_retry.clone()).interceptor(CallsInFlight);
            SnsClient::from_conf(sns.build())
        });
        let secrets = config.webhook_secret.as_ref().map(|_| {
            let secrets =
                aws_sdk_secretsmanager::config::Builder::from(sdk).retry_config(no_retry).interceptor(CallsInFlight);
            SecretsClient::from_conf(secrets.build())
        });
        // The extras (suppression, log lines) answer in milliseconds or are skipped: they must not
        // eat the time the alert itself needs.
        let timeouts = aws_config::timeout::TimeoutConfig::builder().operation_timeout(EXTRAS_TIMEOUT).build();
        let quick = sdk.to_builder().timeout_config(timeouts).build();
        let suppression = config
            .suppression_table
            .clone()
            .map(|table| Suppression::new(aws_sdk_dynamodb::Client::new(&quick), table, config.suppression_window));
        let ecs = aws_sdk_ecs::Client::new(&quick);
        let ecs_reads = EcsReads::new(ecs.clone());
        let log_tail = LogTail::new(ecs, quick.clone(), config.log_lines);
        let look_again = config.look_again_queue.clone().map(|url| Queue::new(aws_sdk_sqs::Client::new(&quick), url));
        Alerter { config, sns, secrets, http, webhook: Mutex::new(None), suppression, log_tail, ecs_reads, look_again }
    }

    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, AlertError> {
        let deadline = deadline_instant(event.context.deadline);
        let left = deadline.saturating_duration_since(Instant::now());
        let deadline = deadline - DEADLINE_MARGIN.min(left / 4);
        let triaged = triage(&event.payload, &self.config);
        let kind = metric_kind(&triaged);
        let answered = match triaged {
            Triage::Ignore(why) => {
                info!(reason = %why, "ignored");
                Ok(json!({"status": "ignored", "reason": why}))
            }
            Triage::Reject(why) => {
                warn!(reason = %why, "rejected");
                Ok(json!({"status": "rejected", "reason": why}))
            }
            Triage::Alert(alert) => self.alert(*alert, &event.payload, deadline).await,
            Triage::Problem(problem) => self.problem(*problem, &event.payload, deadline).await,
            Triage::Recovery { subject, ends, event_name, at } => {
                self.recovery(&subject, &ends, &event_name, at, &event.payload, deadline).await
            }
            Triage::LookLater(look) => self.look_later(&look).await,
            Triage::LookNow(looks) => self.look_now(looks, deadline).await,
        };
        for (outcome, count) in outcomes(&answered) {
            let alerts = Emf::new().dimension("Kind", kind).dimension("Outcome", &outcome).rollup(&["Outcome"]);
            alerts.metric("Alerts", Unit::Count, f64::from(count)).emit();
        }
        answered
    }

    /// Suppress it, or add the log lines and send it; if it cannot be delivered, undo what it took
    /// in the suppression table so Lambda's retry of this event is neither a duplicate nor held back.
    async fn alert(&self, alert: Alert, event: &Value, deadline: Instant) -> Result<Value, AlertError> {
        let (mut alert, held) = match &self.suppression {
            None => (alert, Held::default()),
            Some(suppression) => match suppress(suppression, alert, event).await {
                Decided::Send(alert, held) => (*alert, held),
                Decided::Answer(answer) => return Ok(answer),
            },
        };
        if self.in_another_account(alert.account.as_deref()) {
            info!(reason = "the task runs in another account: logs are read in this one only", "log lines skipped");
        } else {
            match self.log_tail.fetch(&alert).await {
                Ok((stream, lines)) => alert = alert.with_log_tail(stream, lines),
                Err(Skipped::NotWanted) => {}
                Err(skipped) => info!(reason = %skipped, "log lines skipped"),
            }
        }
        let sent = self.send(&alert, deadline).await;
        if sent.is_err()
            && let Some(suppression) = &self.suppression
        {
            held.release(suppression).await;
        }
        sent
    }

    async fn send(&self, alert: &Alert, deadline: Instant) -> Result<Value, AlertError> {
        let alert = &alert.clone().for_account(&self.config.account_names, self.config.access_portal.as_ref());
        let title = alert.title();
        info!(category = alert.kind.id(), task = alert.task_arn.as_deref().unwrap_or(""), title = %title, "diagnosed");
        // Boxed: the SDK's futures nest deep enough to overflow the compiler's layout recursion.
        let (sns, webhook) =
            tokio::join!(Box::pin(self.publish(alert, deadline)), Box::pin(self.post(alert, deadline)));
        let (mut delivered, mut failed) = (Vec::new(), Vec::new());
        for (destination, result) in [("SNS", sns), ("webhook", webhook)] {
            match result {
                None => {}
                Some(Ok(attempts)) => delivered.push((destination, attempts)),
                Some(Err(GaveUp { attempts, last })) => {
                    let failure = DestinationFailure { destination, attempts, last };
                    error!(destination, error = %failure, "not delivered");
                    failed.push(failure);
                }
            }
        }
        if !failed.is_empty() {
            let delivered = delivered.iter().map(|(destination, _)| *destination).collect();
            return Err(AlertError::NotDelivered { title, failed, delivered });
        }
        let destinations: Vec<Value> = delivered
            .iter()
            .map(|(destination, attempts)| json!({"destination": destination, "attempts": attempts}))
            .collect();
        Ok(json!({"status": "sent", "category": alert.kind.id(), "title": title, "destinations": destinations}))
    }

    /// `None` when no topic is configured.
    async fn publish(&self, alert: &Alert, deadline: Instant) -> Option<Result<u32, GaveUp<DeliveryError>>> {
        let (topic, sns) = (self.config.topic_arn.as_deref()?, self.sns.as_ref()?);
        let (message, structure) = match self.config.sns_format {
            SnsFormat::PerProtocol => (alert.sns_per_protocol(), Some("json")),
            SnsFormat::Text => (alert.plain_text(), None),
            SnsFormat::AmazonQ => (alert.amazon_q_notification(&alert.thread_id()).to_string(), None),
        };
        let publish = |_budget| {
            let publish = sns.publish().topic_arn(topic).subject(alert.sns_subject()).message(&message);
            let call = publish.set_message_structure(structure.map(str::to_string)).send();
            async move {
                let out = call.await.map_err(|e| {
                    let failure = AwsFailure::from_sdk("sns:Publish", &e);
                    let granted = self.config.topic_kms_key.clone();
                    retryable(failure, |failure| DeliveryError::Sns { failure, topic: topic.to_string(), granted })
                })?;
                Ok(out.message_id.unwrap_or_default())
            }
        };
        let result = until_deadline("sns:Publish", deadline, publish).await;
        Some(result.map(|(message_id, attempts)| {
            info!(topic, message_id, attempts, "published to SNS");
            attempts
        }))
    }

    /// `None` when no webhook secret is configured.
    async fn post(&self, alert: &Alert, deadline: Instant) -> Option<Result<u32, GaveUp<DeliveryError>>> {
        let (secret, secrets) = (self.config.webhook_secret.as_deref()?, self.secrets.as_ref()?);
        let post = |budget| async move {
            let webhook = self.webhook(secrets, secret).await?;
            let payload = alert.webhook_payload(webhook.format);
            match webhook.post(&self.http, &payload, budget).await {
                Ok(status) => Ok((webhook.format, status)),
                Err(failure) => {
                    if let Failure::Final(_) = failure {
                        // A 4xx may mean the URL was rotated: read the secret again next time.
                        *self.webhook.lock().await = None;
                    }
                    Err(failure.map(DeliveryError::Post))
                }
            }
        };
        let result = until_deadline("webhook POST", deadline, post).await;
        Some(result.map(|((format, status), attempts)| {
            info!(format = ?format, status, attempts, "posted to webhook");
            attempts
        }))
    }

    /// The webhook, from the cache while it is younger than the TTL, else from Secrets Manager.
    async fn webhook(&self, secrets: &SecretsClient, secret: &str) -> Result<Webhook, Failure<DeliveryError>> {
        let mut cached = self.webhook.lock().await;
        if let Some((webhook, read_at)) = cached.as_ref()
            && read_at.elapsed() < self.config.secret_ttl
        {
            return Ok(webhook.clone());
        }
        let read = secrets.get_secret_value().secret_id(secret).send().await;
        let value = read.map_err(|e| {
            let failure = AwsFailure::from_sdk("secretsmanager:GetSecretValue", &e);
            retryable(failure, |failure| DeliveryError::SecretRead { secret: secret.to_string(), failure })
        })?;
        let unusable = |problem| Failure::Final(DeliveryError::SecretUnusable { secret: secret.to_string(), problem });
        let text = value.secret_string().ok_or_else(|| unusable(crate::webhook::UnusableSecret::Empty))?;
        let webhook = Webhook::from_secret(text, self.config.webhook_format).map_err(unusable)?;
        info!(secret, format = ?webhook.format, "read the webhook secret");
        *cached = Some((webhook.clone(), Instant::now()));
        Ok(webhook)
    }
}

enum Decided {
    /// Send it (saying how many similar stops were held back); undo `Held` if it is not delivered.
    Send(Box<Alert>, Held),
    /// Not sent: a duplicate, or held back. The invocation's answer.
    Answer(Value),
}

/// What an alert took in the suppression table: the task's mark and the storm's window.
#[derive(Default)]
struct Held {
    task: Option<String>,
    claim: Option<Claim>,
}

impl Held {
    async fn release(&self, suppression: &Suppression) {
        if let Some(claim) = &self.claim
            && let Err(failure) = suppression.release(claim).await
        {
            warn!(error = %failure, "could not reopen the storm's window: a retry of this event may be held back");
        }
        if let Some(task) = &self.task
            && let Err(failure) = suppression.unmark(task).await
        {
            warn!(error = %failure, "could not unmark the task: a retry of this event may be taken for a duplicate");
        }
    }
}

/// Mark the task, then claim the storm's window or count the stop in it. A table that cannot be
/// reached sends the alert anyway: better twice than never.
async fn suppress(suppression: &Suppression, mut alert: Alert, event: &Value) -> Decided {
    let mut held = Held::default();
    // A task stops once: its first STOPPED event decides, whatever `detail.version` a later one has.
    if let Some(task) = task_key(alert.task_arn.as_deref(), event["id"].as_str()) {
        match suppression.mark(&task).await {
            Ok(true) => held.task = Some(task),
            Ok(false) => {
                info!(task = %task, "duplicate: this task's stop was already handled");
                return Decided::Answer(json!({"status": "duplicate", "task": task}));
            }
            Err(failure) => {
                warn!(error = %failure, "suppression skipped: sending without it");
                return Decided::Send(Box::new(alert), held);
            }
        }
    }
    let since = alert.stopped_at.clone().or_else(|| event["time"].as_str().map(str::to_string)).unwrap_or_default();
    match suppression.check(&alert, &since).await {
        Ok((Verdict::Suppressed { count }, _)) => {
            let storm = storm_key(&alert);
            info!(storm = %storm, count, "suppressed: the same failure alerted within the window");
            return Decided::Answer(json!({"status": "suppressed", "storm": storm, "count": count}));
        }
        Ok((Verdict::Send { suppressed, since }, claim)) => {
            held.claim = claim;
            if suppressed > 0 {
                alert = alert.with_suppressed(suppressed, since);
            }
        }
        Err(failure) => warn!(error = %failure, "suppression skipped: sending without it"),
    }
    Decided::Send(Box::new(alert), held)
}

/// The `Kind` of an invocation's `Alerts` metric: the stop category or the service-level problem,
/// `resolution` for a recovery, `none` for what is not alerted on.
fn metric_kind(triaged: &Triage) -> &'static str {
    match triaged {
        Triage::Alert(alert) => alert.kind.id(),
        Triage::Problem(problem) => problem.kind.id(),
        Triage::Recovery { .. } => "resolution",
        Triage::LookLater(_) | Triage::LookNow(_) => ServiceKind::AgentDisconnected.id(),
        Triage::Ignore(_) | Triage::Reject(_) => "none",
    }
}

/// The `Outcome`s of an invocation and how many of each: its answers' `status` (`sent`,
/// `suppressed`, `duplicate`, `ignored`, `rejected`, `looking-again`; one per SQS record of a
/// second look), `failed` when it failed (Lambda retries the event).
fn outcomes(answered: &Result<Value, AlertError>) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    let answers = match answered {
        Ok(Value::Array(answers)) => answers.iter().collect(),
        Ok(answer) => vec![answer],
        Err(_) => {
            counts.insert("failed".to_string(), 1);
            return counts;
        }
    };
    for answer in answers {
        let status = answer["status"].as_str().unwrap_or("unknown").to_string();
        *counts.entry(status).or_default() += 1;
    }
    counts
}

fn retryable(failure: AwsFailure, wrap: impl FnOnce(AwsFailure) -> DeliveryError) -> Failure<DeliveryError> {
    if failure.is_transient() { Failure::Retryable(wrap(failure)) } else { Failure::Final(wrap(failure)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcomes_of_an_invocation() {
        let counted =
            |answered: Result<Value, AlertError>| -> Vec<(String, u32)> { outcomes(&answered).into_iter().collect() };
        let one = |status: &str| vec![(status.to_string(), 1)];
        for status in ["sent", "suppressed", "duplicate", "ignored", "rejected", "looking-again"] {
            assert_eq!(counted(Ok(json!({"status": status, "reason": "…"}))), one(status));
        }
        let looks = json!([{"status": "sent"}, {"status": "ignored"}, {"status": "sent"}]);
        assert_eq!(counted(Ok(looks)), vec![("ignored".to_string(), 1), ("sent".to_string(), 2)]);
        let failure = AwsFailure { action: "sqs:SendMessage", code: "Throttling".into(), message: "slow".into() };
        assert_eq!(counted(Err(AlertError::LookAgain { failure })), one("failed"));
    }
}
