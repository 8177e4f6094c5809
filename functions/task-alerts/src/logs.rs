//! The failed container's last log lines, when its task definition sends them to CloudWatch Logs
//! with the `awslogs` driver. Best effort: a task without `awslogs`, a stream that is gone, or a
//! read that is not permitted leaves the alert as it is, with one log line saying why.

use aws_config::{Region, SdkConfig};
use aws_sdk_cloudwatchlogs::Client as LogsClient;
use aws_sdk_ecs::Client as EcsClient;
use aws_sdk_ecs::types::LogDriver;
use shared::aws::AwsFailure;

use crate::diagnosis::Category;
use crate::message::{Alert, LogStream};

/// A longer line is cut: a stack trace line of a minified bundle can be megabytes.
const LINE_MAX_CHARS: usize = 1000;

pub struct LogTail {
    ecs: EcsClient,
    sdk: SdkConfig,
    lines: usize,
}

/// Where `awslogs` writes a container's output, from its task definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsLogs {
    pub group: String,
    pub stream_prefix: String,
    pub region: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Skipped {
    #[error("the alert's category carries no log lines")]
    NotWanted,
    #[error("the task's container or task definition is unknown")]
    Unknown,
    #[error("container {0} does not use the awslogs driver with a stream prefix")]
    NoAwsLogs(String),
    #[error(transparent)]
    Aws(#[from] AwsFailure),
}

impl LogTail {
    pub fn new(ecs: EcsClient, sdk: SdkConfig, lines: usize) -> Self {
        LogTail { ecs, sdk, lines }
    }

    /// The stream and its last lines (oldest first), for an alert whose category wants them.
    pub async fn fetch(&self, alert: &Alert) -> Result<(LogStream, Vec<String>), Skipped> {
        if self.lines == 0
            || !matches!(alert.kind.category(), Some(Category::AppExit | Category::OutOfMemory | Category::HealthCheck))
        {
            return Err(Skipped::NotWanted);
        }
        let (Some(container), Some(definition), Some(task_id)) =
            (alert.container.as_deref(), alert.task_definition_arn.as_deref(), alert.task_id.as_deref())
        else {
            return Err(Skipped::Unknown);
        };
        let awslogs = self.awslogs(definition, container).await?;
        let stream = LogStream::awslogs(&awslogs.group, &awslogs.stream_prefix, container, task_id);
        let logs = match &awslogs.region {
            Some(region) => LogsClient::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(&self.sdk).region(Region::new(region.clone())).build(),
            ),
            None => LogsClient::new(&self.sdk),
        };
        let out = logs
            .get_log_events()
            .log_group_name(&stream.group)
            .log_stream_name(&stream.stream)
            .limit(i32::try_from(self.lines).unwrap_or(100))
            .start_from_head(false)
            .send()
            .await
            .map_err(AwsFailure::of("logs:GetLogEvents"))?;
        let lines: Vec<String> = out
            .events
            .unwrap_or_default()
            .into_iter()
            .filter_map(|event| event.message)
            .map(|line| line.trim_end().chars().take(LINE_MAX_CHARS).collect())
            .collect();
        let skip = lines.len().saturating_sub(self.lines);
        Ok((stream, lines.into_iter().skip(skip).collect()))
    }

    async fn awslogs(&self, definition: &str, container: &str) -> Result<AwsLogs, Skipped> {
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(definition)
            .send()
            .await
            .map_err(AwsFailure::of("ecs:DescribeTaskDefinition"))?;
        let config = out
            .task_definition
            .and_then(|t| t.container_definitions)
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.name.as_deref() == Some(container))
            .and_then(|c| c.log_configuration)
            .filter(|l| l.log_driver == LogDriver::Awslogs);
        let options = config.and_then(|l| l.options).unwrap_or_default();
        match (options.get("awslogs-group"), options.get("awslogs-stream-prefix")) {
            (Some(group), Some(prefix)) => Ok(AwsLogs {
                group: group.clone(),
                stream_prefix: prefix.clone(),
                region: options.get("awslogs-region").cloned(),
            }),
            _ => Err(Skipped::NoAwsLogs(container.to_string())),
        }
    }
}
