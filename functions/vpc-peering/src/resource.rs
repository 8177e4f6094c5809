//! `Custom::VpcPeering`: observe both sides, check and plan, then apply; on Delete undo exactly
//! what the resource owns (the routes through its connection in its tables, and the
//! connection if it created it).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_config::{Region, SdkConfig};
use aws_sdk_ec2::Client as Ec2;
use aws_sdk_sts::Client as Sts;
use ipnet::IpNet;
use shared::aws::{AwsFailure, CallsInFlight};
use shared::custom_resource::{CustomResource, Outcome, RequestContext, failed_create_id};
use tracing::info;

use crate::ec2::{LOGICAL_TAG, STACK_TAG, Side};
use crate::error::PeeringError;
use crate::model::{Action, Connection, RouteTable, Vpc};
use crate::plan::{desired_routes, overlaps, plan_routes};
use crate::properties::PeeringProperties;

/// The physical id of a Create that failed waiting for AWS to answer CreateVpcPeeringConnection
/// (then the request id): its Delete looks for the connection by this resource's tags.
const UNCONFIRMED: &str = "unconfirmed-peering-request-";

pub struct VpcPeering {
    config: SdkConfig,
    ec2: Ec2,
    sts: Sts,
}

/// One side's route work: the tables it manages, as observed, and what it wants there.
struct SideRoutes<'a> {
    side: &'a Side,
    managed: BTreeSet<String>,
    observed: Vec<RouteTable>,
    desired: Vec<crate::model::RouteSpec>,
}

impl VpcPeering {
    pub fn new(config: &SdkConfig) -> Self {
        // Every client names its unanswered calls if the deadline comes first.
        let ec2 = Ec2::from_conf(aws_sdk_ec2::config::Builder::from(config).interceptor(CallsInFlight).build());
        let sts = Sts::from_conf(aws_sdk_sts::config::Builder::from(config).interceptor(CallsInFlight).build());
        Self { config: config.clone(), ec2, sts }
    }

