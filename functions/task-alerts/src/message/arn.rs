//! The names an alert shows, taken out of the task's ARNs.

use shared::text::is_safe_region_label;

/// `arn:partition:service:region:account:resource` -> region.
pub(super) fn arn_region(arn: &str) -> Option<&str> {
    let region = arn.strip_prefix("arn:")?.split(':').nth(2)?;
    is_safe_region_label(region).then_some(region)
}

/// The task id is the last part of the ARN, in both `task/<id>` and `task/<cluster>/<id>` forms.
pub(super) fn task_id(task_arn: &str) -> Option<&str> {
    let (_, resource) = task_arn.split_once(":task/")?;
    resource.rsplit('/').next().filter(|id| !id.is_empty())
}

/// The cluster's name from `clusterArn` (or a bare name), else from a long `task/<cluster>/<id>` ARN.
pub(super) fn cluster_name<'a>(cluster_arn: Option<&'a str>, task_arn: Option<&'a str>) -> Option<&'a str> {
    let from_cluster = cluster_arn.and_then(|arn| match arn.split_once(":cluster/") {
        Some((_, name)) => Some(name),
        None => (!arn.contains(':')).then_some(arn),
    });
    let from_task = || task_arn?.split_once(":task/")?.1.split_once('/').map(|(cluster, _)| cluster);
    from_cluster.or_else(from_task).filter(|name| !name.is_empty())
}

/// `arn:...:task-definition/web:12` -> (`web`, `12`).
pub(super) fn family_revision(arn: &str) -> (Option<String>, Option<String>) {
    let name = arn.split_once(":task-definition/").map_or(arn, |(_, name)| name);
    match name.rsplit_once(':') {
        Some((family, revision)) if !revision.is_empty() && revision.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(family.to_string()), Some(revision.to_string()))
        }
        _ => ((!name.is_empty()).then(|| name.to_string()), None),
    }
}
