//! Links into the AWS console: the task in ECS, and the container's log events in CloudWatch; and,
//! with an access portal configured, each of them as a shortcut link into the event's account.

use super::{Alert, LogStream};
use crate::accounts::{AccessPortal, AccountNames};

/// `https://<region>.console.aws.amazon.com/ecs/v2/clusters/<cluster>/tasks/<task-id>/configuration?region=<region>`
pub(super) fn console_url(region: &str, cluster: &str, task_id: &str) -> String {
    let (cluster, task_id) = (percent_encode(cluster), percent_encode(task_id));
    format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{task_id}/configuration?region={region}"
    )
}

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

/// The CloudWatch console's log-events page. Its fragment takes each name URL-encoded twice with `%` written
/// as `$` (`/ecs/web` is `$252Fecs$252Fweb`).
pub(super) fn logs_url(region: &str, logs: &LogStream) -> String {
    let encode = |name: &str| percent_encode(&percent_encode(name)).replace('%', "$");
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}",
        encode(&logs.group),
        encode(&logs.stream)
    )
}

/// The access portal's shortcut link to `destination` (a console URL) in `account`:
/// `<start URL>/#/console?account_id=<id>&role_name=<role>&destination=<URL-encoded destination>`, as the
/// portal's "Create shortcut" button makes it; without a role the portal lets the reader choose one
/// ("Create shortcut links to AWS Management Console destinations",
/// <https://docs.aws.amazon.com/singlesignon/latest/userguide/createshortcutlink.html>).
pub(super) fn shortcut_url(portal: &AccessPortal, account: &str, destination: &str) -> String {
    let role = portal.role.as_deref().map(|role| format!("&role_name={}", percent_encode(role))).unwrap_or_default();
    format!(
        "{}/#/console?account_id={}{role}&destination={}",
        portal.url,
        percent_encode(account),
        percent_encode(destination)
    )
}

impl Alert {
    /// The alert as sent: its account's name beside the id, and, with an access `portal`, every
    /// console link a shortcut link into that account (a console URL names no account: it opens in
    /// whichever one the reader is signed in to). Links stay plain when the account is unknown.
    pub fn for_account(mut self, names: &AccountNames, portal: Option<&AccessPortal>) -> Self {
        let Some(account) = self.account.clone() else { return self };
        self.account_name = names.name(&account).map(str::to_string);
        if let Some(portal) = portal {
            let through = |url: Option<String>| url.map(|url| shortcut_url(portal, &account, &url));
            self.console_url = through(self.console_url.take());
            self.logs_url = through(self.logs_url.take());
        }
        self
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::fixtures::{alert_of, service_oom};

    const TASK: &str = "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/5f6c1a2b3d4e4f5a8b9c0d1e2f3a4b5c/configuration?region=us-east-1";

    fn portal(role: Option<&str>) -> AccessPortal {
        AccessPortal::parse("https://d-1234567890.awsapps.com/start/", role).expect("a portal")
    }

    #[test]
    fn a_shortcut_link_carries_the_console_url_encoded_once() {
        let cases = [
            (
                Some("ReadOnly"),
                "https://d-1234567890.awsapps.com/start/#/console?account_id=210987654321&role_name=ReadOnly&destination=https%3A%2F%2Fus-east-1.console.aws.amazon.com%2Fecs%2Fv2%2Fclusters%2Fprod%2Ftasks%2F5f6c1a2b3d4e4f5a8b9c0d1e2f3a4b5c%2Fconfiguration%3Fregion%3Dus-east-1",
            ),
            (
                Some("Ops+On,Call@x=1"),
                "https://d-1234567890.awsapps.com/start/#/console?account_id=210987654321&role_name=Ops%2BOn%2CCall%40x%3D1&destination=https%3A%2F%2F",
            ),
            (
                None,
                "https://d-1234567890.awsapps.com/start/#/console?account_id=210987654321&destination=https%3A%2F%2F",
            ),
        ];
        for (role, want) in cases {
            let got = shortcut_url(&portal(role), "210987654321", TASK);
            assert!(got.starts_with(want), "{role:?}: {got}");
        }
        // The CloudWatch fragment's `$` and `#` survive as one more level of encoding.
        let logs = logs_url("us-east-1", &LogStream::awslogs("/ecs/api", "ecs", "api", "5f6c"));
        let got = shortcut_url(&portal(None), "210987654321", &logs);
        assert!(got.ends_with("%3Fregion%3Dus-east-1%23logsV2%3Alog-groups%2Flog-group%2F%24252Fecs%24252Fapi%2Flog-events%2Fecs%24252Fapi%24252F5f6c"), "{got}");
        assert_eq!(got.matches('#').count(), 1, "only the portal's own fragment");
    }

    #[test]
    fn every_link_goes_through_the_portal_into_the_events_account() {
        let names = AccountNames::parse("210987654321=payments-prod").expect("names");
        let mut alert = alert_of(&service_oom());
        alert.account = Some("210987654321".into());
        alert = alert.with_log_tail(LogStream::awslogs("/ecs/api", "ecs", "api", "5f6c"), vec!["line".into()]);
        let plain = alert.clone().for_account(&names, None);
        assert_eq!(plain.account_name.as_deref(), Some("payments-prod"));
        assert_eq!((&plain.console_url, &plain.logs_url), (&alert.console_url, &alert.logs_url), "plain links");
        assert!(plain.details_text().contains("Account: 210987654321 (payments-prod)"));

        let through = alert.clone().for_account(&names, Some(&portal(Some("ReadOnly"))));
        for url in [&through.console_url, &through.logs_url] {
            let url = url.as_deref().unwrap_or_default();
            assert!(url.starts_with("https://d-1234567890.awsapps.com/start/#/console?account_id=210987654321&role_name=ReadOnly&destination=https%3A%2F%2Feu-west-1.console.aws.amazon.com%2F"), "{url}");
        }

        // Another account without a name: its id alone; no account: nothing changes.
        alert.account = Some("111122223333".into());
        let unnamed = alert.clone().for_account(&names, None);
        assert_eq!(unnamed.account_name, None);
        assert!(unnamed.details_text().contains("Account: 111122223333\n"), "{}", unnamed.details_text());
        alert.account = None;
        assert_eq!(alert.clone().for_account(&names, Some(&portal(None))), alert);
    }
}
