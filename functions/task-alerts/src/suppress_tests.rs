//! What [`Suppression`] makes of DynamoDB's answers, each scripted with `aws_smithy_mocks` (no
//! network): a failed condition is the decision (a duplicate, a storm's open window), any other
//! refusal is the caller's to log (it then sends without suppression).

use aws_sdk_dynamodb::error::ErrorMetadata;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use shared::aws::test_config;

use super::*;
use crate::diagnosis::{TaskDetail, diagnose};
use crate::service_event::{Kind, Subject};

/// The table answering by `rules`, one call each, in order (another call fails the test).
async fn suppression(rules: &[&Rule]) -> Suppression {
    let sequential = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    let mocks = rules.iter().fold(sequential, |mocks, rule| mocks.with_rule(rule));
    let config = aws_sdk_dynamodb::config::Builder::from(&test_config(create_mock_http_client()).await);
    Suppression::new(Client::from_conf(config.interceptor(mocks).build()), "alerts".into(), Duration::from_secs(900))
}

/// An UpdateItem that DynamoDB refuses with `code`.
fn refused(code: &'static str, message: &'static str) -> Rule {
    let refusal = move || ErrorMetadata::builder().code(code).message(message).build();
    mock!(Client::update_item).then_error(move || UpdateItemError::generic(refusal()))
}

const CONDITION_FAILED: &str = "The conditional request failed";

fn alert() -> Alert {
    let task = TaskDetail {
        cluster_arn: Some("arn:aws:ecs:us-east-1:123456789012:cluster/prod".into()),
        group: Some("service:web".into()),
        stopped_reason: Some("Essential container in task exited".into()),
        ..TaskDetail::default()
    };
    Alert::new(&task, &diagnose(&task), "us-east-1", None)
}

#[tokio::test]
async fn a_task_marked_before_is_a_duplicate() {
    let first = mock!(Client::update_item).then_output(|| UpdateItemOutput::builder().build());
    let again = refused("ConditionalCheckFailedException", CONDITION_FAILED);
    let no_table = refused("ResourceNotFoundException", "Requested resource not found");
    let suppression = suppression(&[&first, &again, &no_table]).await;
    assert_eq!(suppression.mark("task#1").await.ok(), Some(true));
    assert_eq!(suppression.mark("task#1").await.ok(), Some(false), "a duplicate");
    let failure = suppression.mark("task#1").await.unwrap_err();
    assert!(failure.code == "ResourceNotFoundException" && !failure.is_transient(), "{failure:?}");
}

#[tokio::test]
async fn a_window_claimed_sends_and_says_how_many_were_held_back() {
    let claimed = mock!(Client::update_item).then_output(|| {
        UpdateItemOutput::builder()
            .attributes("suppressed", AttributeValue::N("3".into()))
            .attributes("since", AttributeValue::S("2024-05-01T10:00:00Z".into()))
            .build()
    });
    let (verdict, claim) =
        suppression(&[&claimed]).await.check(&alert(), "2024-05-01T10:20:00Z").await.expect("claimed");
    let since = Some("2024-05-01T10:00:00Z".to_string());
    assert_eq!(verdict, Verdict::Send { suppressed: 3, since: since.clone() });
    assert_eq!(claim, Some(Claim { storm: storm_key(&alert()), suppressed: 3, since }));
}

#[tokio::test]
async fn a_window_still_open_holds_the_stop_back() {
    let open = refused("ConditionalCheckFailedException", CONDITION_FAILED);
    let counted = mock!(Client::update_item)
        .match_requests(|r| r.condition_expression() == Some("attribute_exists(window_start)"))
        .then_output(|| UpdateItemOutput::builder().attributes("suppressed", AttributeValue::N("5".into())).build());
    let checked = suppression(&[&open, &counted]).await.check(&alert(), "2024-05-01T10:20:00Z").await;
    assert_eq!(checked.ok(), Some((Verdict::Suppressed { count: 5 }, None)));
}

#[tokio::test]
async fn a_throttled_claim_is_no_decision() {
    // Not counted either: the caller sends without suppression.
    let throttled = refused(
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    );
    let failure = suppression(&[&throttled]).await.check(&alert(), "2024-05-01T10:20:00Z").await.unwrap_err();
    assert!(failure.is_throttling() && failure.action == "dynamodb:UpdateItem", "{failure:?}");
    assert_eq!(throttled.num_calls(), 1);
}

#[test]
fn a_task_is_its_arn_whatever_the_version() {
    let arn = "arn:aws:ecs:us-east-1:123456789012:task/prod/5f6c1a2b3d4e4f5a8b9c0d1e2f3a4b5c";
    let id = "0d7f6c2e-3b1a-4c5d-9e8f-7a6b5c4d3e2f";
    assert_eq!(task_key(Some(arn), Some(id)), Some(format!("task#{arn}")));
    assert_eq!(task_key(Some(arn), None), Some(format!("task#{arn}")));
    assert_eq!(task_key(None, Some(id)), Some(format!("event#{id}")));
    assert_eq!(task_key(Some(""), Some(id)), Some(format!("event#{id}")));
    assert_eq!(task_key(None, None), None);
}

fn subject() -> Subject {
    Subject {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        cluster: "prod".into(),
        name: crate::service_event::SubjectName::Service("web".into()),
    }
}

#[tokio::test]
async fn a_recovery_claims_what_is_open_for_its_event_and_finishes_once_sent() {
    let open = mock!(Client::update_item)
        .match_requests(|r| r.update_expression() == Some("ADD kinds :kind SET expires_at = :ttl"))
        .then_output(|| UpdateItemOutput::builder().build());
    let claimed = mock!(Client::update_item)
        .match_requests(|r| {
            let condition = r.condition_expression().unwrap_or_default();
            condition.contains("contains(kinds, :k0) OR contains(kinds, :k1)")
                && condition.contains("resolving = :event OR resolving_at < :stale")
                && r.key().and_then(|key| key.get("pk")).and_then(|k| k.as_s().ok()).map(String::as_str)
                    == Some("open#123456789012/prod/web")
        })
        .then_output(|| {
            let kinds = AttributeValue::Ss(vec!["task_start_impaired".into(), "deployment_failed".into()]);
            UpdateItemOutput::builder().attributes("kinds", kinds).build()
        });
    let finished = mock!(Client::update_item)
        .match_requests(|r| {
            r.update_expression() == Some("DELETE kinds :closed REMOVE resolving, resolving_at")
                && r.condition_expression() == Some("resolving = :event")
        })
        .then_output(|| UpdateItemOutput::builder().build());
    let nothing_open = refused("ConditionalCheckFailedException", CONDITION_FAILED);
    let throttled = refused("ThrottlingException", "Rate exceeded");
    let suppression = suppression(&[&open, &claimed, &finished, &nothing_open, &throttled]).await;
    suppression.open(&subject(), Kind::TaskStartImpaired).await.expect("opened");
    let ends = crate::service_event::STEADY_STATE_ENDS;
    let kinds = suppression.claim_recovery(&subject(), ends, "event-1").await.expect("claimed");
    assert_eq!(kinds, vec![Kind::TaskStartImpaired]);
    suppression.finish_recovery(&subject(), &kinds, "event-1").await.expect("finished");
    assert_eq!(suppression.claim_recovery(&subject(), ends, "event-2").await.ok(), Some(vec![]), "nothing open");
    let failure = suppression.claim_recovery(&subject(), ends, "event-3").await.unwrap_err();
    assert!(failure.is_throttling(), "{failure:?}");
}
