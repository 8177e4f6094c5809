//! What [`StoppedTasks`] makes of ECS's answers, each scripted with `aws_smithy_mocks` (no network),
//! and the pure parts it is made of. The tasks are shaped as the DescribeTasks example of the API
//! reference (<https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html>),
//! stopped as ECS stops them.

use aws_sdk_ecs::error::ErrorMetadata;
use aws_sdk_ecs::operation::describe_services::{DescribeServicesError, DescribeServicesOutput};
use aws_sdk_ecs::operation::describe_tasks::{DescribeTasksError, DescribeTasksOutput};
use aws_sdk_ecs::operation::list_tasks::{ListTasksError, ListTasksOutput};
use aws_sdk_ecs::types::{Container as EcsContainer, LaunchType, Service, TaskStopCode};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use shared::aws::test_config;

use super::*;
use crate::diagnosis::{Category, diagnose};

const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

fn task_arn(id: &str) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{id}")
}

/// A task of `group` stopped at `stopped_at` (epoch seconds), its essential container exited 1.
fn stopped(id: &str, group: &str, stopped_at: Option<i64>) -> Task {
    let container = EcsContainer::builder()
        .name("web")
        .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2")
        .last_status("STOPPED")
        .exit_code(1)
        .build();
    let task = Task::builder()
        .cluster_arn(CLUSTER)
        .task_arn(task_arn(id))
        .task_definition_arn("arn:aws:ecs:us-east-1:123456789012:task-definition/web:42")
        .group(group)
        .launch_type(LaunchType::Fargate)
        .availability_zone("us-east-1b")
        .last_status("STOPPED")
        .desired_status("STOPPED")
        .stop_code(TaskStopCode::EssentialContainerExited)
        .stopped_reason("Essential container in task exited")
        .cpu("256")
        .memory("512")
        .containers(container)
        .version(4);
    match stopped_at {
        Some(at) => task.stopped_at(DateTime::from_secs(at)).build(),
        None => task.build(),
    }
}

/// ECS answering by `rules`, one call each, in order (another call fails the test).
async fn reads(rules: &[&Rule]) -> StoppedTasks {
    let sequential = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    let mocks = rules.iter().fold(sequential, |mocks, rule| mocks.with_rule(rule));
    let config = aws_sdk_ecs::config::Builder::from(&test_config(create_mock_http_client()).await);
    StoppedTasks::new(EcsClient::from_conf(config.interceptor(mocks).build()))
}

fn refusal(code: &'static str, message: &'static str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

#[test]
fn a_task_reads_as_a_describe_tasks_element() {
    let detail = task_detail(&stopped("a1", "service:web", Some(1_714_557_600)));
    assert_eq!(detail.stopped_at, Some(Timestamp::Text("2024-05-01T10:00:00Z".into())));
    assert_eq!(detail.stop_code.as_deref(), Some("EssentialContainerExited"));
    assert_eq!(detail.launch_type.as_deref(), Some("FARGATE"));
    assert_eq!(detail.containers[0].exit_code, Some(1));
    assert_eq!(detail.version, Some(4));
    // The same task through the stdin mode's parser gets the same diagnosis.
    let json = serde_json::json!({
        "clusterArn": CLUSTER, "taskArn": task_arn("a1"), "group": "service:web", "launchType": "FARGATE",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:42",
        "availabilityZone": "us-east-1b", "lastStatus": "STOPPED", "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited", "stoppedAt": "2024-05-01T10:00:00Z",
        "cpu": "256", "memory": "512", "version": 4,
        "containers": [{"name": "web", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
                        "lastStatus": "STOPPED", "exitCode": 1}],
    });
    let parsed = TaskDetail::from_json(&json.to_string()).expect("a task");
    assert_eq!(parsed, detail);
    assert_eq!(diagnose(&detail).category, Category::AppExit);
}

#[test]
fn one_task_found_or_missing() {
    let missing = Failure::builder().arn(task_arn("gone")).reason("MISSING").build();
    /// Name, DescribeTasks' `tasks` and `failures`, and the reason when the task is missing.
    type Case<'a> = (&'a str, Vec<Task>, Vec<Failure>, Option<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        ("found", vec![stopped("a1", "service:web", Some(1))], vec![], None),
        ("a failure", vec![], vec![missing], Some("MISSING")),
        ("nothing (moto)", vec![], vec![], Some("MISSING")),
    ];
    for (name, tasks, failures, want) in cases {
        match (lookup(&tasks, &failures), want) {
            (TaskLookup::Found { desired_status, .. }, None) => assert_eq!(desired_status.as_deref(), Some("STOPPED")),
            (TaskLookup::Missing { reason, .. }, Some(want)) => assert_eq!(reason, want, "{name}"),
            (got, _) => panic!("{name}: {got:?}"),
        }
    }
}

