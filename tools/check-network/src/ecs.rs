//! The service's side: its awsvpc network configuration (`DescribeServices`) and the AWS
//! services its task definition needs (`DescribeTaskDefinition`), the latter decided by a pure
//! function ([`needed_services`]).

use aws_sdk_ecs::Client as Ecs;
use aws_sdk_ecs::types::{AssignPublicIp, ContainerDefinition};
use shared::aws::AwsFailure;

use crate::error::CheckError;
use crate::observe::Placement;

/// What in a task definition decides the endpoints its tasks need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskNeeds {
    /// Each container's `image`.
    pub images: Vec<String>,
    /// Each container's `logConfiguration.logDriver`.
    pub log_drivers: Vec<String>,
    /// Each `valueFrom` of the containers' `secrets` and log configurations' `secretOptions`.
    pub secrets: Vec<String>,
    /// A container pulls with `repositoryCredentials` (a Secrets Manager secret).
    pub repository_credentials: bool,
    /// The service has ECS Exec on (`enableExecuteCommand`).
    pub exec: bool,
}

/// Whether `image` is in a private ECR registry: `<account>.dkr.ecr[-fips].<region>.amazonaws.com`
/// (`.com.cn` in China).
fn in_ecr(image: &str) -> bool {
    let host = image.split('/').next().unwrap_or_default();
    image.contains('/')
        && (host.contains(".dkr.ecr.") || host.contains(".dkr.ecr-fips."))
        && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
}

/// The endpoints a task needs, in this order, each once, as AWS's "Amazon ECS interface VPC
/// endpoints" lists them
/// (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/vpc-endpoints.html>): images in
/// ECR need `ecr.api`, `ecr.dkr` and S3 (the layers), the awslogs driver `logs`, secrets
/// `secretsmanager` or `ssm` by the ARN's service (a bare name is an SSM parameter), and ECS
/// Exec `ssmmessages` (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html>).
pub fn needed_services(task: &TaskNeeds) -> Vec<String> {
    let mut out: Vec<&str> = Vec::new();
    if task.images.iter().any(|i| in_ecr(i)) {
        out.extend(["ecr.api", "ecr.dkr", "s3"]);
    }
    if task.log_drivers.iter().any(|d| d == "awslogs") {
        out.push("logs");
    }
    if task.repository_credentials
        || task.secrets.iter().any(|s| s.starts_with("arn:") && s.contains(":secretsmanager:"))
    {
        out.push("secretsmanager");
    }
    if task.secrets.iter().any(|s| !s.starts_with("arn:") || s.contains(":ssm:")) {
        out.push("ssm");
    }
    if task.exec {
        out.push("ssmmessages");
    }
    out.into_iter().map(str::to_owned).collect()
}

fn container_needs(containers: &[ContainerDefinition], needs: &mut TaskNeeds) {
    for c in containers {
        needs.images.extend(c.image().map(str::to_owned));
        if let Some(log) = c.log_configuration() {
            needs.log_drivers.push(log.log_driver().as_str().to_string());
            needs.secrets.extend(log.secret_options().iter().map(|s| s.value_from().to_string()));
        }
        needs.secrets.extend(c.secrets().iter().map(|s| s.value_from().to_string()));
        needs.repository_credentials |= c.repository_credentials().is_some();
    }
}

/// The service's placement and what its task definition needs.
pub async fn read_service(ecs: &Ecs, cluster: &str, service: &str) -> Result<(Placement, TaskNeeds), CheckError> {
    let not_found = || CheckError::ServiceNotFound { cluster: cluster.into(), service: service.into() };
    let out = match ecs.describe_services().cluster(cluster).services(service).send().await {
        Ok(out) => out,
        Err(e) => {
            let f = AwsFailure::from_sdk("ecs:DescribeServices", &e);
            return Err(if f.code_is("ClusterNotFoundException") { not_found() } else { f.into() });
        }
    };
    let found = out.services().iter().find(|s| s.status() != Some("INACTIVE")).ok_or_else(not_found)?;
    let vpc = found
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .ok_or_else(|| CheckError::NoNetworkConfiguration { service: service.into() })?;
    let placement = Placement {
        vpc_id: None,
        subnets: vpc.subnets().to_vec(),
        security_groups: vpc.security_groups().to_vec(),
        public_ip: Some(vpc.assign_public_ip() == Some(&AssignPublicIp::Enabled)),
    };
    let mut needs = TaskNeeds { exec: found.enable_execute_command(), ..TaskNeeds::default() };
    if let Some(arn) = found.task_definition() {
        let out = ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(AwsFailure::of("ecs:DescribeTaskDefinition"))?;
        if let Some(td) = out.task_definition() {
            container_needs(td.container_definitions(), &mut needs);
        }
    }
    Ok((placement, needs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_services_table() {
        let ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4";
        let cases: Vec<(&str, TaskNeeds, &[&str])> = vec![
            ("nothing", TaskNeeds::default(), &[]),
            (
                "an ECR image logging with awslogs",
                TaskNeeds { images: vec![ecr.into()], log_drivers: vec!["awslogs".into()], ..Default::default() },
                &["ecr.api", "ecr.dkr", "s3", "logs"],
            ),
            (
                "Docker Hub and public ECR images need no endpoint; another driver no logs",
                TaskNeeds {
                    images: vec!["nginx:1.27".into(), "public.ecr.aws/nginx/nginx:1.27".into()],
                    log_drivers: vec!["awsfirelens".into()],
                    ..Default::default()
                },
                &[],
            ),
            (
                "China and FIPS registries",
                TaskNeeds {
                    images: vec!["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web".into()],
                    ..Default::default()
                },
                &["ecr.api", "ecr.dkr", "s3"],
            ),
            (
                "secrets from both, by ARN and by parameter name",
                TaskNeeds {
                    secrets: vec![
                        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf".into(),
                        "/app/api-key".into(),
                    ],
                    ..Default::default()
                },
                &["secretsmanager", "ssm"],
            ),
            (
                "an SSM parameter ARN; private registry credentials; ECS Exec",
                TaskNeeds {
                    secrets: vec!["arn:aws:ssm:us-east-1:123456789012:parameter/app/key".into()],
                    repository_credentials: true,
                    exec: true,
                    ..Default::default()
                },
                &["secretsmanager", "ssm", "ssmmessages"],
            ),
        ];
        for (case, needs, expected) in cases {
            assert_eq!(needed_services(&needs), expected, "{case}");
        }
    }
}
