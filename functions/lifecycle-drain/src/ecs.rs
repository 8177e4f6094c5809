//! ECS, read into plain structs and written with explicit outcomes. Every read stays within the
//! API's limits (lists in pages of 100, one describe per 100 instances or tasks, one per 10
//! services: [`crate::plan`]'s constants), and every call takes a token from its bucket and is
//! tried again while AWS throttles it ([`Pace`]).

use std::collections::{BTreeSet, HashMap, HashSet};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{ContainerInstanceStatus, DesiredStatus, SchedulingStrategy};
use shared::aws::AwsFailure;

use crate::error::DrainError;
use crate::job::Found;
use crate::pacing::Pace;
use crate::plan::{DESCRIBE_CONTAINER_INSTANCES_MAX, PAGE_SIZE, TaskKind, TaskState, service_batches, task_batches};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInstance {
    pub found: Found,
    /// ACTIVE, DRAINING, REGISTERING, DEREGISTERING, …
    pub status: String,
    /// `agentConnected`: false when the ECS agent is unhealthy or stopped (see [`crate::plan::Agent`]).
    pub agent_connected: bool,
}

/// What this run has read and need not read again: each service's kind, and the tasks seen
/// STOPPED (a state no task leaves).
#[derive(Debug, Default)]
pub struct Known {
    services: HashMap<String, TaskKind>,
    stopped: HashSet<String>,
}

pub struct Ecs {
    client: Client,
}

/// Whether a page says another follows (the paginator then asks for it).
fn more(next_token: Option<&str>) -> bool {
    next_token.is_some_and(|token| !token.is_empty())
}

impl Ecs {
    pub fn new(client: Client) -> Self {
        Ecs { client }
    }

    /// The container instance of `instance_id`: in `found`'s cluster if an earlier run found it,
    /// else in `cluster`, else in every cluster of the account. `None`: not an ECS container instance.
    pub async fn find(
        &self,
        instance_id: &str,
        found: Option<&Found>,
        cluster: Option<&str>,
        pace: &Pace,
    ) -> Result<Option<ContainerInstance>, DrainError> {
        let clusters = match (found, cluster) {
            (Some(found), _) => vec![found.cluster.clone()],
            (None, Some(cluster)) => vec![cluster.to_string()],
            (None, None) => self.clusters(pace).await?,
        };
        for cluster in clusters {
            if let Some(instance) = self.find_in(&cluster, instance_id, pace).await? {
                return Ok(Some(instance));
            }
        }
        Ok(None)
    }

