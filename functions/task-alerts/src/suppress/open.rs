//! Problems alerted and not yet resolved, per subject: the item `open#<account>/<cluster>/<subject>`
//! holds a string set `kinds` of [`Kind`] ids, expiring a week after the last problem (a resolution
//! that never came).
//!
//! A recovery (a steady state, a completed deployment, a reconnected agent) first *claims* the
//! problems it ends for its event (`resolving`, `resolving_at`), sends the resolution, then
//! *finishes*: only then are the kinds taken out. So a claim whose answer was lost (DynamoDB applied
//! the write, the function gave up waiting) is found again by Lambda's retry of the same event, and a
//! resolution that could not be delivered is sent by that retry: nothing is lost. Meanwhile another
//! recovery event finds them claimed and sends nothing; a claim older than [`CLAIM_STALE`] (its
//! event's retries are over) is taken over.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use shared::aws::AwsFailure;

use super::{ACTION, DAY, Suppression, epoch_seconds, number};
use crate::service_event::{Kind, Subject};

/// A week: a problem that is never resolved stops waiting for its resolution.
const OPEN_TTL: u64 = 7 * DAY;

/// How long a recovery's claim holds off the others: longer than Lambda's asynchronous retries of an
/// event take (two, within minutes), shorter than a service's steady-state reports come again.
const CLAIM_STALE: u64 = 15 * 60;

/// `open#<account>/<cluster>/<subject>`: `#` is in no cluster name, so it is no storm's key.
pub fn open_key(subject: &Subject) -> String {
    format!("open#{}/{}/{}", subject.account, subject.cluster, subject.label())
}

impl Suppression {
    /// Remember that `kind`'s problem of `subject` was alerted.
    pub async fn open(&self, subject: &Subject, kind: Kind) -> Result<(), AwsFailure> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(open_key(subject)))
            .update_expression("ADD kinds :kind SET expires_at = :ttl")
            .expression_attribute_values(":kind", AttributeValue::Ss(vec![kind.id().to_string()]))
            .expression_attribute_values(":ttl", number(epoch_seconds() + OPEN_TTL))
            .send()
            .await
            .map_err(AwsFailure::of(ACTION))?;
        Ok(())
    }

    /// Claim for `event` those of `ends` that are open for `subject`: empty when none is, or another
    /// recovery holds them (no item is written then).
    pub async fn claim_recovery(&self, subject: &Subject, ends: &[Kind], event: &str) -> Result<Vec<Kind>, AwsFailure> {
        let now = epoch_seconds();
        let mut values = HashMap::from([
            (":event".to_string(), AttributeValue::S(event.to_string())),
            (":now".to_string(), number(now)),
            (":stale".to_string(), number(now.saturating_sub(CLAIM_STALE))),
        ]);
        let mut any_open = Vec::new();
        for (i, kind) in ends.iter().enumerate() {
            values.insert(format!(":k{i}"), AttributeValue::S(kind.id().to_string()));
            any_open.push(format!("contains(kinds, :k{i})"));
        }
        let condition = format!(
            "({}) AND (attribute_not_exists(resolving) OR resolving = :event OR resolving_at < :stale)",
            any_open.join(" OR ")
        );
        let claimed = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(open_key(subject)))
            .update_expression("SET resolving = :event, resolving_at = :now")
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let item = match claimed {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e) => {
                let failure = AwsFailure::from_sdk(ACTION, &e);
                return if failure.code_is("ConditionalCheckFailedException") { Ok(Vec::new()) } else { Err(failure) };
            }
        };
        let open = item.get("kinds").and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default();
        Ok(ends.iter().copied().filter(|k| open.iter().any(|id| id == k.id())).collect())
    }

    /// The resolution of `closed` was delivered: take them out, and end `event`'s claim (unless a
    /// later recovery took it over: then that one closes them).
    pub async fn finish_recovery(&self, subject: &Subject, closed: &[Kind], event: &str) -> Result<(), AwsFailure> {
        let ids: Vec<String> = closed.iter().map(|k| k.id().to_string()).collect();
        let finished = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(open_key(subject)))
            .update_expression("DELETE kinds :closed REMOVE resolving, resolving_at")
            .condition_expression("resolving = :event")
            .expression_attribute_values(":closed", AttributeValue::Ss(ids))
            .expression_attribute_values(":event", AttributeValue::S(event.to_string()))
            .send()
            .await;
        match finished {
            Ok(_) => Ok(()),
            Err(e) => {
                let failure = AwsFailure::from_sdk(ACTION, &e);
                if failure.code_is("ConditionalCheckFailedException") { Ok(()) } else { Err(failure) }
            }
        }
    }
}
