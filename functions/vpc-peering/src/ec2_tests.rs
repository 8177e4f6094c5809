//! What [`Ec2Api`] makes of EC2's answers, each scripted with `aws_smithy_mocks` (no network): the
//! codes it turns into an outcome (a route already there, a connection EC2 does not know yet) and
//! the ones it turns into the error the stack event shows.

use std::time::Duration;

use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::accept_vpc_peering_connection::AcceptVpcPeeringConnectionError;
use aws_sdk_ec2::operation::create_route::{CreateRouteError, CreateRouteOutput};
use aws_sdk_ec2::operation::delete_route::DeleteRouteError;
use aws_sdk_ec2::operation::delete_vpc_peering_connection::DeleteVpcPeeringConnectionError;
use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsError;
use aws_sdk_ec2::operation::replace_route::ReplaceRouteError;
use aws_sdk_ec2::types::Route as Ec2Route;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use shared::aws::test_config;

use super::*;

/// One side whose EC2 answers by `rules`, one call each, in order (another call fails the test).
/// Each test names its own account: the request-rate buckets are per account, and a throttle in
/// one test must not slow another.
async fn side(account: &str, rules: &[&Rule]) -> Ec2Api {
    let sequential = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    let mocks = rules.iter().fold(sequential, |mocks, rule| mocks.with_rule(rule));
    let config = aws_sdk_ec2::config::Builder::from(&test_config(create_mock_http_client()).await);
    let ec2 = Ec2::from_conf(config.interceptor(mocks).build());
    Ec2Api { ec2, account: account.into(), region: "us-east-1".into(), label: "local" }
}

