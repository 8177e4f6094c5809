//! What `explain-stop` reads from ECS when it asks AWS itself (observe only, into plain structs):
//! - one task, by id or ARN (DescribeTasks): the task, or ECS's word that it has none;
//! - a service's recently stopped tasks (ListTasks with `desiredStatus` STOPPED, then DescribeTasks)
//!   and the service's own recent events (DescribeServices `events`).
//!
//! ECS keeps a stopped task for a while only: "Currently, stopped tasks appear in the returned
//! results for at least one hour" (DescribeTasks,
//! <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html>; ListTasks,
//! <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html>). A task it no
//! longer has comes back in `failures` with reason `MISSING` ("The specified task wasn't found",
//! <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html>).

use std::cmp::Reverse;

use aws_sdk_ecs::Client as EcsClient;
use aws_sdk_ecs::primitives::{DateTime, DateTimeFormat};
use aws_sdk_ecs::types::{DesiredStatus, Failure, ServiceEvent, Task};
use shared::aws::AwsFailure;

use crate::diagnosis::{Container, TaskDetail, Timestamp};

/// DescribeTasks takes "up to 100 task IDs or full ARN entries" (API reference), and so does one
/// page of ListTasks (`maxResults` at most 100): a service's stops are read from one of each.
pub const MAX_TASKS: usize = 100;

/// How many of the service's events are shown: its most recent ones. DescribeServices returns the
/// latest 100 at most (API reference, Service `events`:
/// <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Service.html>).
pub const EVENTS: usize = 10;

/// One task as DescribeTasks answered for it.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskLookup {
    /// The task, and its `desiredStatus` (a task ECS is stopping has STOPPED there before `lastStatus`).
    Found { task: Box<TaskDetail>, desired_status: Option<String> },
    /// ECS has no such task: `reason` is the failure's (`MISSING`), or ours when ECS said nothing.
    Missing { reason: String, detail: Option<String> },
}

/// A service's event, as DescribeServices gives it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// RFC 3339, UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    pub message: String,
}

/// What a service's stops are made of.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceLookup {
    Found(ServiceStops),
    /// DescribeServices returned a failure (`MISSING`) or no such service.
    Missing {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStops {
    /// The service's stopped tasks, newest first, at most the `last` asked for.
    pub tasks: Vec<TaskDetail>,
    /// How many stopped tasks of the service ECS listed (before `last` kept the newest).
    pub listed: usize,
    /// The service's most recent events, newest first, at most [`EVENTS`].
    pub events: Vec<Event>,
}

pub struct StoppedTasks {
    ecs: EcsClient,
}

impl StoppedTasks {
    pub fn new(ecs: EcsClient) -> Self {
        StoppedTasks { ecs }
    }

    /// One task of `cluster`, by id or ARN.
    pub async fn task(&self, cluster: &str, task: &str) -> Result<TaskLookup, AwsFailure> {
        let describe = self.ecs.describe_tasks().cluster(cluster).tasks(task);
        let out = describe.send().await.map_err(AwsFailure::of("ecs:DescribeTasks"))?;
        tracing::info!(cluster, task, found = out.tasks().len(), failures = out.failures().len(), "ecs:DescribeTasks");
        Ok(lookup(out.tasks(), out.failures()))
    }

    /// `service`'s recently stopped tasks, newest first, at most `last` of them, and its recent events.
    pub async fn service(&self, cluster: &str, service: &str, last: usize) -> Result<ServiceLookup, AwsFailure> {
        let describe = self.ecs.describe_services().cluster(cluster).services(service);
        let out = describe.send().await.map_err(AwsFailure::of("ecs:DescribeServices"))?;
        tracing::info!(cluster, service, found = out.services().len(), "ecs:DescribeServices");
        let Some(found) = out.services().iter().find(|s| names(s.service_name(), s.service_arn(), service)) else {
            let reason = out.failures().first().and_then(Failure::reason).unwrap_or("no such service");
            return Ok(ServiceLookup::Missing { reason: reason.to_string() });
        };
        let name = found.service_name().unwrap_or(service).to_string();
        let events = recent_events(found.events(), EVENTS);
        let list = self
            .ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(&name)
            .desired_status(DesiredStatus::Stopped)
            .max_results(MAX_TASKS as i32);
        let listed = list.send().await.map_err(AwsFailure::of("ecs:ListTasks"))?;
        let arns = listed.task_arns();
        tracing::info!(cluster, service = name, stopped = arns.len(), "ecs:ListTasks");
        if arns.is_empty() {
            return Ok(ServiceLookup::Found(ServiceStops { tasks: Vec::new(), listed: 0, events }));
        }
        let describe = self.ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns.to_vec()));
        let out = describe.send().await.map_err(AwsFailure::of("ecs:DescribeTasks"))?;
        tracing::info!(cluster, service = name, found = out.tasks().len(), "ecs:DescribeTasks");
        let (tasks, listed) = newest_of_service(out.tasks(), &name, last);
        Ok(ServiceLookup::Found(ServiceStops { tasks, listed, events }))
    }
}

