//! Duplicates and storms, remembered in DynamoDB so every execution environment agrees.
//!
//! Two kinds of item:
//! - one per stopped task, `task#<taskArn>`: `handled` (epoch seconds) once an invocation took the
//!   task on, and `expires_at` (DynamoDB's TTL) two days later, past EventBridge's day of retries
//!   and Lambda's hour. A task stops once: every later event of it is a duplicate, whether
//!   EventBridge delivered the same event again (the same `detail.version`) or ECS reported a later
//!   change of the stopped task (a higher `detail.version`: "each time a resource changes state,
//!   this version is incremented", and a container's stop is a state change of its own; Amazon ECS
//!   Developer Guide, "Amazon ECS events" and "Amazon ECS task state change events",
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_cwe_events.html>,
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html>). Such a later
//!   event may even diagnose into another category, that is another storm: so the task, not the
//!   storm, remembers it.
//! - one per (cluster, service or family, category), the "storm" key: `window_start` (epoch
//!   seconds), when the last alert of this storm was sent; `suppressed`, `since`: how many stops
//!   were held back since then, and the first one's time; `expires_at`, a day after the window.
//!
//! - one per alerted service-level problem's subject, `open#<account>/<cluster>/<subject>`: the
//!   problems a recovery resolves (see `open`).
//!
//! Deciding takes conditional writes only, so two invocations at the same time cannot both send:
//! 1. mark the task (if unmarked) → else it is a duplicate: do not send;
//! 2. claim the storm's window (the item is new, or its window is over) → send, and say how many
//!    were suppressed before;
//! 3. else count the stop as suppressed → do not send.
//!
//! If the alert then cannot be delivered, both are undone ([`Suppression::release`]), so that
//! Lambda's retry of the event is neither a duplicate nor held back.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use shared::aws::AwsFailure;

use crate::message::Alert;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send, saying how many similar stops were held back since the last alert, and since when.
    Send { suppressed: u64, since: Option<String> },
    /// Held back: the storm's window is still open. `count` so far in this window.
    Suppressed { count: u64 },
}

/// What a window claim replaced, to put back if the alert then cannot be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub storm: String,
    pub suppressed: u64,
    pub since: Option<String>,
}

pub struct Suppression {
    client: Client,
    table: String,
    window: Duration,
}

const ACTION: &str = "dynamodb:UpdateItem";
const DAY: u64 = 86_400;
/// How long a task's mark lives: longer than EventBridge retries an event (a day, the stack's
/// `MaximumEventAgeInSeconds`) plus Lambda's own retries (an hour).
const TASK_MARK_TTL: u64 = 2 * DAY;

impl Suppression {
    pub fn new(client: Client, table: String, window: Duration) -> Self {
        Suppression { client, table, window }
    }