/// EC2's error: its code and message, as EC2 spells them.
fn refusal(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn spec() -> RouteSpec {
    RouteSpec { table_id: "rtb-0a1b2c3d".into(), destination: "10.1.0.0/16".parse().unwrap() }
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

/// The table as DescribeRouteTables shows it, with one route to 10.1.0.0/16 through `route`.
fn table_with(route: Ec2Route) -> DescribeRouteTablesOutput {
    let table = aws_sdk_ec2::types::RouteTable::builder().route_table_id("rtb-0a1b2c3d").vpc_id("vpc-1").routes(route);
    DescribeRouteTablesOutput::builder().route_tables(table.build()).build()
}

#[tokio::test]
async fn a_route_already_there_is_ours_or_a_conflict() {
    let exists = || {
        CreateRouteError::generic(refusal("RouteAlreadyExists", "The route identified by 10.1.0.0/16 already exists."))
    };
    let through =
        |pcx: &str| Ec2Route::builder().destination_cidr_block("10.1.0.0/16").vpc_peering_connection_id(pcx).build();
    let igw = Ec2Route::builder().destination_cidr_block("10.1.0.0/16").gateway_id("igw-0a1b2c3d").build();
    let cases = [
        ("ours", table_with(through("pcx-new")), None),
        ("another connection", table_with(through("pcx-old")), Some(Target::Peering("pcx-old".into()))),
        ("a gateway", table_with(igw), Some(Target::Other { kind: "gateway", id: "igw-0a1b2c3d".into() })),
    ];
    for (case, table, conflict) in cases {
        let create = mock!(Ec2::create_route).then_error(exists);
        let describe = mock!(Ec2::describe_route_tables).then_output(move || table.clone());
        let side = side("111111111111", &[&create, &describe]).await;
        let result = side.add_route(&spec(), "pcx-new", later()).await;
        match (conflict, result) {
            (None, Ok(())) => {}
            (Some(target), Err(PeeringError::RouteConflicts(found))) => assert_eq!(found[0].target, target, "{case}"),
            (conflict, result) => panic!("{case}: expected a conflict with {conflict:?}, got {result:?}"),
        }
        assert_eq!(describe.num_calls(), 1, "{case}: the table is read to see whose route it is");
    }
}

#[tokio::test]
async fn route_writes_that_need_no_error() {
    // A route gone before its replace is added instead.
    let replace = mock!(Ec2::replace_route).then_error(|| {
        ReplaceRouteError::generic(refusal("InvalidRoute.NotFound", "no route with destination-cidr-block 10.1.0.0/16"))
    });
    let create = mock!(Ec2::create_route).then_output(|| CreateRouteOutput::builder().r#return(true).build());
    let side1 = side("222222222222", &[&replace, &create]).await;
    assert!(side1.replace_route(&spec(), "pcx-old", "pcx-new", later()).await.is_ok());
    assert_eq!(create.num_calls(), 1, "added instead");
    // A route, or its table, already gone is removed.
    for code in ["InvalidRoute.NotFound", "InvalidRouteTableID.NotFound"] {
        let delete = mock!(Ec2::delete_route).then_error(move || DeleteRouteError::generic(refusal(code, "gone")));
        let removed = side("222222222222", &[&delete]).await.remove_route(&spec(), later()).await;
        assert!(removed.is_ok(), "{code}: {removed:?}");
    }
}

#[tokio::test]
async fn route_write_refusals_say_what_to_do() {
    let cases = [
        ("RouteLimitExceeded", "The maximum number of routes has been reached.", "has reached its route quota"),
        (
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
            "ec2:CreateRoute failed with UnauthorizedOperation: You are not authorized to perform this operation.; the role that made the call lacks this permission",
        ),
        // Past its time (`until` now), a throttled write is not tried again.
        ("RequestLimitExceeded", "Request limit exceeded.", "AWS kept throttling after retries"),
    ];
    for (code, message, says) in cases {
        let create = mock!(Ec2::create_route).then_error(move || CreateRouteError::generic(refusal(code, message)));
        let side = side("333333333333", &[&create]).await;
        let error = side.add_route(&spec(), "pcx-new", Instant::now()).await.unwrap_err();
        assert!(error.to_string().contains(says), "{code}: {error}");
        assert_eq!(create.num_calls(), 1, "{code}");
    }
}

#[tokio::test]
async fn a_connection_ec2_does_not_know_is_an_outcome() {
    let not_found = "The vpcPeeringConnection ID 'pcx-0a1b2c3d' does not exist";
    let accept = mock!(Ec2::accept_vpc_peering_connection)
        .then_error(move || AcceptVpcPeeringConnectionError::generic(refusal(PCX_NOT_FOUND, not_found)));
    let delete = mock!(Ec2::delete_vpc_peering_connection)
        .then_error(move || DeleteVpcPeeringConnectionError::generic(refusal(PCX_NOT_FOUND, not_found)));
    let initiating = mock!(Ec2::delete_vpc_peering_connection).then_error(|| {
        DeleteVpcPeeringConnectionError::generic(refusal("InvalidStateTransition", "initiating-request"))
    });
    let side = side("444444444444", &[&accept, &delete, &initiating]).await;
    assert_eq!(side.accept("pcx-0a1b2c3d").await.ok(), Some(false), "not visible here yet");
    assert_eq!(side.delete_connection("pcx-0a1b2c3d").await.ok(), Some(Deletion::NotFound));
    assert_eq!(side.delete_connection("pcx-0a1b2c3d").await.ok(), Some(Deletion::NotYet));
}

#[tokio::test]
async fn a_vpc_ec2_does_not_know_names_where_it_looked() {
    let describe = mock!(Ec2::describe_vpcs).then_error(|| {
        DescribeVpcsError::generic(refusal("InvalidVpcID.NotFound", "The vpc ID 'vpc-0a1b2c3d' does not exist"))
    });
    let side = side("555555555555", &[&describe]).await;
    let error = side.vpc("vpc-0a1b2c3d", false).await.unwrap_err();
    assert!(
        matches!(&error, PeeringError::VpcNotFound { vpc_id, account, .. } if vpc_id == "vpc-0a1b2c3d" && account == "555555555555"),
        "{error:?}"
    );
}
