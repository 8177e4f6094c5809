//! What [`Ec2Api`] makes of EC2's refusals, each scripted with `aws_smithy_mocks` (no network):
//! the codes that are an outcome (a rule already there or already gone, a group gone with its
//! rules) and those that become the error the stack event shows. The batch fallbacks, which need
//! EC2's own XML, are in `ec2_tests.rs`.

use std::time::Duration;

use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::authorize_security_group_ingress::AuthorizeSecurityGroupIngressError;
use aws_sdk_ec2::operation::describe_security_groups::{DescribeSecurityGroupsError, DescribeSecurityGroupsOutput};
use aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsError;
use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsError;
use aws_sdk_ec2::operation::revoke_security_group_egress::RevokeSecurityGroupEgressError;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use shared::aws::test_config;
use tokio::time::Instant;

use super::*;

/// EC2 answering by `rules`, one call each, in order (another call fails the test).
async fn network(rules: &[&Rule]) -> Ec2Api {
    let sequential = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    let mocks = rules.iter().fold(sequential, |mocks, rule| mocks.with_rule(rule));
    let config = aws_sdk_ec2::config::Builder::from(&test_config(create_mock_http_client()).await);
    Ec2Api { ec2: Ec2::from_conf(config.interceptor(mocks).build()) }
}

/// EC2's error: its code and message, as EC2 spells them.
fn refusal(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

/// Paced in an account of its own (`account`): a throttle in one test must not slow another.
fn pace(account: &str, until: Instant) -> Pace {
    Pace { account: account.into(), region: "us-east-1".into(), until }
}

/// Rules for `sg-e1`'s ingress, owner `o`, description `d`.
fn grant() -> Grant<'static> {
    Grant { group_id: "sg-e1", direction: Direction::Ingress, owner: "o", description: "d" }
}

fn ingress(peer: &str) -> RuleSpec {
    RuleSpec { group_id: "sg-e1".into(), direction: Direction::Ingress, port: 443, peer: Peer::Group(peer.into()) }
}

#[tokio::test]
async fn the_group_ec2_does_not_know_is_named() {
    let missing = || {
        DescribeSecurityGroupsError::generic(refusal(
            "InvalidGroup.NotFound",
            "The security group 'sg-2' does not exist",
        ))
    };
    let batch = mock!(Ec2::describe_security_groups).then_error(missing);
    let first = mock!(Ec2::describe_security_groups)
        .match_requests(|r| r.group_ids() == ["sg-1"])
        .then_output(|| DescribeSecurityGroupsOutput::builder().build());
    let second = mock!(Ec2::describe_security_groups).match_requests(|r| r.group_ids() == ["sg-2"]).then_error(missing);
    let found = network(&[&batch, &first, &second]).await.group_vpcs(&["sg-1".into(), "sg-2".into()]).await;
    assert!(matches!(&found, Err(AccessError::GroupNotFound { group_id }) if group_id == "sg-2"), "{found:?}");

    let vpc = mock!(Ec2::describe_vpcs).then_error(|| {
        DescribeVpcsError::generic(refusal("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist"))
    });
    let found = network(&[&vpc]).await.vpc_cidrs("vpc-1").await;
    assert!(matches!(&found, Err(AccessError::VpcNotFound { vpc_id }) if vpc_id == "vpc-1"), "{found:?}");
}

#[tokio::test]
async fn authorize_refusals_that_are_outcomes_and_those_that_are_not() {
    let refused = |code: &'static str, message: &'static str| {
        mock!(Ec2::authorize_security_group_ingress)
            .then_error(move || AuthorizeSecurityGroupIngressError::generic(refusal(code, message)))
    };
    // One rule, already there: left alone, nothing to undo.
    let duplicate = refused("InvalidPermission.Duplicate", "the specified rule already exists");
    let mut undo = Vec::new();
    let later = Instant::now() + Duration::from_secs(30);
    let added = network(&[&duplicate])
        .await
        .authorize(&pace("111111111111", later), &grant(), &[ingress("sg-t1")], &mut undo)
        .await;
    assert!(added.is_ok() && undo.is_empty(), "{added:?} {undo:?}");
    // The rest are errors of their own, or AWS's with the hint; a throttle past its time
    // (`until` now) is not tried again.
    let group_gone = refused("InvalidGroup.NotFound", "The security group 'sg-e1' does not exist");
    let denied = refused("UnauthorizedOperation", "You are not authorized to perform this operation.");
    let throttled = refused("RequestLimitExceeded", "Request limit exceeded.");
    let mut errors = Vec::new();
    for rule in [&group_gone, &denied, &throttled] {
        let paced = pace("222222222222", Instant::now());
        let one = [ingress("sg-t1")];
        let network = network(&[rule]).await;
        let added = network.authorize(&paced, &grant(), &one, &mut undo).await;
        errors.push(added.unwrap_err());
        assert_eq!(rule.num_calls(), 1);
    }
    assert!(matches!(&errors[0], AccessError::GroupNotFound { group_id } if group_id == "sg-e1"), "{:?}", errors[0]);
    assert!(matches!(&errors[1], AccessError::Aws(f) if f.is_access_denied()), "{:?}", errors[1]);
    assert_eq!(
        errors[1].to_string(),
        "ec2:AuthorizeSecurityGroupIngress failed with UnauthorizedOperation: You are not authorized to perform this operation.; the function's role lacks this permission"
    );
    assert!(matches!(&errors[2], AccessError::Aws(f) if f.is_throttling()), "{:?}", errors[2]);
    assert!(errors[2].to_string().ends_with("; AWS kept throttling after retries: retry the stack operation later"));
}

#[tokio::test]
async fn a_rule_gone_with_its_group_counts_as_revoked() {
    let gone = mock!(Ec2::revoke_security_group_egress).then_error(|| {
        RevokeSecurityGroupEgressError::generic(refusal(
            "InvalidGroup.NotFound",
            "The security group 'sg-t1' does not exist",
        ))
    });
    let mut revoked = 0;
    let ids = ["sgr-1".to_string(), "sgr-2".to_string()];
    let later = Instant::now() + Duration::from_secs(30);
    let result = network(&[&gone])
        .await
        .revoke(&pace("333333333333", later), "sg-t1", Direction::Egress, &ids, &mut revoked)
        .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(revoked, 2);
}

#[tokio::test]
async fn a_failed_page_names_the_read() {
    let denied = mock!(Ec2::describe_vpc_endpoints).then_error(|| {
        DescribeVpcEndpointsError::generic(refusal(
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        ))
    });
    let error = network(&[&denied]).await.endpoints("vpc-1").await.unwrap_err().to_string();
    assert!(
        error.starts_with("ec2:DescribeVpcEndpoints failed with UnauthorizedOperation")
            && error.ends_with("; the function's role lacks this permission"),
        "{error}"
    );
}
