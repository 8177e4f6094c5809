//! Everything that can go wrong, each with what to do about it. `Display` is the one line the
//! stack event shows.

use shared::aws::AwsFailure;

use crate::model::Missing;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("property `{name}`: {problem}")]
    InvalidProperty { name: &'static str, problem: String },

    #[error("missing VPC endpoints in {vpc_id}: {}; add an endpoint for each (AWS::EC2::VPCEndpoint, interface with PrivateDnsEnabled: true, s3 as a gateway) or set OnMissing: Report", list(.missing))]
    MissingEndpoints { vpc_id: String, missing: Vec<Missing> },

    #[error("{vpc_id} not found in this account and region: check VpcId")]
    VpcNotFound { vpc_id: String },

    #[error(
        "security group {group_id} not found in this account and region: check TaskSecurityGroupIds and the endpoints' security groups"
    )]
    GroupNotFound { group_id: String },

    #[error("security group {group_id} is in {actual_vpc}, not {vpc_id}: list only security groups of VpcId")]
    GroupInOtherVpc { group_id: String, vpc_id: String, actual_vpc: String },

    #[error(
        "security group {group_id} has reached its rule limit (RulesPerSecurityGroupLimitExceeded; 60 inbound and 60 outbound by default): remove unused rules or raise the quota \"Inbound or outbound rules per security group\""
    )]
    RuleLimit { group_id: String },

    #[error("{}", aws_reason(.0))]
    Aws(#[from] AwsFailure),

    /// A change that failed after others: what was undone.
    #[error("{cause}; {cleanup}")]
    RolledBack { cause: Box<AccessError>, cleanup: String },
}

fn list(missing: &[Missing]) -> String {
    missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn aws_reason(failure: &AwsFailure) -> String {
    if failure.is_access_denied() {
        format!("{failure}; the function's role lacks this permission")
    } else if failure.is_throttling() {
        format!("{failure}; AWS kept throttling after retries: retry the stack operation later")
    } else {
        failure.to_string()
    }
}
