//! `explain-stop`: why did this ECS task stop?
//!
//! - `explain-stop < task.json`: one JSON document on stdin, a whole EventBridge "ECS Task State
//!   Change" event or one element of `aws ecs describe-tasks`' `tasks`; prints the diagnosis as one
//!   JSON object (`aws ecs describe-tasks --cluster c --tasks t --query 'tasks[0]' | explain-stop`).
//! - `explain-stop --cluster prod --task <id or ARN>`: asks ECS (DescribeTasks).
//! - `explain-stop --cluster prod --service api [--last N]`: the service's recently stopped tasks,
//!   newest first, at most N (default 5; ListTasks with `desiredStatus` STOPPED, then DescribeTasks),
//!   and the service's recent events (DescribeServices).
//!
//! `--format text` prints for people (title, cause, fix, evidence, console link) instead of JSON.
//! Credentials, region and endpoint come from the SDK's usual settings (`AWS_PROFILE`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL`, …).
//!
//! Exit codes: 0 explained; 1 an AWS call failed (one line on stderr with the fix); 2 bad arguments
//! or bad input on stdin (one line on stderr); 3 nothing to explain: ECS no longer has the task (it
//! keeps stopped tasks about an hour), the task has not stopped, no such service, or no stopped task
//! of the service (the report, with the service's events, is still printed).

use std::io::Read;
use std::process::ExitCode;

use shared::aws::AwsFailure;
use task_alerts::diagnosis::{TaskDetail, diagnose};
use task_alerts::explain::{
    Command, Format, Nothing, USAGE, aws_error_line, explain, not_stopped, parse_args, service_report, service_text,
    task_text,
};
use task_alerts::stopped_tasks::{ServiceLookup, StoppedTasks, TaskLookup};

const AWS_ERROR: u8 = 1;
const BAD_ARGUMENTS: u8 = 2;
const NOTHING_TO_EXPLAIN: u8 = 3;

fn main() -> ExitCode {
    let command = match parse_args(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(err) => return fail(BAD_ARGUMENTS, &format!("{err}; see explain-stop --help")),
    };
    match command {
        Command::Help => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Stdin { format } => from_stdin(format),
        Command::Task { cluster, task, format } => on_runtime(one_task(&cluster, &task, format)),
        Command::Service { cluster, service, last, format } => {
            on_runtime(one_service(&cluster, &service, last, format))
        }
    }
}

/// The stdin mode, unchanged in JSON: the diagnosis object alone.
fn from_stdin(format: Format) -> ExitCode {
    let mut input = String::new();
    if let Err(err) = std::io::stdin().read_to_string(&mut input) {
        return fail(BAD_ARGUMENTS, &format!("cannot read stdin: {err}"));
    }
    let task = match TaskDetail::from_json(&input) {
        Ok(task) => task,
        Err(err) => return fail(BAD_ARGUMENTS, &err.to_string()),
    };
    match format {
        Format::Json => print_json(&diagnose(&task)),
        Format::Text => {
            println!("{}", task_text(&explain(&task, "").1));
            ExitCode::SUCCESS
        }
    }
}

/// The two modes that ask ECS, each on one single-threaded runtime.
fn on_runtime(mode: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(mode),
        Err(err) => fail(AWS_ERROR, &format!("cannot start the async runtime: {err}")),
    }
}

/// The ECS reads, with the region the links point at.
async fn ecs() -> Result<(StoppedTasks, String), ExitCode> {
    let sdk = shared::aws::sdk_config(shared::http::sdk_client()).await;
    let Some(region) = sdk.region().map(ToString::to_string) else {
        return Err(fail(AWS_ERROR, "no AWS region: set AWS_REGION, or a region in the AWS_PROFILE profile"));
    };
    Ok((StoppedTasks::new(aws_sdk_ecs::Client::new(&sdk)), region))
}

async fn one_task(cluster: &str, task: &str, format: Format) -> ExitCode {
    let (reads, region) = match ecs().await {
        Ok(ecs) => ecs,
        Err(code) => return code,
    };
    let (found, desired_status) = match reads.task(cluster, task).await {
        Err(failure) => return aws_failed(&failure),
        Ok(TaskLookup::Missing { reason, .. }) => {
            return nothing(&Nothing::NoTask { cluster: cluster.into(), task: task.into(), reason });
        }
        Ok(TaskLookup::Found { task, desired_status }) => (task, desired_status),
    };
    if let Some(why) = not_stopped(&found, desired_status.as_deref(), task) {
        return nothing(&why);
    }
    let (explained, alert) = explain(&found, &region);
    match format {
        Format::Json => print_json(&explained),
        Format::Text => {
            println!("{}", task_text(&alert));
            ExitCode::SUCCESS
        }
    }
}

async fn one_service(cluster: &str, service: &str, last: usize, format: Format) -> ExitCode {
    let (reads, region) = match ecs().await {
        Ok(ecs) => ecs,
        Err(code) => return code,
    };
    let stops = match reads.service(cluster, service, last).await {
        Err(failure) => return aws_failed(&failure),
        Ok(ServiceLookup::Missing { reason }) => {
            return nothing(&Nothing::NoService { cluster: cluster.into(), service: service.into(), reason });
        }
        Ok(ServiceLookup::Found(stops)) => stops,
    };
    let (report, alerts) = service_report(cluster, service, &stops, &region);
    let printed = match format {
        Format::Json => print_json(&report),
        Format::Text => {
            println!("{}", service_text(&report, &alerts));
            ExitCode::SUCCESS
        }
    };
    if stops.tasks.is_empty() {
        return nothing(&Nothing::NoStops { cluster: cluster.into(), service: service.into() });
    }
    printed
}

fn print_json(value: &impl serde::Serialize) -> ExitCode {
    match serde_json::to_string(value) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => fail(BAD_ARGUMENTS, &format!("cannot write the diagnosis: {err}")),
    }
}

fn aws_failed(failure: &AwsFailure) -> ExitCode {
    fail(AWS_ERROR, &aws_error_line(failure))
}

fn nothing(why: &Nothing) -> ExitCode {
    fail(NOTHING_TO_EXPLAIN, &why.to_string())
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("explain-stop: {message}");
    ExitCode::from(code)
}