#[test]
fn the_service_s_tasks_newest_first() {
    let tasks = [
        stopped("old", "service:web", Some(1_714_550_000)),
        stopped("other", "service:worker", Some(1_714_559_000)),
        stopped("undated", "service:web", None),
        stopped("new", "service:web", Some(1_714_557_600)),
        stopped("mid", "service:web", Some(1_714_554_000)),
    ];
    let ids = |(tasks, count): (Vec<TaskDetail>, usize)| {
        let ids =
            tasks.iter().map(|t| t.task_arn.as_deref().unwrap_or_default().rsplit('/').next().unwrap_or_default());
        (ids.map(str::to_string).collect::<Vec<_>>(), count)
    };
    let cases: Vec<(usize, Vec<&str>)> =
        vec![(5, vec!["new", "mid", "old", "undated"]), (2, vec!["new", "mid"]), (1, vec!["new"])];
    for (last, want) in cases {
        assert_eq!(ids(newest_of_service(&tasks, "web", last)), (want.iter().map(|s| s.to_string()).collect(), 4));
    }
    assert_eq!(newest_of_service(&tasks, "api", 5).1, 0);
}

#[test]
fn the_service_s_events_newest_first() {
    let event = |id: &str, at: i64, message: &str| {
        ServiceEvent::builder().id(id).created_at(DateTime::from_secs(at)).message(message).build()
    };
    let events = [
        event("e1", 1_714_550_000, "(service web) has reached a steady state."),
        event("e3", 1_714_557_600, "(service web) has started 1 tasks: (task a1)."),
        event("e2", 1_714_554_000, "(service web) has stopped 1 running tasks: (task a0)."),
    ];
    let got = recent_events(&events, 2);
    let want = vec![
        Event { created_at: Some("2024-05-01T10:00:00Z".into()), message: events[1].message().unwrap().into() },
        Event { created_at: Some("2024-05-01T09:00:00Z".into()), message: events[2].message().unwrap().into() },
    ];
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_task_ecs_no_longer_has_is_missing_and_a_missing_cluster_an_aws_failure() {
    let found = mock!(EcsClient::describe_tasks)
        .match_requests(|r| r.cluster() == Some("prod") && r.tasks() == ["a1"])
        .then_output(|| DescribeTasksOutput::builder().tasks(stopped("a1", "service:web", Some(1))).build());
    let gone = mock!(EcsClient::describe_tasks).then_output(|| {
        let failure = Failure::builder().arn(task_arn("gone")).reason("MISSING").build();
        DescribeTasksOutput::builder().failures(failure).build()
    });
    let no_cluster = mock!(EcsClient::describe_tasks)
        .then_error(|| DescribeTasksError::generic(refusal("ClusterNotFoundException", "Cluster not found.")));
    let reads = reads(&[&found, &gone, &no_cluster]).await;
    assert!(matches!(reads.task("prod", "a1").await, Ok(TaskLookup::Found { .. })));
    let missing = reads.task("prod", "gone").await;
    assert!(matches!(&missing, Ok(TaskLookup::Missing { reason, .. }) if reason == "MISSING"), "{missing:?}");
    let failure = reads.task("nope", "a1").await.unwrap_err();
    assert_eq!((failure.action, failure.code.as_str()), ("ecs:DescribeTasks", "ClusterNotFoundException"));
}

fn service(name: &str, events: Vec<ServiceEvent>) -> Service {
    Service::builder()
        .service_name(name)
        .service_arn(format!("arn:aws:ecs:us-east-1:123456789012:service/prod/{name}"))
        .cluster_arn(CLUSTER)
        .set_events(Some(events))
        .build()
}

#[tokio::test]
async fn a_service_s_stops_are_its_stopped_tasks_described() {
    let steady = ServiceEvent::builder()
        .id("e1")
        .created_at(DateTime::from_secs(1_714_557_600))
        .message("(service web) has reached a steady state.")
        .build();
    let described = mock!(EcsClient::describe_services)
        .match_requests(|r| r.services() == ["web"])
        .then_output(move || DescribeServicesOutput::builder().services(service("web", vec![steady.clone()])).build());
    let listed = mock!(EcsClient::list_tasks)
        .match_requests(|r| {
            r.service_name() == Some("web")
                && r.desired_status() == Some(&DesiredStatus::Stopped)
                && r.max_results() == Some(100)
        })
        .then_output(|| ListTasksOutput::builder().task_arns(task_arn("a1")).task_arns(task_arn("a2")).build());
    let tasks = mock!(EcsClient::describe_tasks).match_requests(|r| r.tasks().len() == 2).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(stopped("a1", "service:web", Some(1_714_550_000)))
            .tasks(stopped("a2", "service:web", Some(1_714_557_600)))
            .build()
    });
    let got = reads(&[&described, &listed, &tasks]).await.service("prod", "web", 1).await;
    let Ok(ServiceLookup::Found(stops)) = got else { panic!("{got:?}") };
    assert_eq!(stops.tasks.len(), 1);
    assert_eq!(stops.tasks[0].task_arn, Some(task_arn("a2")), "the newest");
    assert_eq!(stops.listed, 2);
    assert_eq!(stops.events[0].message, "(service web) has reached a steady state.");
}