    fn region(&self) -> String {
        self.config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into())
    }

    /// This account: from the stack's ARN (no call), else from STS.
    async fn account(&self, ctx: &RequestContext) -> Result<String, PeeringError> {
        if let Some(account) = ctx.stack_id.split(':').nth(4).filter(|a| a.len() == 12) {
            return Ok(account.into());
        }
        let me = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("sts:GetCallerIdentity", &e))?;
        Ok(me.account().unwrap_or_default().into())
    }

    /// Both sides. The peer is `None` in accept mode (the requester routes its own side) and
    /// when it is in another account with no role to assume.
    async fn sides(
        &self,
        ctx: &RequestContext,
        props: &PeeringProperties,
    ) -> Result<(Side, Option<Side>), PeeringError> {
        let account = self.account(ctx).await?;
        let region = self.region();
        let local = Side { ec2: self.ec2.clone(), account: account.clone(), region: region.clone(), label: "local" };
        if props.peering_connection_id.is_some() {
            return Ok((local, None));
        }
        let peer_region = props.peer_region.clone().unwrap_or(region);
        let peer_account = props.peer_owner_id.clone().unwrap_or_else(|| account.clone());
        let mut config = aws_sdk_ec2::config::Builder::from(&self.config)
            .region(Region::new(peer_region.clone()))
            .interceptor(CallsInFlight);
        if let Some(role_arn) = &props.peer_role_arn {
            ctx.step(format!("assuming {role_arn}"));
            config = config.credentials_provider(self.assume(role_arn, props.peer_role_external_id.as_deref()).await?);
        } else if peer_account != account {
            return Ok((local, None));
        }
        let peer =
            Side { ec2: Ec2::from_conf(config.build()), account: peer_account, region: peer_region, label: "peer" };
        Ok((local, Some(peer)))
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
            .sts
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

    /// Create, or update in place: make the connection, DNS and routes match `props`.
    /// `existing` is the connection an Update manages; `old` the properties it had.
    async fn reconcile(
        &self,
        ctx: &RequestContext,
        props: &PeeringProperties,
        old: Option<&PeeringProperties>,
        existing: Option<&str>,
    ) -> Result<Outcome, PeeringError> {
        props.validate()?;
        let accept_mode = props.peering_connection_id.is_some();
        let (local, peer) = self.sides(ctx, props).await?;
        if peer.is_none() && !props.peer_route_table_ids.is_empty() {
            return Err(PeeringError::PeerUnreachable {
                peer_account: props.peer_owner_id.clone().unwrap_or_default(),
                property: "PeerRouteTableIds",
            });
        }

        // Observe.
        ctx.step("reading the VPCs, route tables and connection");
        let local_vpc = local.vpc(&props.vpc_id, props.allow_dns_resolution).await?;
        let peer_vpc = match &peer {
            Some(p) => Some(p.vpc(&props.peer_vpc_id, props.allow_dns_resolution).await?),
            None => None,
        };
        let connection = match existing.or(props.peering_connection_id.as_deref()) {
            Some(id) => Some(
                local
                    .connection(id)
                    .await?
                    .filter(|c| !c.is_gone())
                    .ok_or_else(|| PeeringError::ConnectionNotFound { id: id.into() })?,
            ),
            None => local.find_ours(&props.vpc_id, &props.peer_vpc_id, &ctx.stack_id, &ctx.logical_resource_id).await?,
        };
        let peer_cidrs = match (&peer_vpc, &connection) {
            (Some(vpc), _) => vpc.cidrs.clone(),
            (None, Some(c)) if accept_mode => c.requester_cidrs.clone(),
            (None, Some(c)) => c.accepter_cidrs.clone(),
            (None, None) => Vec::new(),
        };
        let excluded = props.excluded();

        // Check, before anything is created or changed.
        let found = overlaps(&local_vpc.cidrs, &peer_cidrs, &excluded);
        if !found.is_empty() {
            return Err(PeeringError::Overlap {
                local_vpc: props.vpc_id.clone(),
                peer_vpc: props.peer_vpc_id.clone(),
                overlaps: found,
            });
        }
        if props.allow_dns_resolution {
            for vpc in std::iter::once(&local_vpc).chain(peer_vpc.as_ref()) {
                check_dns(vpc)?;
            }
        }
        let old_tables = |f: fn(&PeeringProperties) -> &Vec<String>| old.map(|o| f(o).clone()).unwrap_or_default();
        let mut routes = vec![
            self.side_routes(
                &local,
                &props.vpc_id,
                "RouteTableIds",
                &props.route_table_ids,
                &old_tables(|p| &p.route_table_ids),
                &peer_cidrs,
                &excluded,
            )
            .await?,
        ];
        if let Some(peer) = &peer {
            let tables = &props.peer_route_table_ids;
            routes.push(
                self.side_routes(
                    peer,
                    &props.peer_vpc_id,
                    "PeerRouteTableIds",
                    tables,
                    &old_tables(|p| &p.peer_route_table_ids),
                    &local_vpc.cidrs,
                    &excluded,
                )
                .await?,
            );
        }
        let connection_id = connection.as_ref().map(|c| c.id.as_str());
        for side in &routes {
            plan_routes(&side.desired, &side.observed, &side.managed, connection_id)
                .map_err(PeeringError::RouteConflicts)?;
        }

        // Apply: the connection first; a Create that fails after making it undoes its work.
        let (connection, created) = match connection {
            Some(c) => (c, false),
            None => {
                ctx.step("creating the peering connection");
                // Until AWS answers with its id, a failed Create can only name it by its tags.
                ctx.claim(format!("{UNCONFIRMED}{}", ctx.request_id));
                let mut tags = vec![
                    (STACK_TAG.to_string(), ctx.stack_id.clone()),
                    (LOGICAL_TAG.to_string(), ctx.logical_resource_id.clone()),
                ];
                tags.extend(props.tags.iter().map(|t| (t.key.clone(), t.value.clone())));
                let peer_owner = props.peer_owner_id.as_deref();
                let peer_region = props.peer_region.as_deref();
                let made = local
                    .create_connection(&props.vpc_id, &props.peer_vpc_id, peer_owner, peer_region, &tags)
                    .await
                    .inspect_err(|e| {
                        // A definite refusal made nothing: back to the id that says so.
                        if matches!(e, PeeringError::Aws(failure) if !failure.is_transient()) {
                            ctx.claim(failed_create_id(&ctx.request_id));
                        }
                    })?;
                // If this Create fails past here, CloudFormation's rollback deletes this connection.
                ctx.claim(&made.id);
                (made, true)
            }
        };
        let id = connection.id.clone();
        match self.connect(ctx, props, &local, peer.as_ref(), connection, &routes).await {
            Ok(connection) => Ok(outcome(&connection, &local_vpc, &peer_cidrs)),
            Err(cause) if created => {
                let cleanup = match self.teardown(ctx, props, &local, peer.as_ref(), &id, true).await {
                    Ok(()) => format!("rolled back: removed its routes and deleted {id}"),
                    Err(e) => format!("rollback incomplete, {id} and its routes may remain: {e}"),
                };
                Err(PeeringError::RolledBack { cause: Box::new(cause), cleanup })
            }
            Err(cause) => Err(cause),
        }
    }

    /// Observe one side's managed tables and work out the routes it wants.
    #[allow(clippy::too_many_arguments)]
    async fn side_routes<'a>(
        &self,
        side: &'a Side,
        vpc_id: &str,
        property: &'static str,
        tables: &[String],
        old_tables: &[String],
        other_cidrs: &[IpNet],
        excluded: &[IpNet],
    ) -> Result<SideRoutes<'a>, PeeringError> {
        let managed: BTreeSet<String> = tables.iter().chain(old_tables).cloned().collect();
        let observed = side.route_tables(&managed.iter().cloned().collect::<Vec<_>>()).await?;
        for id in tables {
            match observed.iter().find(|t| &t.id == id) {
                None => {
                    return Err(PeeringError::RouteTableNotFound {
                        table_id: id.clone(),
                        property,
                        account: side.account.clone(),
                        region: side.region.clone(),
                    });
                }
                Some(t) if t.vpc_id != vpc_id => {
                    return Err(PeeringError::RouteTableNotInVpc {
                        table_id: id.clone(),
                        property,
                        vpc_id: vpc_id.into(),
                        actual_vpc: t.vpc_id.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(SideRoutes { side, managed, observed, desired: desired_routes(tables, other_cidrs, excluded) })
    }

    /// Accept, wait for `active`, set DNS, and route both sides.
    async fn connect(
        &self,
        ctx: &RequestContext,
        props: &PeeringProperties,
        local: &Side,
        peer: Option<&Side>,
        connection: Connection,
        routes: &[SideRoutes<'_>],
    ) -> Result<Connection, PeeringError> {
        let accept_mode = props.peering_connection_id.is_some();
        // The accepter accepts: this account in accept mode, else the peer side if reachable.
        let accepter = if accept_mode { Some(local) } else { peer };
        let connection = settle(ctx, local, accepter, connection).await?;
        if connection.status != "active" {
            info!(connection = %connection.id, status = %connection.status, "waiting for the peer account to accept; routes and DNS follow on the next update");
            return Ok(connection);
        }
        let id = connection.id.clone();
        // Each owner sets its own side's DNS option, from its own region.
        let allow = props.allow_dns_resolution;
        if accept_mode {
            if connection.accepter_dns != allow {
                local.set_dns(&id, false, allow).await?;
            }
        } else {
            if connection.requester_dns != allow {
                local.set_dns(&id, true, allow).await?;
            }
            if let Some(peer) = peer.filter(|_| connection.accepter_dns != allow) {
                peer.set_dns(&id, false, allow).await?;
            }
        }
        for side in routes {
            let actions = plan_routes(&side.desired, &side.observed, &side.managed, Some(&id))
                .map_err(PeeringError::RouteConflicts)?;
            apply(side.side, &actions, &id, ctx).await?;
        }
        Ok(connection)
    }

    /// Remove the routes through `id` in the managed tables on both sides, then delete the
    /// connection if asked (never in accept mode). Already gone is success.
    async fn teardown(
        &self,
        ctx: &RequestContext,
        props: &PeeringProperties,
        local: &Side,
        peer: Option<&Side>,
        id: &str,
        delete_connection: bool,
    ) -> Result<(), PeeringError> {
        let sides =
            std::iter::once((local, &props.route_table_ids)).chain(peer.map(|p| (p, &props.peer_route_table_ids)));
        for (side, tables) in sides {
            let managed: BTreeSet<String> = tables.iter().cloned().collect();
            let observed = side.route_tables(tables).await?;
            let actions = plan_routes(&[], &observed, &managed, Some(id)).map_err(PeeringError::RouteConflicts)?;
            apply(side, &actions, id, ctx).await?;
        }
        if delete_connection
            && props.peering_connection_id.is_none()
            && let Some(c) = local.connection(id).await?.filter(|c| !c.is_gone())
        {
            ctx.step(format!("deleting {id}"));
            local.delete_connection(&c.id).await?;
        }
        Ok(())
    }
}

/// Accept the connection if this resource can and it is pending, and wait until it is active.
/// Returns it pending when only the other account can accept. Stops waiting while there is
/// still time to undo a Create.
async fn settle(
    ctx: &RequestContext,
    local: &Side,
    accepter: Option<&Side>,
    mut connection: Connection,
) -> Result<Connection, PeeringError> {
    const RESERVE: Duration = Duration::from_secs(5);
    let started = Instant::now();
    let mut pause = Duration::from_millis(250);
    let mut accepted = false;
    loop {
        match (connection.status.as_str(), accepter) {
            ("active", _) => return Ok(connection),
            ("pending-acceptance", None) => return Ok(connection),
            ("pending-acceptance", Some(accepter)) if !accepted => {
                ctx.step(format!("accepting {}", connection.id));
                accepter.accept(&connection.id).await?;
                accepted = true;
            }
            ("initiating-request" | "provisioning" | "pending-acceptance", _) => {}
            (status, _) => {
                return Err(PeeringError::ConnectionFailed {
                    id: connection.id.clone(),
                    status: status.into(),
                    message: connection.message.clone(),
                });
            }
        }
        if ctx.time_left() < RESERVE + pause {
            return Err(PeeringError::NotActiveInTime {
                id: connection.id.clone(),
                status: connection.status.clone(),
                waited_secs: started.elapsed().as_secs(),
            });
        }
        ctx.step(format!("waiting for {} to become active", connection.id));
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
        let id = connection.id.clone();
        connection = local.connection(&id).await?.ok_or(PeeringError::ConnectionNotFound { id })?;
    }
}

async fn apply(side: &Side, actions: &[Action], id: &str, ctx: &RequestContext) -> Result<(), PeeringError> {
    match side.apply(actions, id, ctx).await {
        Ok(_) => Ok(()),
        Err((cause, done)) if done.is_empty() => Err(cause),
        Err((cause, done)) => {
            Err(PeeringError::PartlyApplied { cause: Box::new(cause), done: done.len(), side: side.label })
        }
    }
}

fn check_dns(vpc: &Vpc) -> Result<(), PeeringError> {
    let off = |attribute| Err(PeeringError::DnsDisabled { vpc_id: vpc.id.clone(), attribute });
    if !vpc.dns_support {
        return off("enableDnsSupport");
    }
    if !vpc.dns_hostnames {
        return off("enableDnsHostnames");
    }
    Ok(())
}

fn outcome(connection: &Connection, local: &Vpc, peer_cidrs: &[IpNet]) -> Outcome {
    let join = |c: &[IpNet]| c.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    Outcome::new(connection.id.clone())
        .with_attribute("PeeringConnectionId", connection.id.clone())
        .with_attribute("Status", connection.status.clone())
        .with_attribute("LocalCidrs", join(&local.cidrs))
        .with_attribute("PeerCidrs", join(peer_cidrs))
}

impl CustomResource for VpcPeering {
    type Properties = PeeringProperties;
    type Error = PeeringError;

    async fn create(&self, ctx: &RequestContext, props: PeeringProperties) -> Result<Outcome, PeeringError> {
        self.reconcile(ctx, &props, None, None).await
    }

    async fn update(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        props: PeeringProperties,
        old: Option<PeeringProperties>,
    ) -> Result<Outcome, PeeringError> {
        match &old {
            // Same connection: reconcile in place (tables that left the lists are still managed).
            Some(old) if props.same_connection(old) => self.reconcile(ctx, &props, Some(old), Some(physical_id)).await,
            // A new connection: CloudFormation deletes the old one with the old properties.
            _ => self.reconcile(ctx, &props, None, None).await,
        }
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        props: PeeringProperties,
    ) -> Result<(), PeeringError> {
        let unconfirmed = physical_id.starts_with(UNCONFIRMED);
        if !physical_id.starts_with("pcx-") && !unconfirmed {
            info!(physical_id, "not a peering connection id: nothing to delete");
            return Ok(());
        }
        let (local, peer) = self.sides(ctx, &props).await?;
        let id = if unconfirmed {
            // A Create that got no answer to its request: AWS may still have made the connection.
            let found =
                local.find_ours(&props.vpc_id, &props.peer_vpc_id, &ctx.stack_id, &ctx.logical_resource_id).await?;
            match found.filter(|c| !c.is_gone()) {
                Some(c) => c.id,
                None => return Ok(()),
            }
        } else {
            physical_id.to_string()
        };
        self.teardown(ctx, &props, &local, peer.as_ref(), &id, true).await
    }
}
