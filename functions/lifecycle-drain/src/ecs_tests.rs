//! What [`Ecs`] makes of ECS's answers, each scripted with `aws_smithy_mocks` (no network): a
//! cluster that does not exist holds no instance; a refusal or a throttle that outlasts its time
//! ends the run with the hint its kind calls for ([`DrainError::is_permanent`],
//! [`DrainError::is_throttled`]).

use std::time::Duration;

use aws_sdk_ecs::error::ErrorMetadata;
use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
use aws_sdk_ecs::operation::list_container_instances::{ListContainerInstancesError, ListContainerInstancesOutput};
use aws_sdk_ecs::operation::update_container_instances_state::UpdateContainerInstancesStateOutput;
use aws_sdk_ecs::types::Failure;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use shared::aws::test_config;
use tokio::time::Instant;

use super::*;

const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
const INSTANCE: &str = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/0f1e2d3c";

/// ECS answering by `rules`, one call each, in order (another call fails the test).
async fn ecs(rules: &[&Rule]) -> Ecs {
    let sequential = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    let mocks = rules.iter().fold(sequential, |mocks, rule| mocks.with_rule(rule));
    let config = aws_sdk_ecs::config::Builder::from(&test_config(create_mock_http_client()).await);
    Ecs::new(Client::from_conf(config.interceptor(mocks).build()))
}

/// Paced in an account of its own: a throttle in one test must not slow another.
fn pace(account: &str, until: Instant) -> Pace {
    Pace { account: account.into(), region: "us-east-1".into(), until }
}

fn listing_refused(code: &'static str, message: &'static str) -> Rule {
    let refusal = move || ErrorMetadata::builder().code(code).message(message).build();
    mock!(Client::list_container_instances).then_error(move || ListContainerInstancesError::generic(refusal()))
}

#[tokio::test]
async fn a_cluster_that_does_not_exist_holds_no_instance() {
    let gone = listing_refused("ClusterNotFoundException", "Cluster not found.");
    let later = Instant::now() + Duration::from_secs(30);
    let found = ecs(&[&gone]).await.find("i-0a1b2c3d", None, Some("gone"), &pace("111111111111", later)).await;
    assert_eq!(found.ok(), Some(None));
}

#[tokio::test]
async fn the_live_record_of_an_instance_is_the_one_found() {
    let listed = mock!(Client::list_container_instances)
        .then_output(|| ListContainerInstancesOutput::builder().container_instance_arns(INSTANCE).build());
    let record = |status: &str| {
        aws_sdk_ecs::types::ContainerInstance::builder()
            .container_instance_arn(INSTANCE)
            .ec2_instance_id("i-0a1b2c3d")
            .status(status)
            .agent_connected(true)
            .build()
    };
    let (inactive, active) = (record("INACTIVE"), record("ACTIVE"));
    let described = mock!(Client::describe_container_instances).then_output(move || {
        DescribeContainerInstancesOutput::builder()
            .container_instances(inactive.clone())
            .container_instances(active.clone())
            .build()
    });
    let later = Instant::now() + Duration::from_secs(30);
    let found =
        ecs(&[&listed, &described]).await.find("i-0a1b2c3d", None, Some(CLUSTER), &pace("222222222222", later)).await;
    let found = found.expect("found").expect("an instance");
    assert_eq!((found.status.as_str(), found.found.cluster.as_str()), ("ACTIVE", CLUSTER));
}

#[tokio::test]
async fn a_refusal_is_final_and_a_throttle_is_for_the_next_run() {
    let denied = "User: arn:aws:sts::123456789012:assumed-role/drain/fn is not authorized to perform: ecs:ListContainerInstances";
    // (code, message, permanent, throttled, the hint). Past its time (`until` now), a throttled
    // listing is not tried again.
    let cases = [
        ("AccessDeniedException", denied, true, false, "; allow ecs:ListContainerInstances for this function's role"),
        ("ThrottlingException", "Rate exceeded", false, true, "; retried until the deadline: the next run tries again"),
    ];
    for (code, message, permanent, throttled, hint) in cases {
        let refused = listing_refused(code, message);
        let ecs = ecs(&[&refused]).await;
        let found = ecs.find("i-0a1b2c3d", None, Some(CLUSTER), &pace("333333333333", Instant::now())).await;
        let error = found.expect_err(code);
        assert_eq!((error.is_permanent(), error.is_throttled()), (permanent, throttled), "{code}");
        assert!(error.to_string().ends_with(hint), "{error}");
        assert_eq!(refused.num_calls(), 1, "{code}");
    }
}

#[tokio::test]
async fn a_failure_in_an_answer_is_a_failed_call() {
    let update = mock!(Client::update_container_instances_state).then_output(|| {
        let failure = Failure::builder().arn(INSTANCE).reason("MISSING").build();
        UpdateContainerInstancesStateOutput::builder().failures(failure).build()
    });
    let found = Found { cluster: CLUSTER.into(), container_instance_arn: INSTANCE.into() };
    let later = Instant::now() + Duration::from_secs(30);
    let error = ecs(&[&update]).await.set_draining(&found, &pace("444444444444", later)).await.unwrap_err();
    assert_eq!(error.to_string(), format!("ecs:UpdateContainerInstancesState failed with MISSING: for {INSTANCE}"));
}
