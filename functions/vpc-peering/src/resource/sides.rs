//! Who acts on each side: this account's EC2 client, and the peer's (another Region, or another
//! account through the role the properties name).

use std::time::Duration;

use aws_config::Region;
use aws_sdk_ec2::Client as Ec2;
use aws_sdk_sts::Client as Sts;
use shared::aws::{AwsFailure, CallsInFlight};
use shared::custom_resource::RequestContext;
use shared::pace;
use tracing::info;

use super::VpcPeering;
use crate::ec2::Ec2Api;
use crate::error::PeeringError;
use crate::properties::PeeringProperties;
use crate::settle::Waiter;

/// How long a Create or Update retries `AccessDenied` from AssumeRole: a peer role just made or
/// just trusted needs seconds to propagate (IAM user guide, "Changes that I make are not always
/// immediately visible").
const IAM_PROPAGATION: Duration = Duration::from_secs(30);

impl VpcPeering {
    pub(super) fn sts(&self) -> &Sts {
        self.sts.get_or_init(|| {
            Sts::from_conf(aws_sdk_sts::config::Builder::from(&self.config).interceptor(CallsInFlight).build())
        })
    }

    pub(super) fn region(&self) -> String {
        self.config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into())
    }

    /// This account's side: its account from the stack's ARN (no call), else from STS.
    pub(super) async fn local_side(&self, ctx: &RequestContext) -> Result<Ec2Api, PeeringError> {
        let account = match ctx.stack_account() {
            Some(account) => account.to_string(),
            None => {
                let me = self
                    .sts()
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| AwsFailure::from_sdk("sts:GetCallerIdentity", &e))?;
                me.account().unwrap_or_default().to_string()
            }
        };
        Ok(Ec2Api { ec2: self.ec2.clone(), account, region: self.region(), label: "local" })
    }

    /// The peer's side: `None` in accept mode (the requester routes its own side) and when it is
    /// in another account with no role to assume. `iam_wait`: retry a denied AssumeRole while
    /// IAM may still be propagating (a Create or Update; a Delete goes on without the peer).
    pub(super) async fn peer_side(
        &self,
        ctx: &RequestContext,
        props: &PeeringProperties,
        local: &Ec2Api,
        iam_wait: bool,
    ) -> Result<Option<Ec2Api>, PeeringError> {
        if props.peering_connection_id.is_some() || props.vpc_id.is_empty() {
            return Ok(None);
        }
        let peer_region = props.peer_region.clone().unwrap_or_else(|| local.region.clone());
        let peer_account = props.peer_owner_id.clone().unwrap_or_else(|| local.account.clone());
        let mut config = aws_sdk_ec2::config::Builder::from(&self.config)
            .region(Region::new(peer_region.clone()))
            .retry_config(pace::retry_config())
            .interceptor(CallsInFlight);
        if let Some(role_arn) = &props.peer_role_arn {
            ctx.step(format!("assuming {role_arn}"));
            let external_id = props.peer_role_external_id.as_deref();
            let mut wait = Waiter::new(ctx);
            let credentials = loop {
                match self.assume(role_arn, external_id).await {
                    Err(e @ PeeringError::AssumeRole { .. })
                        if iam_wait && is_denied(&e) && wait.waited() < IAM_PROPAGATION =>
                    {
                        let what = format!("{role_arn} can be assumed (IAM propagation)");
                        if wait.again(what).await.is_err() {
                            return Err(e);
                        }
                    }
                    other => break other?,
                }
            };
            config = config.credentials_provider(credentials);
        } else if peer_account != local.account {
            return Ok(None);
        }
        Ok(Some(Ec2Api {
            ec2: Ec2::from_conf(config.build()),
            account: peer_account,
            region: peer_region,
            label: "peer",
        }))
    }

    async fn assume(
        &self,
        role_arn: &str,
        external_id: Option<&str>,
    ) -> Result<aws_sdk_ec2::config::Credentials, PeeringError> {
        let failed = |failure| PeeringError::AssumeRole {
            role_arn: role_arn.into(),
            external_id: external_id.is_some(),
            failure,
        };
        let out = self
            .sts()
            .assume_role()
            .role_arn(role_arn)
            .role_session_name("ecs-plumbing-vpc-peering")
            .set_external_id(external_id.map(str::to_owned))
            .send()
            .await
            .map_err(|e| failed(AwsFailure::from_sdk("sts:AssumeRole", &e)))?;
        let c = out.credentials().ok_or_else(|| {
            failed(AwsFailure {
                action: "sts:AssumeRole",
                code: "InvalidResponse".into(),
                message: "no credentials returned".into(),
            })
        })?;
        info!(role = %role_arn, "assumed the peer role");
        Ok(aws_sdk_ec2::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().into()),
            None,
            "peer-role",
        ))
    }
}

/// AssumeRole was refused (a role just made or just trusted can be, for a while).
pub(super) fn is_denied(e: &PeeringError) -> bool {
    matches!(e, PeeringError::AssumeRole { failure, .. } if failure.is_access_denied())
}
