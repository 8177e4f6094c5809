//! Waiting for AWS to catch up, as real EC2 needs (moto never does):
//!
//! - a connection just made can answer `InvalidVpcPeeringConnectionID.NotFound` for a while, in
//!   any region ("Eventual consistency in the Amazon EC2 API"; terraform-provider-aws #30423,
//!   botocore #1114, giantswarm/aws-operator #473): not visible yet, not gone;
//! - the accepter's region reads the connection `provisioning` after the requester reads it
//!   `active`, and refuses its DNS option until it reads `active` there too ("Peering options can
//!   be added only to active peerings"; the Terraform provider re-reads for up to 3 minutes);
//! - a connection's CIDR blocks can be missing from its first describes (aws-operator #554).
//!
//! Every wait backs off (250 ms doubling to 5 s) and stops while the deadline guard still leaves
//! time to undo a Create, naming what it waited for.

use std::time::{Duration, Instant};

use shared::custom_resource::RequestContext;
use tracing::info;

use crate::ec2::{Deletion, Ec2Api};
use crate::error::PeeringError;
use crate::model::Connection;

/// What a Create keeps for undoing its work when a wait runs out.
pub const RESERVE: Duration = Duration::from_secs(5);
/// What the undo itself keeps before the deadline guard answers.
const UNDO_RESERVE: Duration = Duration::from_millis(500);
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// One wait: how long it has waited, and the next pause.
pub struct Waiter<'a> {
    ctx: &'a RequestContext,
    reserve: Duration,
    started: Instant,
    pause: Duration,
}

impl<'a> Waiter<'a> {
    pub fn new(ctx: &'a RequestContext) -> Self {
        Self { ctx, reserve: RESERVE, started: Instant::now(), pause: FIRST_PAUSE }
    }

    fn undoing(ctx: &'a RequestContext) -> Self {
        Self { reserve: UNDO_RESERVE, ..Self::new(ctx) }
    }

    pub fn waited(&self) -> Duration {
        self.started.elapsed()
    }

    /// Pause before the next look, or give up naming `what` ("peering connection pcx-… is still
    /// provisioning in eu-west-1") when the time left is needed for the rest.
    pub async fn again(&mut self, what: String) -> Result<(), PeeringError> {
        if self.ctx.time_left() < self.reserve + self.pause {
            return Err(PeeringError::NotReadyInTime { what, waited_secs: self.started.elapsed().as_secs() });
        }
        self.ctx.step(format!("waiting: {what}"));
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        Ok(())
    }
}

/// Read `id` on `side`, waiting while it is not visible there yet, for at most `limit` and while
/// the deadline allows: an id still unknown then is `None`.
pub async fn visible_within(
    ctx: &RequestContext,
    side: &Ec2Api,
    id: &str,
    limit: Duration,
) -> Result<Option<Connection>, PeeringError> {
    let mut wait = Waiter::new(ctx);
    loop {
        if let Some(c) = side.connection(id).await? {
            return Ok(Some(c));
        }
        let what = format!("peering connection {id} is not visible yet in {}", side.region);
        if wait.waited() >= limit || wait.again(what).await.is_err() {
            return Ok(None);
        }
    }
}

