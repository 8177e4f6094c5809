//! What [`Lifecycle`] makes of Auto Scaling's and SQS's answers, each scripted with
//! `aws_smithy_mocks` (no network): an action no longer active is an outcome, not an error; a
//! throttled action is for the next run, a throttled queue is not (there is no next run without it).

use std::time::Duration;

use aws_sdk_autoscaling::error::ErrorMetadata;
use aws_sdk_autoscaling::operation::complete_lifecycle_action::CompleteLifecycleActionError;
use aws_sdk_autoscaling::operation::record_lifecycle_action_heartbeat::{
    RecordLifecycleActionHeartbeatError, RecordLifecycleActionHeartbeatOutput,
};
use aws_sdk_sqs::operation::send_message::SendMessageError;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use shared::aws::test_config;
use tokio::time::Instant;

use super::*;

/// Auto Scaling and SQS answering by their rules, one call each, in order (another call fails the test).
async fn lifecycle(autoscaling: &[&Rule], sqs: &[&Rule]) -> Lifecycle {
    let mocks = |rules: &[&Rule]| {
        let sequential = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
        rules.iter().fold(sequential, |mocks, rule| mocks.with_rule(rule))
    };
    let config = test_config(create_mock_http_client()).await;
    let autoscaling_config = aws_sdk_autoscaling::config::Builder::from(&config).interceptor(mocks(autoscaling));
    let sqs_config = aws_sdk_sqs::config::Builder::from(&config).interceptor(mocks(sqs));
    let queue = "https://sqs.us-east-1.amazonaws.com/123456789012/drain".to_string();
    Lifecycle::new(AutoScaling::from_conf(autoscaling_config.build()), Sqs::from_conf(sqs_config.build()), queue)
}

fn refusal(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

/// Paced in an account of its own: a throttle in one test must not slow another.
fn pace(account: &str, until: Instant) -> Pace {
    Pace { account: account.into(), region: "us-east-1".into(), until }
}

fn job() -> DrainJob {
    DrainJob {
        auto_scaling_group: "ecs-asg".into(),
        hook: "drain".into(),
        instance_id: "i-0a1b2c3d".into(),
        token: "3f1c0a8e-EXAMPLE".into(),
        metadata_cluster: None,
        account: None,
        found: None,
        started_at_ms: 0,
        round: 0,
    }
}

#[tokio::test]
async fn an_action_no_longer_active_is_an_outcome() {
    let over = mock!(AutoScaling::complete_lifecycle_action).then_error(|| {
        CompleteLifecycleActionError::generic(refusal(
            "ValidationError",
            "No active Lifecycle Action found with instance ID i-0a1b2c3d",
        ))
    });
    let beat = mock!(AutoScaling::record_lifecycle_action_heartbeat)
        .then_output(|| RecordLifecycleActionHeartbeatOutput::builder().build());
    let lifecycle = lifecycle(&[&over, &beat], &[]).await;
    let paced = pace("111111111111", Instant::now() + Duration::from_secs(30));
    assert_eq!(
        lifecycle.complete(&job(), LifecycleResult::Continue, &paced).await.ok(),
        Some(LifecycleAnswer::NotActive)
    );
    assert_eq!(lifecycle.heartbeat(&job(), &paced).await.ok(), Some(LifecycleAnswer::Done));
}

#[tokio::test]
async fn other_refusals_of_the_action_end_the_run() {
    let invalid = mock!(AutoScaling::complete_lifecycle_action).then_error(|| {
        CompleteLifecycleActionError::generic(refusal("ValidationError", "Invalid token 3f1c0a8e-EXAMPLE"))
    });
    // Past its time (`until` now), a throttled heartbeat is not tried again: the next run beats.
    let throttled = mock!(AutoScaling::record_lifecycle_action_heartbeat)
        .then_error(|| RecordLifecycleActionHeartbeatError::generic(refusal("Throttling", "Rate exceeded")));
    let lifecycle = lifecycle(&[&invalid, &throttled], &[]).await;
    let paced = pace("222222222222", Instant::now());
    let error = lifecycle.complete(&job(), LifecycleResult::Continue, &paced).await.unwrap_err();
    assert!(error.is_permanent() && !error.is_throttled(), "{error:?}");
    let error = lifecycle.heartbeat(&job(), &paced).await.unwrap_err();
    assert!(error.is_throttled() && !error.is_permanent(), "{error:?}");
}

#[tokio::test]
async fn a_refused_hand_over_says_which_kind() {
    let send_refused = |code: &'static str, message: &'static str| {
        mock!(Sqs::send_message).then_error(move || SendMessageError::generic(refusal(code, message)))
    };
    let throttled = send_refused("RequestThrottled", "Request is throttled.");
    let denied = send_refused("AccessDenied", "Access to the resource https://sqs.us-east-1.amazonaws.com/ is denied.");
    let lifecycle = lifecycle(&[], &[&throttled, &denied]).await;
    // The queue's throttle is not the drain's: the next run needs the message to exist.
    let error = lifecycle.hand_over(&job(), Duration::from_secs(60)).await.unwrap_err();
    assert!(!error.is_throttled() && !error.is_permanent(), "{error:?}");
    let error = lifecycle.hand_over(&job(), Duration::from_secs(60)).await.unwrap_err();
    assert!(error.is_permanent(), "{error:?}");
    assert!(error.to_string().ends_with("; allow sqs:SendMessage for this function's role"), "{error}");
}