/// Pure: DescribeTasks' answer for one task. ECS answers a task it does not have with a failure;
/// an answer with neither (moto's) is read the same way.
pub fn lookup(tasks: &[Task], failures: &[Failure]) -> TaskLookup {
    match (tasks.first(), failures.first()) {
        (Some(task), _) => TaskLookup::Found {
            task: Box::new(task_detail(task)),
            desired_status: task.desired_status().map(str::to_string),
        },
        (None, Some(failure)) => TaskLookup::Missing {
            reason: failure.reason().unwrap_or("MISSING").to_string(),
            detail: failure.detail().map(str::to_string),
        },
        (None, None) => TaskLookup::Missing { reason: "MISSING".into(), detail: None },
    }
}

/// `given` is the service's name or ARN.
fn names(name: Option<&str>, arn: Option<&str>, given: &str) -> bool {
    name == Some(given) || arn == Some(given)
}

/// Pure: the tasks of `service` (`group` `service:<name>`), newest stop first, at most `last`; and
/// how many there were. ListTasks' `serviceName` already selects them on AWS; the group is checked
/// again because a task of another service would be explained under the wrong name (moto ignores
/// `serviceName`). ListTasks' order is unspecified, so the tasks are ordered by `stoppedAt` (else
/// `stoppingAt`; a task with neither comes last, in the order listed).
pub fn newest_of_service(tasks: &[Task], service: &str, last: usize) -> (Vec<TaskDetail>, usize) {
    let group = format!("service:{service}");
    let mut ours: Vec<&Task> = tasks.iter().filter(|t| t.group() == Some(group.as_str())).collect();
    let at = |t: &Task| t.stopped_at().or(t.stopping_at()).map(|d| (d.secs(), d.subsec_nanos()));
    ours.sort_by_key(|t| Reverse(at(t)));
    let count = ours.len();
    (ours.into_iter().take(last).map(task_detail).collect(), count)
}

/// Pure: the service's events, newest first, at most `count`.
pub fn recent_events(events: &[ServiceEvent], count: usize) -> Vec<Event> {
    let mut events: Vec<&ServiceEvent> = events.iter().collect();
    events.sort_by_key(|e| Reverse(e.created_at().map(|d| (d.secs(), d.subsec_nanos()))));
    let event = |e: &ServiceEvent| Event {
        created_at: e.created_at().and_then(rfc3339),
        message: e.message().unwrap_or_default().to_string(),
    };
    events.into_iter().take(count).map(event).collect()
}

/// Pure: the SDK's task as the diagnosis reads it (the fields a `describe-tasks` element carries);
/// an empty string is no value (moto answers `launchType` "" for a task started without one).
pub fn task_detail(task: &Task) -> TaskDetail {
    let text = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
    TaskDetail {
        cluster_arn: text(task.cluster_arn()),
        task_arn: text(task.task_arn()),
        task_definition_arn: text(task.task_definition_arn()),
        group: text(task.group()),
        launch_type: text(task.launch_type().map(|l| l.as_str())),
        capacity_provider_name: text(task.capacity_provider_name()),
        availability_zone: text(task.availability_zone()),
        last_status: text(task.last_status()),
        stop_code: task.stop_code().map(|c| c.as_str().to_string()),
        stopped_reason: text(task.stopped_reason()),
        stopped_at: task.stopped_at().map(timestamp),
        cpu: text(task.cpu()),
        memory: text(task.memory()),
        containers: task
            .containers()
            .iter()
            .map(|c| Container {
                name: text(c.name()),
                reason: text(c.reason()),
                exit_code: c.exit_code().map(i64::from),
                last_status: text(c.last_status()),
                image: text(c.image()),
            })
            .collect(),
        version: Some(task.version()),
    }
}

fn timestamp(at: &DateTime) -> Timestamp {
    rfc3339(at).map_or_else(|| Timestamp::EpochSeconds(at.as_secs_f64()), Timestamp::Text)
}

fn rfc3339(at: &DateTime) -> Option<String> {
    at.fmt(DateTimeFormat::DateTime).ok()
}

#[cfg(test)]
#[path = "stopped_tasks_tests.rs"]
mod tests;
