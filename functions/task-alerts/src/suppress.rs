//! Duplicates and storms, remembered in DynamoDB so every execution environment agrees.
//!
//! One item per (cluster, service or family, category), the "storm" key:
//! - `window_start` (epoch seconds): when the last alert of this storm was sent;
//! - `suppressed`, `since`: how many stops were held back since then, and the first one's time;
//! - `seen`: the events (`taskArn#version`) of this window, so a duplicate is recognised;
//! - `expires_at`: DynamoDB's TTL, a day after the window.
//!
//! Deciding takes conditional writes only, so two invocations at the same time cannot both send:
//! 1. claim the window (the item is new, or its window is over and the event unseen) → send, and
//!    say how many were suppressed before;
//! 2. else count the event as suppressed (if unseen) → do not send;
//! 3. else it is a duplicate → do not send.

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
    /// This very event was already handled.
    Duplicate,
}

/// What a claim replaced, to put back if the alert then cannot be delivered (so Lambda's retry of
/// the same event is not taken for a duplicate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub storm: String,
    pub event: String,
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

impl Suppression {
    pub fn new(client: Client, table: String, window: Duration) -> Self {
        Suppression { client, table, window }
    }

    /// `since` is this stop's time, kept if it turns out to be the first one held back.
    pub async fn check(&self, alert: &Alert, event: &str, since: &str) -> Result<(Verdict, Option<Claim>), AwsFailure> {
        let storm = storm_key(alert);
        let now = epoch_seconds();
        let values = |pairs: &[(&str, AttributeValue)]| -> HashMap<String, AttributeValue> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
        };
        let seen = AttributeValue::Ss(vec![event.to_string()]);
        let ttl = number(now + self.window.as_secs() + DAY);

        let claim = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(storm.clone()))
            .update_expression(
                "SET window_start = :now, suppressed = :zero, seen = :seen, expires_at = :ttl REMOVE since",
            )
            .condition_expression(
                "attribute_not_exists(pk) OR (window_start <= :cutoff AND NOT contains(seen, :event))",
            )
            .set_expression_attribute_values(Some(values(&[
                (":now", number(now)),
                (":zero", number(0)),
                (":seen", seen.clone()),
                (":ttl", ttl.clone()),
                (":cutoff", number(now.saturating_sub(self.window.as_secs()))),
                (":event", AttributeValue::S(event.to_string())),
            ])))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match claim {
            Ok(out) => {
                let old = out.attributes.unwrap_or_default();
                let suppressed = old.get("suppressed").and_then(as_number).unwrap_or(0);
                let since = old.get("since").and_then(|v| v.as_s().ok()).cloned();
                let claim = Claim { storm, event: event.to_string(), suppressed, since: since.clone() };
                return Ok((Verdict::Send { suppressed, since }, Some(claim)));
            }
            Err(e) => {
                let failure = AwsFailure::from_sdk(ACTION, &e);
                if !failure.code_is("ConditionalCheckFailedException") {
                    return Err(failure);
                }
            }
        }

        let count = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(storm))
            .update_expression(
                "ADD suppressed :one, seen :seen SET since = if_not_exists(since, :since), expires_at = :ttl",
            )
            .condition_expression("attribute_exists(pk) AND NOT contains(seen, :event)")
            .set_expression_attribute_values(Some(values(&[
                (":one", number(1)),
                (":seen", seen),
                (":since", AttributeValue::S(since.to_string())),
                (":ttl", ttl),
                (":event", AttributeValue::S(event.to_string())),
            ])))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match count {
            Ok(out) => {
                let count = out.attributes.unwrap_or_default().get("suppressed").and_then(as_number).unwrap_or(1);
                Ok((Verdict::Suppressed { count }, None))
            }
            Err(e) => {
                let failure = AwsFailure::from_sdk(ACTION, &e);
                if failure.code_is("ConditionalCheckFailedException") {
                    Ok((Verdict::Duplicate, None))
                } else {
                    Err(failure)
                }
            }
        }
    }

    /// Undo a claim whose alert was not delivered: reopen the window, restore the count, forget the event.
    pub async fn release(&self, claim: &Claim) -> Result<(), AwsFailure> {
        let mut values = HashMap::from([
            (":zero".to_string(), number(0)),
            (":count".to_string(), number(claim.suppressed)),
            (":seen".to_string(), AttributeValue::Ss(vec![claim.event.clone()])),
        ]);
        let expression = match &claim.since {
            Some(since) => {
                values.insert(":since".into(), AttributeValue::S(since.clone()));
                "SET window_start = :zero, suppressed = :count, since = :since DELETE seen :seen"
            }
            None => "SET window_start = :zero, suppressed = :count DELETE seen :seen",
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

/// `<cluster>/<service or family>/<category>`: what a storm is.
pub fn storm_key(alert: &Alert) -> String {
    format!("{}/{}/{}", alert.cluster, alert.service_or_family(), alert.category.id())
}

/// `<taskArn>#<version>`: one event. Without a version (old events), the task's stop is the event.
pub fn event_key(task_arn: Option<&str>, version: Option<i64>) -> String {
    format!("{}#{}", task_arn.unwrap_or("unknown-task"), version.map_or("stopped".to_string(), |v| v.to_string()))
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
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task/prod/5f6c1a2b3d4e4f5a8b9c0d1e2f3a4b5c";
        assert_eq!(event_key(Some(arn), Some(6)), format!("{arn}#6"));
        assert_eq!(event_key(Some(arn), None), format!("{arn}#stopped"));
    }
}