    /// Mark the task as handled: `false` if it already was (a duplicate).
    pub async fn mark(&self, task: &str) -> Result<bool, AwsFailure> {
        let now = epoch_seconds();
        let mark = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(task.to_string()))
            .update_expression("SET handled = :now, expires_at = :ttl")
            .condition_expression("attribute_not_exists(handled)")
            .expression_attribute_values(":now", number(now))
            .expression_attribute_values(":ttl", number(now + TASK_MARK_TTL))
            .send()
            .await;
        match mark {
            Ok(_) => Ok(true),
            Err(e) => {
                let failure = AwsFailure::from_sdk(ACTION, &e);
                if failure.code_is("ConditionalCheckFailedException") { Ok(false) } else { Err(failure) }
            }
        }
    }

    /// Forget the mark, so that Lambda's retry of an alert that was not delivered is not a duplicate.
    pub async fn unmark(&self, task: &str) -> Result<(), AwsFailure> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(task.to_string()))
            .update_expression("REMOVE handled")
            .send()
            .await
            .map_err(AwsFailure::of(ACTION))?;
        Ok(())
    }

    /// Claim the storm's window or count the stop in it. `since` is this stop's time, kept if it
    /// turns out to be the first one held back.
    pub async fn check(&self, alert: &Alert, since: &str) -> Result<(Verdict, Option<Claim>), AwsFailure> {
        let storm = storm_key(alert);
        let now = epoch_seconds();
        let values = |pairs: &[(&str, AttributeValue)]| -> HashMap<String, AttributeValue> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
        };
        let ttl = number(now + self.window.as_secs() + DAY);

        let claim = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(storm.clone()))
            // `seen`: the events of a window, as items written before tasks were marked kept them.
            .update_expression("SET window_start = :now, suppressed = :zero, expires_at = :ttl REMOVE since, seen")
            .condition_expression("attribute_not_exists(pk) OR window_start <= :cutoff")
            .set_expression_attribute_values(Some(values(&[
                (":now", number(now)),
                (":zero", number(0)),
                (":ttl", ttl.clone()),
                (":cutoff", number(now.saturating_sub(self.window.as_secs()))),
            ])))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match claim {
            Ok(out) => {
                let old = out.attributes.unwrap_or_default();
                let suppressed = old.get("suppressed").and_then(as_number).unwrap_or(0);
                let since = old.get("since").and_then(|v| v.as_s().ok()).cloned();
                let claim = Claim { storm, suppressed, since: since.clone() };
                return Ok((Verdict::Send { suppressed, since }, Some(claim)));
            }
            Err(e) => {
                let failure = AwsFailure::from_sdk(ACTION, &e);
                if !failure.code_is("ConditionalCheckFailedException") {
                    return Err(failure);
                }
            }
        }

        // The window is open. (Its item cannot have expired since: that is a day after the window.)
        let count = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(storm))
            .update_expression("ADD suppressed :one SET since = if_not_exists(since, :since), expires_at = :ttl")
            .condition_expression("attribute_exists(window_start)")
            .set_expression_attribute_values(Some(values(&[
                (":one", number(1)),
                (":since", AttributeValue::S(since.to_string())),
                (":ttl", ttl),
            ])))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(AwsFailure::of(ACTION))?;
        let count = count.attributes.unwrap_or_default().get("suppressed").and_then(as_number).unwrap_or(1);
        Ok((Verdict::Suppressed { count }, None))
    }

    /// Undo a claim whose alert was not delivered: reopen the window and restore the count.
    pub async fn release(&self, claim: &Claim) -> Result<(), AwsFailure> {
        let mut values =
            HashMap::from([(":zero".to_string(), number(0)), (":count".to_string(), number(claim.suppressed))]);
        let expression = match &claim.since {
            Some(since) => {
                values.insert(":since".into(), AttributeValue::S(since.clone()));
                "SET window_start = :zero, suppressed = :count, since = :since"
            }
            None => "SET window_start = :zero, suppressed = :count",
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(claim.storm.clone()))
            .update_expression(expression)
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(AwsFailure::of(ACTION))?;
        Ok(())
    }
}

mod open;

pub use open::open_key;

/// `<account>/<cluster>/<service or family>/<category>`: what a storm is. The account keeps two
/// accounts' services of the same names (each with a cluster `prod` and a service `api`, say)
/// apart when one stack alerts for many; without one, `<cluster>/<service or family>/<category>`.
pub fn storm_key(alert: &Alert) -> String {
    let account = alert.account.as_deref().filter(|a| !a.is_empty()).map(|a| format!("{a}/")).unwrap_or_default();
    format!("{account}{}/{}/{}", alert.cluster, alert.service_or_family(), alert.kind.id())
}

/// `task#<taskArn>`: the item that says a task's stop was handled, whichever of its events came
/// first (`#` is in no cluster name, so it cannot be a storm's key). Without a task ARN, the
/// EventBridge event's `id` (the same in each delivery of one event); without either, `None`: no
/// duplicate can be recognised.
pub fn task_key(task_arn: Option<&str>, event_id: Option<&str>) -> Option<String> {
    match (task_arn.filter(|a| !a.is_empty()), event_id.filter(|i| !i.is_empty())) {
        (Some(arn), _) => Some(format!("task#{arn}")),
        (None, Some(id)) => Some(format!("event#{id}")),
        (None, None) => None,
    }
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn as_number(value: &AttributeValue) -> Option<u64> {
    value.as_n().ok()?.parse().ok()
}

fn epoch_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
#[path = "suppress_tests.rs"]
mod tests;
