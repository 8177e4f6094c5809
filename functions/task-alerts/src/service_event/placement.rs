//! What a `SERVICE_TASK_PLACEMENT_FAILURE`'s `reason` means, and its fix.

use super::Kind;

/// A placement failure's `reason` (`RESOURCE:MEMORY`, `AGENT`, …) in words, and its fix. From
/// "Amazon ECS service event messages" and "API failure reasons"
/// (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages.html>,
/// <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html>).
pub fn placement_reason(reason: &str) -> (&'static str, &'static str) {
    let upper = reason.trim().to_ascii_uppercase();
    match upper.as_str() {
        "RESOURCE:CPU" => (
            "no container instance has enough free CPU for the task",
            "Add container instances (or let the capacity provider's managed scaling add them), use instance types \
             with more vCPUs than the task's `cpu`, or lower the task's `cpu`.",
        ),
        "RESOURCE:MEMORY" => (
            "no container instance has enough free memory for the task",
            "Add container instances (or let the capacity provider's managed scaling add them), use instance types \
             with more memory than the task's `memory` (less what the agent reserves), or lower the task's `memory`.",
        ),
        ports if ports.starts_with("RESOURCE:PORTS") => (
            "the host port the task maps is taken on every container instance",
            "Use dynamic host ports (`hostPort` 0, the load balancer finds them) or the awsvpc network mode, or add \
             container instances.",
        ),
        "RESOURCE:ENI" => (
            "no container instance has a free network interface for an awsvpc task",
            "Turn on ENI trunking (`aws ecs put-account-setting-default --name awsvpcTrunking --value enabled`, then \
             replace the instances), use instance types with more network interfaces, or add instances.",
        ),
        "RESOURCE:GPU" => (
            "no container instance has a free GPU for the task",
            "Add GPU instances to the capacity provider, or lower the task's GPU requirement.",
        ),
        "RESOURCE:FARGATE" => (
            "AWS Fargate had no capacity for this task right now (Fargate Spot most often)",
            "ECS keeps trying. Give the service subnets in more Availability Zones, and add a FARGATE base next to \
             FARGATE_SPOT in its capacity provider strategy so it does not depend on Spot capacity alone.",
        ),
        "AGENT" => (
            "the ECS agent on the container instances is disconnected",
            "Check the agent on the instances (`systemctl status ecs`, /var/log/ecs/ecs-agent.log) and their route to \
             the ECS endpoints (NAT gateway or the ecs, ecs-agent and ecs-telemetry interface endpoints).",
        ),
        "ATTRIBUTE" => (
            "no container instance has an attribute the task definition or a placement constraint requires",
            "Compare the task definition's `requiresAttributes` and placement constraints with the instances' \
             attributes (`aws ecs list-attributes`); use an AMI and agent that provide them, or relax the constraint.",
        ),
        "LOCATION" => (
            "the container instances are in other Availability Zones than the service's subnets",
            "Give the service subnets in the Availability Zones where the container instances run, or launch \
             instances in the subnets' zones.",
        ),
        constraint if constraint.contains("MEMBEROF") || constraint.contains("PLACEMENT CONSTRAINT") => (
            "no container instance meets the service's placement constraints",
            "Compare the service's placement constraints (memberOf expressions, distinctInstance) with the \
             instances' attributes, and relax the constraint or launch instances that meet it.",
        ),
        _ if upper.contains("INSTANCE") || upper.contains("CAPACITY") => (
            "no container instance is available in the cluster",
            "Register container instances (check the Auto Scaling group's desired count and that instances join \
             this cluster: ECS_CLUSTER in their user data), or use a capacity provider strategy that can scale.",
        ),
        _ => ("ECS gave a reason of its own (below)", Kind::TaskPlacementFailure.hint()),
    }
}
