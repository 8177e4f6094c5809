//! What a service-level alert reads from ECS (best effort, with the quick client: an alert is sent
//! without what could not be read, and one log line says why):
//! - a failed deployment's task definitions: the deployment events name only the deployment's id
//!   (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html>),
//!   so DescribeServices' `deployments` give the failed one's task definition and, when the circuit
//!   breaker rolled back, the task definition of the deployment that replaced it (the PRIMARY one);
//! - a container instance's state for the agent's second look (DescribeContainerInstances).

use aws_sdk_ecs::Client as EcsClient;
use aws_sdk_ecs::types::{ContainerInstance, Deployment};
use shared::aws::AwsFailure;

use crate::agent::LookAgain;
use crate::service_event::InstanceState;

/// A failed deployment's task definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// The task definition of the deployment that failed.
    pub failed: Option<String>,
    /// The task definition ECS rolled back to, when it did.
    pub rolled_back_to: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Unread {
    #[error("ECS returned no service {0}")]
    NoService(String),
    #[error("the service has no deployment {0} any more")]
    NoDeployment(String),
    #[error("ECS returned no container instance {0}")]
    NoInstance(String),
    #[error(transparent)]
    Aws(#[from] AwsFailure),
}

pub struct EcsReads {
    ecs: EcsClient,
}

impl EcsReads {
    pub fn new(ecs: EcsClient) -> Self {
        EcsReads { ecs }
    }

    /// The task definitions of `deployment_id` of `service` and of what replaced it.
    pub async fn rollback(&self, cluster: &str, service: &str, deployment_id: &str) -> Result<Rollback, Unread> {
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(AwsFailure::of("ecs:DescribeServices"))?;
        let found = out.services().iter().find(|s| s.service_name() == Some(service));
        let deployments = found.ok_or_else(|| Unread::NoService(service.to_string()))?.deployments();
        rollback_of(deployments, deployment_id).ok_or_else(|| Unread::NoDeployment(deployment_id.to_string()))
    }

    /// The container instance as ECS describes it now.
    pub async fn instance(&self, look: &LookAgain) -> Result<InstanceState, Unread> {
        let out = self
            .ecs
            .describe_container_instances()
            .cluster(&look.cluster)
            .container_instances(&look.container_instance_arn)
            .send()
            .await
            .map_err(AwsFailure::of("ecs:DescribeContainerInstances"))?;
        let instance = out.container_instances().first();
        instance.map(instance_state).ok_or_else(|| Unread::NoInstance(look.container_instance_arn.clone()))
    }
}

/// Pure: the failed deployment's task definition, and the PRIMARY one's when it is another deployment.
pub fn rollback_of(deployments: &[Deployment], deployment_id: &str) -> Option<Rollback> {
    let failed = deployments.iter().find(|d| d.id() == Some(deployment_id))?;
    let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY") && d.id() != Some(deployment_id));
    Some(Rollback {
        failed: failed.task_definition().map(str::to_string),
        rolled_back_to: primary.and_then(|d| d.task_definition()).map(str::to_string),
    })
}

fn instance_state(instance: &ContainerInstance) -> InstanceState {
    InstanceState {
        status: instance.status().unwrap_or("").to_string(),
        agent_connected: instance.agent_connected(),
        running_tasks: Some(i64::from(instance.running_tasks_count())),
        ec2_instance_id: instance.ec2_instance_id().map(str::to_string),
        agent_version: instance.version_info().and_then(|v| v.agent_version()).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(id: &str, status: &str, task_definition: &str) -> Deployment {
        Deployment::builder().id(id).status(status).task_definition(task_definition).build()
    }

    #[test]
    fn the_failed_deployment_and_what_replaced_it() {
        let td = |r: u32| format!("arn:aws:ecs:us-east-1:123456789012:task-definition/web:{r}");
        let rolled_back = [deployment("ecs-svc/2", "PRIMARY", &td(41)), deployment("ecs-svc/1", "ACTIVE", &td(42))];
        let not_rolled_back = [deployment("ecs-svc/1", "PRIMARY", &td(42))];
        let cases: Vec<(&str, &[Deployment], Option<Rollback>)> = vec![
            ("rolled back", &rolled_back, Some(Rollback { failed: Some(td(42)), rolled_back_to: Some(td(41)) })),
            ("no rollback", &not_rolled_back, Some(Rollback { failed: Some(td(42)), rolled_back_to: None })),
            ("gone", &rolled_back[..1], None),
        ];
        for (name, deployments, want) in cases {
            assert_eq!(rollback_of(deployments, "ecs-svc/1"), want, "{name}");
        }
    }
}
