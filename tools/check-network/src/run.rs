//! Args to exit code: read the placement (given, or the service's), observe, decide, print.

use aws_config::SdkConfig;
use endpoint_access::ec2::Ec2Api;
use endpoint_access::properties::default_services;

use crate::args::{Config, Format, Source};
use crate::error::CheckError;
use crate::findings::{Finding, all_reachable, findings};
use crate::model::Ask;
use crate::observe::{Placement, Reader};

/// Exit codes: everything reachable, something missing, bad input or no check.
pub const REACHABLE: u8 = 0;
pub const MISSING: u8 = 1;
pub const BAD_INPUT: u8 = 2;

/// Run the check and print its report; the exit code.
pub async fn run(config: &Config, sdk: &SdkConfig) -> u8 {
    match check(config, sdk).await {
        Ok(found) => {
            print!("{}", report(&found, config.format));
            if all_reachable(&found) { REACHABLE } else { MISSING }
        }
        Err(err) => {
            eprintln!("check-network: {err}");
            BAD_INPUT
        }
    }
}

/// The findings for `config`.
pub async fn check(config: &Config, sdk: &SdkConfig) -> Result<Vec<Finding>, CheckError> {
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .ok_or_else(|| CheckError::Usage("no AWS Region: set AWS_REGION (or a profile's region)".into()))?;
    let (placement, services) = match &config.source {
        Source::Service { cluster, service } => {
            let ecs = aws_sdk_ecs::Client::new(sdk);
            let (placement, needs) = crate::ecs::read_service(&ecs, cluster, service).await?;
            let mut services = crate::ecs::needed_services(&needs);
            for extra in &config.services {
                if !services.contains(extra) {
                    services.push(extra.clone());
                }
            }
            (placement, services)
        }
        Source::Vpc { vpc_id, subnets, security_groups, public_ip } => {
            let services = if config.services.is_empty() { default_services() } else { config.services.clone() };
            let placement = Placement {
                vpc_id: vpc_id.clone(),
                subnets: subnets.clone(),
                security_groups: security_groups.clone(),
                public_ip: *public_ip,
            };
            (placement, services)
        }
    };
    let ask = Ask { services, to: config.to.clone(), to_groups: config.to_groups.clone() };
    let reader = Reader { api: Ec2Api { ec2: aws_sdk_ec2::Client::new(sdk) }, region };
    let network = reader.network(&placement, &ask).await?;
    Ok(findings(&ask, &network))
}

/// The report: one line per finding, or one JSON document (`{"reachable": …, "findings": […]}`).
pub fn report(found: &[Finding], format: Format) -> String {
    match format {
        Format::Text => found.iter().map(|f| format!("{f}\n")).collect(),
        Format::Json => {
            let doc = serde_json::json!({"reachable": all_reachable(found), "findings": found});
            format!("{doc}\n")
        }
    }
}