    // A throttled page ends the paginator's stream: a listing tried again starts from its first page.
    async fn clusters(&self, pace: &Pace) -> Result<Vec<String>, DrainError> {
        const ACTION: &str = "ecs:ListClusters";
        let (client, bucket) = (&self.client, &pace.bucket(ACTION));
        let clusters = pace
            .call(ACTION, || async move {
                let mut pages = client.list_clusters().into_paginator().page_size(PAGE_SIZE).send();
                let mut clusters = Vec::new();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(AwsFailure::of(ACTION))?;
                    clusters.extend(page.cluster_arns.unwrap_or_default());
                    if more(page.next_token.as_deref()) {
                        bucket.acquire().await;
                    }
                }
                Ok(clusters)
            })
            .await?;
        Ok(clusters)
    }

    async fn find_in(
        &self,
        cluster: &str,
        instance_id: &str,
        pace: &Pace,
    ) -> Result<Option<ContainerInstance>, DrainError> {
        const ACTION: &str = "ecs:ListContainerInstances";
        let (client, bucket) = (&self.client, &pace.bucket(ACTION));
        let filter = format!("ec2InstanceId == {instance_id}");
        let filter = filter.as_str();
        let listed = pace
            .call(ACTION, || async move {
                let list = client.list_container_instances().cluster(cluster).filter(filter);
                let mut pages = list.into_paginator().page_size(PAGE_SIZE).send();
                let mut arns = Vec::new();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(AwsFailure::of(ACTION))?;
                    arns.extend(page.container_instance_arns.unwrap_or_default());
                    if more(page.next_token.as_deref()) {
                        bucket.acquire().await;
                    }
                }
                Ok(arns)
            })
            .await;
        let arns = match listed {
            Ok(arns) => arns,
            // A cluster named by metadata or configuration that does not exist holds no instance.
            Err(failure) if failure.code_is("ClusterNotFoundException") => return Ok(None),
            Err(failure) => return Err(failure.into()),
        };
        // The filter is checked again here: the answer is trusted only for the instance asked about.
        let mut matches = Vec::new();
        for chunk in arns.chunks(DESCRIBE_CONTAINER_INSTANCES_MAX) {
            for ci in self.describe_container_instances(cluster, chunk, pace).await? {
                if ci.ec2_instance_id.as_deref() == Some(instance_id)
                    && let Some(arn) = ci.container_instance_arn
                {
                    let status = ci.status.unwrap_or_default();
                    matches.push(ContainerInstance {
                        found: Found { cluster: cluster.to_string(), container_instance_arn: arn },
                        status,
                        agent_connected: ci.agent_connected,
                    });
                }
            }
        }
        // A re-registered instance leaves an INACTIVE record behind: prefer the live one.
        matches.retain(|m| m.status != "INACTIVE");
        match matches.len() {
            0 | 1 => Ok(matches.pop()),
            count => Err(DrainError::Ambiguous { instance: instance_id.into(), cluster: cluster.into(), count }),
        }
    }

    async fn describe_container_instances(
        &self,
        cluster: &str,
        arns: &[String],
        pace: &Pace,
    ) -> Result<Vec<aws_sdk_ecs::types::ContainerInstance>, DrainError> {
        const ACTION: &str = "ecs:DescribeContainerInstances";
        let describe =
            self.client.describe_container_instances().cluster(cluster).set_container_instances(Some(arns.to_vec()));
        let out = pace.send(ACTION, || describe.clone().send()).await?;
        Ok(out.container_instances.unwrap_or_default())
    }

    /// `agentConnected` of the instance now. An instance no longer described (deregistered) counts
    /// as connected: it proves no disconnection.
    pub async fn agent_connected(&self, found: &Found, pace: &Pace) -> Result<bool, DrainError> {
        let one = [found.container_instance_arn.clone()];
        let described = self.describe_container_instances(&found.cluster, &one, pace).await?;
        Ok(described.first().is_none_or(|ci| ci.agent_connected))
    }

    pub async fn set_draining(&self, found: &Found, pace: &Pace) -> Result<(), DrainError> {
        const ACTION: &str = "ecs:UpdateContainerInstancesState";
        let update = self
            .client
            .update_container_instances_state()
            .cluster(&found.cluster)
            .container_instances(&found.container_instance_arn)
            .status(ContainerInstanceStatus::Draining);
        let out = pace.send(ACTION, || update.clone().send()).await?;
        if let Some(failure) = out.failures.unwrap_or_default().into_iter().next() {
            return Err(AwsFailure {
                action: ACTION,
                code: failure.reason.unwrap_or_else(|| "Failure".into()),
                message: failure.detail.unwrap_or_else(|| format!("for {}", found.container_instance_arn)),
            }
            .into());
        }
        Ok(())
    }

    /// Every task on the instance that ECS still lists (desired RUNNING, or STOPPED but maybe still
    /// stopping), with its kind, less those an earlier look of this run saw STOPPED. Per look: a
    /// `ListTasks` per 100 tasks of each desired status, a `DescribeTasks` per 100 tasks not yet
    /// seen STOPPED, and a `DescribeServices` per 10 services the run has not described yet.
    pub async fn tasks(&self, found: &Found, known: &mut Known, pace: &Pace) -> Result<Vec<TaskState>, DrainError> {
        let mut arns = Vec::new();
        for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
            arns.extend(self.list_tasks(found, desired, pace).await?);
        }
        arns.sort();
        arns.dedup();
        let mut tasks = Vec::new();
        let client = &self.client;
        for batch in task_batches(&arns, &known.stopped) {
            let describe = client.describe_tasks().cluster(&found.cluster).set_tasks(Some(batch));
            let out = pace.send("ecs:DescribeTasks", || describe.clone().send()).await?;
            tasks.extend(out.tasks.unwrap_or_default());
        }
        let unknown: Vec<String> = tasks
            .iter()
            .filter_map(|t| t.group.as_deref()?.strip_prefix("service:"))
            .filter(|name| !known.services.contains_key(*name))
            .map(str::to_string)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for batch in service_batches(&unknown) {
            let describe = client.describe_services().cluster(&found.cluster).set_services(Some(batch.clone()));
            let out = pace.send("ecs:DescribeServices", || describe.clone().send()).await?;
            for service in out.services.unwrap_or_default() {
                let kind = match service.scheduling_strategy {
                    Some(SchedulingStrategy::Daemon) => TaskKind::Daemon,
                    _ => TaskKind::Service,
                };
                if let Some(name) = service.service_name {
                    known.services.insert(name, kind);
                }
            }
            // A service that is gone (MISSING) still had tasks placed by a scheduler: treat as a replica.
            for name in batch {
                known.services.entry(name.clone()).or_insert(TaskKind::Service);
            }
        }
        let tasks: Vec<TaskState> = tasks
            .into_iter()
            .filter_map(|t| {
                let group = t.group.unwrap_or_default();
                let kind = match group.strip_prefix("service:") {
                    Some(name) => known.services.get(name).copied().unwrap_or(TaskKind::Service),
                    None => TaskKind::Standalone,
                };
                Some(TaskState {
                    arn: t.task_arn?,
                    kind,
                    group,
                    last_status: t.last_status.unwrap_or_default(),
                    desired_status: t.desired_status.unwrap_or_default(),
                })
            })
            .collect();
        known.stopped.extend(tasks.iter().filter(|t| t.last_status == "STOPPED").map(|t| t.arn.clone()));
        Ok(tasks)
    }

    /// The tasks ECS lists on the instance with `desired` status: every page, [`PAGE_SIZE`] a page,
    /// a token each.
    async fn list_tasks(&self, found: &Found, desired: DesiredStatus, pace: &Pace) -> Result<Vec<String>, DrainError> {
        const ACTION: &str = "ecs:ListTasks";
        let (client, bucket) = (&self.client, &pace.bucket(ACTION));
        let desired = &desired;
        let arns = pace
            .call(ACTION, || async move {
                let list = client
                    .list_tasks()
                    .cluster(&found.cluster)
                    .container_instance(&found.container_instance_arn)
                    .desired_status(desired.clone());
                let mut pages = list.into_paginator().page_size(PAGE_SIZE).send();
                let mut arns = Vec::new();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(AwsFailure::of(ACTION))?;
                    arns.extend(page.task_arns.unwrap_or_default());
                    if more(page.next_token.as_deref()) {
                        bucket.acquire().await;
                    }
                }
                Ok(arns)
            })
            .await?;
        Ok(arns)
    }

    pub async fn stop_task(&self, cluster: &str, task: &str, reason: &str, pace: &Pace) -> Result<(), DrainError> {
        let stop = self.client.stop_task().cluster(cluster).task(task).reason(reason);
        pace.send("ecs:StopTask", || stop.clone().send()).await?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "ecs_tests.rs"]
mod tests;
