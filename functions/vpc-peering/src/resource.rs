//! `Custom::VpcPeering`: observe both sides, check and plan, then apply; on Delete undo exactly
//! what the resource owns (the routes through its connection in its tables, and the
//! connection if it created it).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_ec2::Client as Ec2;
use aws_sdk_sts::Client as Sts;
use ipnet::IpNet;
use shared::aws::CallsInFlight;
use shared::custom_resource::{CustomResource, Outcome, RequestContext, failed_create_id};
use shared::pace;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::checks::{check_dns, check_overlaps, check_time};
use crate::ec2::{Deletion, Ec2Api, LOGICAL_TAG, STACK_TAG};
use crate::error::PeeringError;
use crate::model::{Action, Connection, RouteTable, Target, Vpc};
use crate::plan::{desired_routes, plan_routes};
use crate::properties::PeeringProperties;
use crate::settle::{RESERVE, delete_made, set_dns, settle, visible_within, with_cidrs};
use sides::is_denied;

/// Who acts on each side.
mod sides;

/// The physical id of a Create that failed waiting for AWS to answer CreateVpcPeeringConnection
/// (then the request id): its Delete looks for the connection by this resource's tags.
const UNCONFIRMED: &str = "unconfirmed-peering-request-";

/// How long an id the request names (accept mode's, or an Update's own connection) may read
/// NotFound before it is taken as missing: a connection just made by either side shows up in
/// seconds (eventual consistency), a wrong id never does.
const LOOKUP_WAIT: Duration = Duration::from_secs(5);

pub struct VpcPeering {
    config: SdkConfig,
    ec2: Ec2,
    /// Only for a peer account's role or a stack ARN without an account: built when first
    /// needed, not in every cold start (a client takes ~0.5 ms to build).
    sts: OnceLock<Sts>,
}

/// What a Create or Update is asked to do with the connection.
#[derive(Clone, Copy)]
enum Mode<'a> {
    /// A Create: a failure after making the connection undoes it.
    Create,
    /// An Update of the same connection (`id`); `old` its previous properties.
    InPlace { id: &'a str, old: &'a PeeringProperties },
    /// An Update that makes a new connection; `old_id` stays for CloudFormation's cleanup, and a
    /// failure answers with the new connection's id so the rollback's cleanup deletes it.
    Replace { old_id: &'a str },
}

/// One side's route work: the tables it manages and lists, as observed.
struct SideRoutes<'a> {
    side: &'a Ec2Api,
    managed: BTreeSet<String>,
    tables: Vec<String>,
    observed: Vec<RouteTable>,
}

impl SideRoutes<'_> {
    fn plan(
        &self,
        other_cidrs: &[IpNet],
        excluded: &[IpNet],
        connection: Option<&str>,
        movable: &BTreeSet<String>,
    ) -> Result<Vec<Action>, PeeringError> {
        let desired = desired_routes(&self.tables, other_cidrs, excluded);
        plan_routes(&desired, &self.observed, &self.managed, connection, movable).map_err(PeeringError::RouteConflicts)
    }

    /// Other peering connections that a managed table routes through (a replacement's old one
    /// may be among them).
    fn other_connections(&self, connection: Option<&str>) -> impl Iterator<Item = String> + '_ {
        let connection = connection.map(str::to_owned);
        self.observed.iter().flat_map(|t| &t.routes).filter_map(move |r| match &r.target {
            Target::Peering(id) if Some(id) != connection.as_ref() => Some(id.clone()),
            _ => None,
        })
    }
}

impl VpcPeering {
    pub fn new(config: &SdkConfig) -> Self {
        // Every client names its unanswered calls if the deadline comes first; route writes are
        // paced to EC2's request-rate buckets and retried while throttled (`shared::pace`).
        let ec2 = Ec2::from_conf(
            aws_sdk_ec2::config::Builder::from(config)
                .retry_config(pace::retry_config())
                .interceptor(CallsInFlight)
                .build(),
        );
        Self { config: config.clone(), ec2, sts: OnceLock::new() }
    }

