//! ECS, read into plain structs and written with explicit outcomes. Lists are batched: one
//! describe per 100 instances or tasks, one per 10 services.

use std::collections::HashMap;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{ContainerInstanceStatus, DesiredStatus, SchedulingStrategy};
use shared::aws::AwsFailure;

use crate::error::DrainError;
use crate::job::Found;
use crate::plan::{TaskKind, TaskState};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInstance {
    pub found: Found,
    /// ACTIVE, DRAINING, REGISTERING, DEREGISTERING, …
    pub status: String,
    /// `agentConnected`: false when the ECS agent is unhealthy or stopped (see [`crate::plan::Agent`]).
    pub agent_connected: bool,
}

pub struct Ecs {
    client: Client,
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
    ) -> Result<Option<ContainerInstance>, DrainError> {
        let clusters = match (found, cluster) {
            (Some(found), _) => vec![found.cluster.clone()],
            (None, Some(cluster)) => vec![cluster.to_string()],
            (None, None) => self.clusters().await?,
        };
        for cluster in clusters {
            if let Some(instance) = self.find_in(&cluster, instance_id).await? {
                return Ok(Some(instance));
            }
        }
        Ok(None)
    }

    async fn clusters(&self) -> Result<Vec<String>, DrainError> {
        let mut pages = self.client.list_clusters().into_paginator().send();
        let mut clusters = Vec::new();
        while let Some(page) = pages.next().await {
            clusters.extend(page.map_err(AwsFailure::of("ecs:ListClusters"))?.cluster_arns.unwrap_or_default());
        }
        Ok(clusters)
    }

    async fn find_in(&self, cluster: &str, instance_id: &str) -> Result<Option<ContainerInstance>, DrainError> {
        let filter = format!("ec2InstanceId == {instance_id}");
        let mut pages = self.client.list_container_instances().cluster(cluster).filter(filter).into_paginator().send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => arns.extend(page.container_instance_arns.unwrap_or_default()),
                // A cluster named by metadata or configuration that does not exist holds no instance.
                Err(e) => {
                    let failure = AwsFailure::from_sdk("ecs:ListContainerInstances", &e);
                    if failure.code_is("ClusterNotFoundException") {
                        return Ok(None);
                    }
                    return Err(failure.into());
                }
            }
        }
        // The filter is checked again here: the answer is trusted only for the instance asked about.
        let mut matches = Vec::new();
        for chunk in arns.chunks(100) {
            let out = self
                .client
                .describe_container_instances()
                .cluster(cluster)
                .set_container_instances(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(AwsFailure::of("ecs:DescribeContainerInstances"))?;
            for ci in out.container_instances.unwrap_or_default() {
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

    /// `agentConnected` of the instance now. An instance no longer described (deregistered) counts
    /// as connected: it proves no disconnection.
    pub async fn agent_connected(&self, found: &Found) -> Result<bool, DrainError> {
        let out = self
            .client
            .describe_container_instances()
            .cluster(&found.cluster)
            .container_instances(&found.container_instance_arn)
            .send()
            .await
            .map_err(AwsFailure::of("ecs:DescribeContainerInstances"))?;
        Ok(out.container_instances.unwrap_or_default().first().is_none_or(|ci| ci.agent_connected))
    }

    pub async fn set_draining(&self, found: &Found) -> Result<(), DrainError> {
        let out = self
            .client
            .update_container_instances_state()
            .cluster(&found.cluster)
            .container_instances(&found.container_instance_arn)
            .status(ContainerInstanceStatus::Draining)
            .send()
            .await
            .map_err(AwsFailure::of("ecs:UpdateContainerInstancesState"))?;
        if let Some(failure) = out.failures.unwrap_or_default().into_iter().next() {
            return Err(AwsFailure {
                action: "ecs:UpdateContainerInstancesState",
                code: failure.reason.unwrap_or_else(|| "Failure".into()),
                message: failure.detail.unwrap_or_else(|| format!("for {}", found.container_instance_arn)),
            }
            .into());
        }
        Ok(())
    }

    /// Every task on the instance that ECS still lists (desired RUNNING, or STOPPED but maybe still
    /// stopping), with its kind. `services` caches each service's kind for the run.
    pub async fn tasks(
        &self,
        found: &Found,
        services: &mut HashMap<String, TaskKind>,
    ) -> Result<Vec<TaskState>, DrainError> {
        let mut arns = Vec::new();
        for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let list = self
                .client
                .list_tasks()
                .cluster(&found.cluster)
                .container_instance(&found.container_instance_arn)
                .desired_status(desired);
            let mut pages = list.into_paginator().send();
            while let Some(page) = pages.next().await {
                arns.extend(page.map_err(AwsFailure::of("ecs:ListTasks"))?.task_arns.unwrap_or_default());
            }
        }
        arns.sort();
        arns.dedup();
        let mut tasks = Vec::new();
        for chunk in arns.chunks(100) {
            let out = self
                .client
                .describe_tasks()
                .cluster(&found.cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(AwsFailure::of("ecs:DescribeTasks"))?;
            tasks.extend(out.tasks.unwrap_or_default());
        }
        let unknown: Vec<String> = tasks
            .iter()
            .filter_map(|t| t.group.as_deref()?.strip_prefix("service:"))
            .filter(|name| !services.contains_key(*name))
            .map(str::to_string)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for chunk in unknown.chunks(10) {
            let out = self
                .client
                .describe_services()
                .cluster(&found.cluster)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(AwsFailure::of("ecs:DescribeServices"))?;
            for service in out.services.unwrap_or_default() {
                let kind = match service.scheduling_strategy {
                    Some(SchedulingStrategy::Daemon) => TaskKind::Daemon,
                    _ => TaskKind::Service,
                };
                if let Some(name) = service.service_name {
                    services.insert(name, kind);
                }
            }
            // A service that is gone (MISSING) still had tasks placed by a scheduler: treat as a replica.
            for name in chunk {
                services.entry(name.clone()).or_insert(TaskKind::Service);
            }
        }
        Ok(tasks
            .into_iter()
            .filter_map(|t| {
                let group = t.group.unwrap_or_default();
                let kind = match group.strip_prefix("service:") {
                    Some(name) => services.get(name).copied().unwrap_or(TaskKind::Service),
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
            .collect())
    }

    pub async fn stop_task(&self, cluster: &str, task: &str, reason: &str) -> Result<(), DrainError> {
        self.client
            .stop_task()
            .cluster(cluster)
            .task(task)
            .reason(reason)
            .send()
            .await
            .map_err(AwsFailure::of("ecs:StopTask"))?;
        Ok(())
    }
}
