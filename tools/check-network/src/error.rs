//! What stops a check from running, each with what to do about it. All exit with code 2.

use endpoint_access::AccessError;
use shared::aws::AwsFailure;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The arguments, before any call.
    #[error("{0}; see check-network --help")]
    Usage(String),

    #[error("subnet {subnet_id} not found in this account and region: check --subnets")]
    SubnetNotFound { subnet_id: String },

    #[error("subnet {subnet_id} is in {actual_vpc}, not {vpc_id}: list subnets of one VPC")]
    SubnetInOtherVpc { subnet_id: String, vpc_id: String, actual_vpc: String },

    #[error("service {service} not found in cluster {cluster}: check --cluster and --service")]
    ServiceNotFound { cluster: String, service: String },

    #[error("service {service} has no awsvpc network configuration: give --subnets and --security-groups")]
    NoNetworkConfiguration { service: String },

    /// The observation `Custom::EndpointAccess` makes (a VPC or group not found, an AWS failure).
    #[error(transparent)]
    Access(#[from] AccessError),

    #[error("{0}")]
    Aws(#[from] AwsFailure),
}
