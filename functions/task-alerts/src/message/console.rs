//! Links into the AWS console: the task in ECS, and the container's log events in CloudWatch.

use super::LogStream;

/// `https://<region>.console.aws.amazon.com/ecs/v2/clusters/<cluster>/tasks/<task-id>/configuration?region=<region>`
pub(super) fn console_url(region: &str, cluster: &str, task_id: &str) -> String {
    let (cluster, task_id) = (percent_encode(cluster), percent_encode(task_id));
    format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{task_id}/configuration?region={region}"
    )
}

/// The CloudWatch console's log-events page. Its fragment takes each name URL-encoded twice with `%` written
/// as `$` (`/ecs/web` is `$252Fecs$252Fweb`).
/// A service's health and metrics page in the ECS console.
pub(super) fn service_url(region: &str, cluster: &str, service: &str) -> String {
    let (cluster, service) = (percent_encode(cluster), percent_encode(service));
    format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/services/{service}/health?region={region}"
    )
}

/// A cluster's infrastructure page (its container instances and capacity providers) in the ECS console.
pub(super) fn cluster_url(region: &str, cluster: &str) -> String {
    let cluster = percent_encode(cluster);
    format!("https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/infrastructure?region={region}")
}

pub(super) fn logs_url(region: &str, logs: &LogStream) -> String {
    let encode = |name: &str| percent_encode(&percent_encode(name)).replace('%', "$");
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}",
        encode(&logs.group),
        encode(&logs.stream)
    )
}

/// Everything but RFC 3986 unreserved characters, percent-encoded.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out += &format!("%{byte:02X}");
        }
    }
    out
}