    /// Create, or update: make the connection, DNS and routes match `props`.
    async fn reconcile(
        &self,
        ctx: &RequestContext,
        props: &PeeringProperties,
        mode: Mode<'_>,
    ) -> Result<Outcome, PeeringError> {
        props.validate()?;
        let accept_mode = props.peering_connection_id.is_some();
        let local = self.local_side(ctx).await?;
        let peer = self.peer_side(ctx, props, &local, true).await?;
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
        let connection = match (&props.peering_connection_id, mode) {
            (Some(id), _) => {
                Some(live(ctx, &local, id).await?.ok_or_else(|| PeeringError::ConnectionNotFound { id: id.clone() })?)
            }
            (None, Mode::InPlace { id, .. }) => {
                Some(live(ctx, &local, id).await?.ok_or_else(|| PeeringError::OwnConnectionGone { id: id.into() })?)
            }
            (None, _) => {
                local.find_ours(&props.vpc_id, &props.peer_vpc_id, &ctx.stack_id, &ctx.logical_resource_id).await?
            }
        };
        // The other VPC's blocks: read from it where this function can, else as the connection
        // reports them (again once it is active: they can be missing before).
        let peer_cidrs = |c: Option<&Connection>| match (&peer_vpc, c) {
            (Some(vpc), _) => vpc.cidrs.clone(),
            (None, Some(c)) if accept_mode => c.requester_cidrs.clone(),
            (None, Some(c)) => c.accepter_cidrs.clone(),
            (None, None) => Vec::new(),
        };
        let excluded = props.excluded();
        check_overlaps(props, &local_vpc, &peer_cidrs(connection.as_ref()), &excluded)?;
        if props.allow_dns_resolution {
            for vpc in std::iter::once(&local_vpc).chain(peer_vpc.as_ref()) {
                check_dns(vpc)?;
            }
        }
        let old_tables = |f: fn(&PeeringProperties) -> &Vec<String>| match mode {
            Mode::InPlace { old, .. } => f(old).clone(),
            _ => Vec::new(),
        };
        let mut routes = vec![
            self.side_routes(
                &local,
                &props.vpc_id,
                "RouteTableIds",
                &props.route_table_ids,
                &old_tables(|p| &p.route_table_ids),
            )
            .await?,
        ];
        if let Some(peer) = &peer {
            let (tables, old) = (&props.peer_route_table_ids, old_tables(|p| &p.peer_route_table_ids));
            routes.push(self.side_routes(peer, &props.peer_vpc_id, "PeerRouteTableIds", tables, &old).await?);
        }
        // Routes through another connection of this resource (a replacement's old one) move.
        let connection_id = connection.as_ref().map(|c| c.id.as_str());
        let others: BTreeSet<String> = routes.iter().flat_map(|r| r.other_connections(connection_id)).collect();
        let movable = local.ours_among(&others, &ctx.stack_id, &ctx.logical_resource_id).await?;
        let mut planned = vec![(
            routes[0].side,
            routes[0].plan(&peer_cidrs(connection.as_ref()), &excluded, connection_id, &movable)?,
        )];
        if let Some(side) = routes.get(1) {
            planned.push((side.side, side.plan(&local_vpc.cidrs, &excluded, connection_id, &movable)?));
        }
        check_time(ctx, &planned)?;

        // Apply: the connection first; a Create that fails after making it undoes its work.
        let (connection, created) = match connection {
            Some(c) => (c, false),
            None => (self.create_connection(ctx, props, &local, mode).await?, true),
        };
        let id = connection.id.clone();
        let done = async {
            let connection = self.connect(ctx, props, &local, peer.as_ref(), connection).await?;
            let cidrs = peer_cidrs(Some(&connection));
            if connection.status == "active" {
                check_overlaps(props, &local_vpc, &cidrs, &excluded)?;
                let local_actions = routes[0].plan(&cidrs, &excluded, Some(&id), &movable)?;
                let peer_actions = match routes.get(1) {
                    Some(side) => Some((side.side, side.plan(&local_vpc.cidrs, &excluded, Some(&id), &movable)?)),
                    None => None,
                };
                on_both(
                    apply(&local, &local_actions, &id, ctx),
                    peer_actions.as_ref().map(|(side, actions)| apply(side, actions, &id, ctx)),
                )
                .await?;
            }
            Ok::<_, PeeringError>(outcome(&connection, &local_vpc, &cidrs))
        };
        match done.await {
            Ok(outcome) => Ok(outcome),
            Err(cause) if created && matches!(mode, Mode::Create) => {
                let cleanup = match self.undo(ctx, &local, &routes, &id).await {
                    Ok(()) => format!("rolled back: removed its routes and deleted {id}"),
                    Err(PeeringError::NotReadyInTime { what, waited_secs }) => format!(
                        "rollback incomplete: {what} after {waited_secs} s; CloudFormation's Delete of {id} (this answer's id) removes it"
                    ),
                    Err(e) => format!("rollback incomplete, {id} and its routes may remain: {e}"),
                };
                Err(PeeringError::RolledBack { cause: Box::new(cause), cleanup })
            }
            Err(cause) => Err(cause),
        }
    }

