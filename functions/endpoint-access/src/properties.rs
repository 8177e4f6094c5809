//! The resource's properties, as a user writes them in a template, and their validation.

use serde::Deserialize;
use shared::aws::is_id;
use shared::custom_resource::properties::cfn;

use crate::error::AccessError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum OnMissing {
    /// Fail the stack, listing what is missing.
    #[default]
    Fail,
    /// Succeed and list what is missing in the `Missing` attribute.
    Report,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AccessProperties {
    pub vpc_id: String,
    pub task_security_group_ids: Vec<String>,
    #[serde(default = "default_services")]
    pub services: Vec<String>,
    #[serde(default = "yes", deserialize_with = "cfn::scalar")]
    pub manage_egress: bool,
    #[serde(default)]
    pub on_missing: OnMissing,
    #[serde(default = "https", deserialize_with = "cfn::scalar")]
    pub port: u16,
}

/// The services `Services` defaults to (and `check-network` without a service to read them from).
pub fn default_services() -> Vec<String> {
    ["ecr.api", "ecr.dkr", "logs", "s3"].map(String::from).to_vec()
}

fn yes() -> bool {
    true
}

fn https() -> u16 {
    443
}

impl AccessProperties {
    pub fn validate(&self) -> Result<(), AccessError> {
        let invalid = |name: &'static str, problem: String| Err(AccessError::InvalidProperty { name, problem });
        if !is_id(&self.vpc_id, "vpc-") {
            return invalid("VpcId", format!("`{}` is not an id such as vpc-0123456789abcdef0", self.vpc_id));
        }
        if self.task_security_group_ids.is_empty() {
            return invalid("TaskSecurityGroupIds", "lists no security group".into());
        }
        if let Some(bad) = self.task_security_group_ids.iter().find(|g| !is_id(g, "sg-")) {
            return invalid("TaskSecurityGroupIds", format!("`{bad}` is not an id such as sg-0123456789abcdef0"));
        }
        if let Some(bad) = self.services.iter().find(|s| !is_short_service_name(s)) {
            return invalid(
                "Services",
                format!("`{bad}` is not a short service name such as ecr.api or secretsmanager"),
            );
        }
        if self.port == 0 {
            return invalid("Port", "must be 1 to 65535".into());
        }
        Ok(())
    }
}

/// A short service name such as `ecr.api` or `secretsmanager`, not a full endpoint service name.
pub fn is_short_service_name(s: &str) -> bool {
    !(s.is_empty()
        || s.starts_with("com.")
        || s.contains("amazonaws.")
        || !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn props(extra: Value) -> Result<AccessProperties, String> {
        let mut raw = json!({"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f", "VpcId": "vpc-0a1b2c3d4e5f60718", "TaskSecurityGroupIds": ["sg-0123456789abcdef0"]});
        for (k, v) in extra.as_object().unwrap() {
            raw[k] = v.clone();
        }
        let parsed: AccessProperties = shared::custom_resource::properties::parse(&raw).map_err(|e| e.to_string())?;
        parsed.validate().map_err(|e| e.to_string())?;
        Ok(parsed)
    }

    #[test]
    fn defaults() {
        let p = props(json!({})).unwrap();
        assert_eq!(p.services, ["ecr.api", "ecr.dkr", "logs", "s3"]);
        assert!(p.manage_egress);
        assert_eq!(p.on_missing, OnMissing::Fail);
        assert_eq!(p.port, 443);
    }

    #[test]
    fn validation_table() {
        let cases: Vec<(&str, Value, Result<(), &str>)> = vec![
            (
                "strings as CloudFormation sends them",
                json!({"Port": "8443", "ManageEgress": "false", "OnMissing": "Report", "Services": ["secretsmanager", "ssm"]}),
                Ok(()),
            ),
            (
                "typo",
                json!({"TaskSecurityGroupId": ["sg-0123456789abcdef0"]}),
                Err("unknown property `TaskSecurityGroupId`; did you mean `TaskSecurityGroupIds`?"),
            ),
            (
                "no task groups",
                json!({"TaskSecurityGroupIds": []}),
                Err("property `TaskSecurityGroupIds`: lists no security group"),
            ),
            (
                "bad group",
                json!({"TaskSecurityGroupIds": ["tasks"]}),
                Err("property `TaskSecurityGroupIds`: `tasks` is not an id"),
            ),
            (
                "full service name",
                json!({"Services": ["com.amazonaws.us-east-1.logs"]}),
                Err("property `Services`: `com.amazonaws.us-east-1.logs` is not a short service name"),
            ),
            (
                "full China service name",
                json!({"Services": ["cn.com.amazonaws.cn-north-1.ecr.api"]}),
                Err("property `Services`: `cn.com.amazonaws.cn-north-1.ecr.api` is not a short service name"),
            ),
            ("bad OnMissing", json!({"OnMissing": "Ignore"}), Err("property `OnMissing`: unknown variant `Ignore`")),
            ("port zero", json!({"Port": 0}), Err("property `Port`: must be 1 to 65535")),
        ];
        for (case, extra, expected) in cases {
            match (props(extra), expected) {
                (Ok(_), Ok(())) => {}
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{case}: {got}"),
                (got, want) => panic!("{case}: got {got:?}, expected {want:?}"),
            }
        }
    }
}