#[tokio::test]
async fn a_service_without_stops_or_unknown_and_a_refusal() {
    let described = mock!(EcsClient::describe_services)
        .then_output(|| DescribeServicesOutput::builder().services(service("web", vec![])).build());
    let none = mock!(EcsClient::list_tasks).then_output(|| ListTasksOutput::builder().build());
    let unknown = mock!(EcsClient::describe_services).then_output(|| {
        let failure = Failure::builder().arn("arn:aws:ecs:us-east-1:123456789012:service/prod/api").reason("MISSING");
        DescribeServicesOutput::builder().failures(failure.build()).build()
    });
    let denied = mock!(EcsClient::describe_services)
        .then_output(|| DescribeServicesOutput::builder().services(service("web", vec![])).build());
    let refused = mock!(EcsClient::list_tasks).then_error(|| {
        let message = "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: ecs:ListTasks";
        ListTasksError::generic(refusal("AccessDeniedException", message))
    });
    let throttled = mock!(EcsClient::describe_services)
        .then_error(|| DescribeServicesError::generic(refusal("ThrottlingException", "Rate exceeded")));
    let reads = reads(&[&described, &none, &unknown, &denied, &refused, &throttled]).await;
    let empty = reads.service("prod", "web", 5).await;
    assert!(matches!(&empty, Ok(ServiceLookup::Found(s)) if s.tasks.is_empty() && s.listed == 0), "{empty:?}");
    let missing = reads.service("prod", "api", 5).await;
    assert_eq!(missing.ok(), Some(ServiceLookup::Missing { reason: "MISSING".into() }));
    let failure = reads.service("prod", "web", 5).await.unwrap_err();
    assert!(failure.is_access_denied() && failure.action == "ecs:ListTasks", "{failure:?}");
    let failure = reads.service("prod", "web", 5).await.unwrap_err();
    assert!(failure.is_throttling() && failure.action == "ecs:DescribeServices", "{failure:?}");
}