/// Accept the connection if this resource can and it is pending, and wait until the requester's
/// side reads it active; then, when the accepter is another account or region, until that side
/// reads it active too (its DNS option and routes need it). Returns it pending when only the
/// other account can accept.
pub async fn settle(
    ctx: &RequestContext,
    local: &Ec2Api,
    accepter: Option<&Ec2Api>,
    connection: Connection,
) -> Result<Connection, PeeringError> {
    let id = connection.id.clone();
    let mut wait = Waiter::new(ctx);
    let mut accepted = false;
    let mut seen = Some(connection);
    let active = loop {
        // Ours or the other side's, just made: not visible yet is no answer.
        let Some(connection) = (match seen.take() {
            Some(c) => Some(c),
            None => local.connection(&id).await?,
        }) else {
            wait.again(format!("peering connection {id} is not visible yet in {}", local.region)).await?;
            continue;
        };
        match (connection.status.as_str(), accepter) {
            ("active", _) => break connection,
            ("pending-acceptance", None) => return Ok(connection),
            ("pending-acceptance", Some(accepter)) if !accepted => {
                ctx.step(format!("accepting {id}"));
                match accepter.accept(&id).await {
                    Ok(done) => accepted = done,
                    Err(f) if f.code_is("OperationNotPermitted") => {
                        return Err(PeeringError::AcceptElsewhere {
                            id,
                            account: connection.accepter_owner,
                            region: connection.accepter_region,
                            failure: Box::new(f),
                        });
                    }
                    Err(f) => return Err(f.into()),
                }
                if accepted {
                    continue;
                }
            }
            ("initiating-request" | "provisioning" | "pending-acceptance", _) => {}
            (status, _) => {
                return Err(PeeringError::ConnectionFailed {
                    id: id.clone(),
                    status: status.into(),
                    message: connection.message.clone(),
                });
            }
        }
        wait.again(format!("peering connection {id} is still {}", connection.status)).await?;
    };
    if let Some(accepter) = accepter.filter(|a| a.account != local.account || a.region != local.region) {
        active_on(ctx, accepter, &id).await?;
    }
    Ok(active)
}

/// Wait until `side` (the accepter's account or region) reads the connection active.
async fn active_on(ctx: &RequestContext, side: &Ec2Api, id: &str) -> Result<(), PeeringError> {
    let mut wait = Waiter::new(ctx);
    loop {
        let status = match side.connection(id).await? {
            Some(c) if c.status == "active" => {
                info!(side = side.label, connection = %id, region = %side.region, "active on the accepter's side too");
                return Ok(());
            }
            Some(c) if c.is_gone() => {
                return Err(PeeringError::ConnectionFailed { id: id.into(), status: c.status, message: c.message });
            }
            Some(c) => c.status,
            None => "not visible".into(),
        };
        wait.again(format!(
            "peering connection {id} is still {status} in {} (account {}), the accepter's side",
            side.region, side.account
        ))
        .await?;
    }
}

/// The connection with the other side's CIDR blocks filled in: an active connection always has
/// them, so an empty set is one AWS has not reported yet (aws-operator #554).
pub async fn with_cidrs(
    ctx: &RequestContext,
    local: &Ec2Api,
    connection: Connection,
    accept_mode: bool,
) -> Result<Connection, PeeringError> {
    let theirs = |c: &Connection| if accept_mode { c.requester_cidrs.is_empty() } else { c.accepter_cidrs.is_empty() };
    if connection.status != "active" || !theirs(&connection) {
        return Ok(connection);
    }
    let id = connection.id.clone();
    let mut wait = Waiter::new(ctx);
    loop {
        wait.again(format!("the CIDR blocks of peering connection {id} are not reported yet")).await?;
        if let Some(c) = local.connection(&id).await?
            && !theirs(&c)
        {
            return Ok(c);
        }
    }
}

/// Set one side's DNS option, waiting while that side does not read the connection active yet.
pub async fn set_dns(
    ctx: &RequestContext,
    side: &Ec2Api,
    id: &str,
    requester: bool,
    allow: bool,
) -> Result<(), PeeringError> {
    let mut wait = Waiter::new(ctx);
    while !side.set_dns(id, requester, allow).await? {
        wait.again(format!(
            "peering connection {id} does not accept DNS options yet in {}: not active there",
            side.region
        ))
        .await?;
    }
    Ok(())
}

/// Delete a connection, waiting while EC2 does not show it yet (just made, or just described:
/// eventual consistency) or it is still being set up (`InvalidStateTransition`). Gives up with
/// [`PeeringError::NotReadyInTime`] just before the deadline guard.
pub async fn delete_made(ctx: &RequestContext, side: &Ec2Api, id: &str) -> Result<(), PeeringError> {
    let mut wait = Waiter::undoing(ctx);
    loop {
        let why = match side.delete_connection(id).await? {
            Deletion::Deleted => return Ok(()),
            Deletion::NotFound => "is not visible yet",
            Deletion::NotYet => "is still being set up",
        };
        wait.again(format!("peering connection {id} {why} to delete")).await?;
    }
}