    /// Make the connection, claiming its id first so that a failure from here on is answered
    /// with it (CloudFormation then deletes it).
    async fn create_connection(
        &self,
        ctx: &RequestContext,
        props: &PeeringProperties,
        local: &Ec2Api,
        mode: Mode<'_>,
    ) -> Result<Connection, PeeringError> {
        ctx.step("creating the peering connection");
        // Until AWS answers with its id, a failed request can only name it by its tags.
        ctx.claim(format!("{UNCONFIRMED}{}", ctx.request_id));
        let mut tags = vec![
            (STACK_TAG.to_string(), ctx.stack_id.clone()),
            (LOGICAL_TAG.to_string(), ctx.logical_resource_id.clone()),
        ];
        tags.extend(props.tags.iter().map(|t| (t.key.clone(), t.value.clone())));
        let (peer_owner, peer_region) = (props.peer_owner_id.as_deref(), props.peer_region.as_deref());
        let made = local
            .create_connection(&props.vpc_id, &props.peer_vpc_id, peer_owner, peer_region, &tags)
            .await
            .inspect_err(|e| {
                // A definite refusal made nothing: back to the id that says so.
                if matches!(e, PeeringError::Aws(failure) if !failure.is_transient()) {
                    match mode {
                        Mode::Replace { old_id } => ctx.claim(old_id),
                        _ => ctx.claim(failed_create_id(&ctx.request_id)),
                    }
                }
            })?;
        ctx.claim(&made.id);
        Ok(made)
    }

    /// Observe one side's managed tables, checking the listed ones exist in its VPC.
    async fn side_routes<'a>(
        &self,
        side: &'a Ec2Api,
        vpc_id: &str,
        property: &'static str,
        tables: &[String],
        old_tables: &[String],
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
        Ok(SideRoutes { side, managed, tables: tables.to_vec(), observed })
    }

    /// Accept, wait for `active` on both sides, fill in the CIDR blocks, and set DNS.
    async fn connect(
        &self,
        ctx: &RequestContext,
        props: &PeeringProperties,
        local: &Ec2Api,
        peer: Option<&Ec2Api>,
        connection: Connection,
    ) -> Result<Connection, PeeringError> {
        let accept_mode = props.peering_connection_id.is_some();
        // The accepter accepts: this account in accept mode, else the peer side if reachable.
        let accepter = if accept_mode { Some(local) } else { peer };
        let connection = settle(ctx, local, accepter, connection).await?;
        if connection.status != "active" {
            info!(connection = %connection.id, status = %connection.status, "waiting for the peer account to accept; routes and DNS follow on the next update");
            return Ok(connection);
        }
        let connection = with_cidrs(ctx, local, connection, accept_mode).await?;
        let id = connection.id.clone();
        // Each owner sets its own side's DNS option, from its own region.
        let allow = props.allow_dns_resolution;
        if accept_mode {
            if connection.accepter_dns != allow {
                set_dns(ctx, local, &id, false, allow).await?;
            }
        } else {
            if connection.requester_dns != allow {
                set_dns(ctx, local, &id, true, allow).await?;
            }
            if let Some(peer) = peer.filter(|_| connection.accepter_dns != allow) {
                set_dns(ctx, peer, &id, false, allow).await?;
            }
        }
        Ok(connection)
    }

    /// Undo a Create: its routes, then the connection it made.
    async fn undo(
        &self,
        ctx: &RequestContext,
        local: &Ec2Api,
        routes: &[SideRoutes<'_>],
        id: &str,
    ) -> Result<(), PeeringError> {
        for side in routes {
            remove_routes(ctx, side.side, &side.managed, id).await?;
        }
        ctx.step(format!("deleting {id}"));
        delete_made(ctx, local, id).await
    }
}

/// The connection a request names (accept mode's, or an Update's own), unless it is gone; it may
/// read NotFound for [`LOOKUP_WAIT`] first.
async fn live(ctx: &RequestContext, side: &Ec2Api, id: &str) -> Result<Option<Connection>, PeeringError> {
    Ok(visible_within(ctx, side, id, LOOKUP_WAIT).await?.filter(|c| !c.is_gone()))
}

/// Remove the routes through `id` from `tables` on one side.
async fn remove_routes(
    ctx: &RequestContext,
    side: &Ec2Api,
    tables: &BTreeSet<String>,
    id: &str,
) -> Result<(), PeeringError> {
    let observed = side.route_tables(&tables.iter().cloned().collect::<Vec<_>>()).await?;
    let actions =
        plan_routes(&[], &observed, tables, Some(id), &BTreeSet::new()).map_err(PeeringError::RouteConflicts)?;
    apply(side, &actions, id, ctx).await
}

/// Both sides' route work at once, the local side's failure first: in different accounts or
/// Regions each has buckets of its own; in one, they share the pacer's model of them.
async fn on_both<F>(local: F, peer: Option<F>) -> Result<(), PeeringError>
where
    F: Future<Output = Result<(), PeeringError>>,
{
    let (local, peer) = tokio::join!(local, async {
        match peer {
            Some(peer) => peer.await,
            None => Ok(()),
        }
    });
    local.and(peer)
}

async fn apply(side: &Ec2Api, actions: &[Action], id: &str, ctx: &RequestContext) -> Result<(), PeeringError> {
    // Throttled writes are retried while the time left keeps what a Create needs to undo itself.
    let until = Instant::now() + ctx.time_left().saturating_sub(RESERVE);
    match side.apply(actions, id, ctx, until).await {
        Ok(_) => Ok(()),
        Err((cause, done)) if done.is_empty() => Err(cause),
        Err((cause, done)) => {
            Err(PeeringError::PartlyApplied { cause: Box::new(cause), done: done.len(), side: side.label })
        }
    }
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
        self.reconcile(ctx, &props, Mode::Create).await
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
            Some(old) if props.same_connection(old) => {
                self.reconcile(ctx, &props, Mode::InPlace { id: physical_id, old }).await
            }
            // A new connection: CloudFormation deletes the old one with the old properties.
            _ => self.reconcile(ctx, &props, Mode::Replace { old_id: physical_id }).await,
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
        let local = self.local_side(ctx).await?;
        // Without the peer role (the peer account removed or changed it first), the rest goes
        // anyway, and the answer says what is left on the peer's side.
        let peer = match self.peer_side(ctx, &props, &local, false).await {
            Ok(peer) => peer,
            Err(e @ PeeringError::AssumeRole { .. }) if is_denied(&e) => {
                warn!(error = %e, "deleting without the peer role");
                if !props.peer_route_table_ids.is_empty() {
                    let tables = props.peer_route_table_ids.join(", ");
                    let region = props.peer_region.as_deref().unwrap_or(&local.region);
                    let owner = props.peer_owner_id.as_deref().unwrap_or(&local.account);
                    ctx.note(format!(
                        "{e}, so the routes through {physical_id} in {tables} (account {owner}, {region}) are left as blackholes: remove them there"
                    ));
                }
                None
            }
            Err(e) => return Err(e),
        };
        let (stack, logical) = (&ctx.stack_id, &ctx.logical_resource_id);
        let id = if unconfirmed {
            // A Create that got no answer to its request: find the connection by its tags.
            match local.find_ours(&props.vpc_id, &props.peer_vpc_id, stack, logical).await? {
                Some(c) => c.id,
                None => return Ok(()),
            }
        } else {
            physical_id.to_string()
        };
        let mut sides = vec![(&local, props.route_table_ids.iter().cloned().collect::<BTreeSet<_>>())];
        sides.extend(peer.as_ref().map(|p| (p, props.peer_route_table_ids.iter().cloned().collect())));
        if props.vpc_id.is_empty() {
            // Properties an upgrade renamed: only a connection tagged as this resource's, and
            // every table of this account and region routing through it.
            if !unconfirmed && local.ours_among(&[id.clone()].into(), stack, logical).await?.is_empty() {
                info!(connection = %id, "properties unknown and the connection is not tagged as this resource's: removing nothing");
                return Ok(());
            }
            sides[0].1 = local.tables_routing_through(&id).await?.into_iter().collect();
        }
        let (first, rest) = (&sides[0], sides.get(1));
        on_both(
            remove_routes(ctx, first.0, &first.1, &id),
            rest.map(|(side, tables)| remove_routes(ctx, side, tables, &id)),
        )
        .await?;
        // Accept mode never deletes the connection: the other side made it.
        if props.peering_connection_id.is_none()
            && let Some(c) = local.connection(&id).await?.filter(|c| !c.is_gone())
        {
            ctx.step(format!("deleting {id}"));
            // Still being set up (`InvalidStateTransition`), or NotFound although the describe
            // just showed it (eventual consistency): wait and try again.
            if local.delete_connection(&c.id).await? != Deletion::Deleted {
                delete_made(ctx, &local, &id).await?;
            }
        }
        Ok(())
    }

    /// A Delete acts on the physical id and this resource's tags when its properties no longer
    /// parse (a property renamed by an upgrade): an empty `VpcId` says so.
    fn properties_for_unparsable_delete(&self) -> Option<PeeringProperties> {
        Some(PeeringProperties::unknown())
    }
}
