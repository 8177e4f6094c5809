//! `Custom::EndpointAccess`: observe the VPC's endpoints and the groups' rules, plan, apply;
//! on Delete revoke exactly the rules carrying this resource's owner tag.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_ec2::Client as Ec2;
use shared::aws::CallsInFlight;
use shared::custom_resource::{CustomResource, Outcome, RequestContext};
use shared::pace::Pace;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::batch::{Batch, batches};
use crate::ec2::{Ec2Api, Grant};
use crate::error::AccessError;
use crate::model::{Action, Rule};
use crate::plan::{desired_rules, plan_rules, resolve};
use crate::properties::{AccessProperties, OnMissing};

pub struct EndpointAccess {
    ec2: Ec2Api,
    region: String,
}

impl EndpointAccess {
    pub fn new(config: &SdkConfig) -> Self {
        let region = config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        // The client names its unanswered calls if the deadline comes first; its writes are
        // paced to EC2's request-rate buckets and retried while throttled (`shared::pace`).
        let ec2 = Ec2::from_conf(
            aws_sdk_ec2::config::Builder::from(config)
                .interceptor(CallsInFlight)
                .retry_config(shared::pace::retry_config())
                .build(),
        );
        Self { ec2: Ec2Api { ec2 }, region }
    }

    /// The pacing of this request's writes: the buckets of the stack's account in this Region,
    /// and throttled writes tried again until `keep` before the deadline guard.
    fn pace(&self, ctx: &RequestContext, keep: Duration) -> Pace {
        let account = ctx.stack_account().unwrap_or("unknown");
        Pace {
            account: account.to_string(),
            region: self.region.clone(),
            until: Instant::now() + ctx.time_left().saturating_sub(keep),
        }
    }

    /// Make the rules match `props`. `old_task_groups` are groups an Update dropped: their
    /// rules are observed too, so ours there are revoked.
    async fn reconcile(
        &self,
        ctx: &RequestContext,
        props: &AccessProperties,
        old_task_groups: &[String],
    ) -> Result<Outcome, AccessError> {
        props.validate()?;
        let owner = owner(ctx, &props.vpc_id);

        // Observe.
        ctx.step("reading the VPC's endpoints");
        let vpc_cidrs = self.ec2.vpc_cidrs(&props.vpc_id).await?;
        let endpoints = self.ec2.endpoints(&props.vpc_id).await?;
        let resolution = resolve(&props.services, &self.region, &endpoints);
        if !resolution.missing.is_empty() && props.on_missing == OnMissing::Fail {
            return Err(AccessError::MissingEndpoints { vpc_id: props.vpc_id.clone(), missing: resolution.missing });
        }
        let groups: Vec<String> = props
            .task_security_group_ids
            .iter()
            .chain(&resolution.endpoint_groups)
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        ctx.step("reading the security groups and their rules");
        let vpcs = self.ec2.group_vpcs(&groups).await?;
        for group in &groups {
            match vpcs.get(group) {
                None => return Err(AccessError::GroupNotFound { group_id: group.clone() }),
                Some(vpc) if vpc != &props.vpc_id => {
                    return Err(AccessError::GroupInOtherVpc {
                        group_id: group.clone(),
                        vpc_id: props.vpc_id.clone(),
                        actual_vpc: vpc.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        let s3_prefix_list = if props.manage_egress && resolution.s3_gateway {
            let found = self.ec2.s3_prefix_list(&self.region).await?;
            if found.is_none() {
                warn!(region = %self.region, "no S3 prefix list found: no egress rule to S3 is added");
            }
            found
        } else {
            None
        };
        let observed_groups: Vec<String> =
            groups.iter().chain(old_task_groups).cloned().collect::<BTreeSet<_>>().into_iter().collect();
        let observed = self.ec2.rules(&observed_groups, &owner).await?;

        // Plan.
        let desired = desired_rules(
            &props.task_security_group_ids,
            &resolution,
            s3_prefix_list.as_deref(),
            props.port,
            props.manage_egress,
        );
        let plan = plan_rules(&desired, &observed, &owner, &vpc_cidrs);
        for covered in &plan.covered {
            info!(rule = %covered.spec, by = %covered.by_rule, "left alone: another rule already allows this traffic");
        }

        // Apply. If a Create fails past here, CloudFormation's rollback deletes this id, and the
        // Delete revokes whatever carries the owner tag.
        ctx.claim(physical_id(ctx, &props.vpc_id));
        self.apply(ctx, &plan.actions, &owner, KEEP_TO_UNDO).await?;
        let ours = desired.len() - plan.covered.len();
        let missing: Vec<&str> = resolution.missing.iter().map(|m| m.service.as_str()).collect();
        let endpoint_groups: Vec<&str> = resolution.endpoint_groups.iter().map(String::as_str).collect();
        Ok(Outcome::new(physical_id(ctx, &props.vpc_id))
            .with_attribute("EndpointSecurityGroupIds", endpoint_groups.join(","))
            .with_attribute("Missing", missing.join(","))
            .with_attribute("RulesAdded", ours.to_string()))
    }

    /// Apply in as few writes as EC2 takes (one per group and direction: [`batches`]); if one
    /// fails, revoke the rules this request added before it. Throttled writes are tried again
    /// until `keep` before the deadline guard.
    async fn apply(
        &self,
        ctx: &RequestContext,
        actions: &[Action],
        owner: &str,
        keep: Duration,
    ) -> Result<(), AccessError> {
        let description = description(ctx);
        let pace = self.pace(ctx, keep);
        // The revokes that undo what this request added, as EC2 returns each rule.
        let mut undo: Vec<Action> = Vec::new();
        for batch in batches(actions) {
            let result = match &batch {
                Batch::Authorize { group_id, direction, rules } => {
                    ctx.step(format!("adding {} {direction} rule(s) to {group_id}", rules.len()));
                    let grant = Grant { group_id, direction: *direction, owner, description: &description };
                    self.ec2.authorize(&pace, &grant, rules, &mut undo).await
                }
                Batch::Revoke { group_id, direction, rule_ids } => {
                    ctx.step(format!("revoking {} {direction} rule(s) of {group_id}", rule_ids.len()));
                    self.ec2.revoke(&pace, group_id, *direction, rule_ids, &mut 0).await
                }
            };
            if let Err(cause) = result {
                if undo.is_empty() {
                    return Err(cause);
                }
                let cleanup = self.undo(ctx, &undo).await;
                return Err(AccessError::RolledBack { cause: Box::new(cause), cleanup });
            }
        }
        Ok(())
    }

    /// Revoke the rules this request added (one write per group and direction); what the
    /// reason says of it.
    async fn undo(&self, ctx: &RequestContext, undo: &[Action]) -> String {
        let pace = self.pace(ctx, KEEP_TO_REPORT);
        let (mut undone, mut added) = (0, 0);
        for batch in batches(undo) {
            let Batch::Revoke { group_id, direction, rule_ids } = &batch else { continue };
            added += rule_ids.len();
            ctx.step(format!("rolling back: revoking {} {direction} rule(s) of {group_id}", rule_ids.len()));
            if let Err(e) = self.ec2.revoke(&pace, group_id, *direction, rule_ids, &mut undone).await {
                warn!(group = %group_id, error = %e, "rollback: not every rule could be revoked");
            }
        }
        if undone == added {
            format!("rolled back the {undone} rule(s) this request had added")
        } else {
            format!(
                "rollback incomplete: {} of the {added} rule(s) added remain (tagged {})",
                added - undone,
                crate::ec2::OWNER_TAG
            )
        }
    }

    async fn teardown(&self, ctx: &RequestContext, vpc_id: &str) -> Result<(), AccessError> {
        let owner = owner(ctx, vpc_id);
        let observed: Vec<Rule> = self.ec2.rules(&[], &owner).await?;
        let plan = plan_rules(&[], &observed, &owner, &[]);
        self.apply(ctx, &plan.actions, &owner, KEEP_TO_REPORT).await
    }
}

/// What a Create or Update keeps, of its time before the deadline guard, to undo what it added
/// and report it: its throttled writes stop being tried again then.
const KEEP_TO_UNDO: Duration = Duration::from_secs(5);
/// What an undo, or a Delete, keeps to report.
const KEEP_TO_REPORT: Duration = Duration::from_secs(1);

/// The owner tag's value: this stack resource, in this VPC (a new VPC is a new resource).
/// EC2 tag values hold 256 characters: a longer owner keeps its start and a stable hash of the
/// whole, so it stays unique and the same on every run.
fn owner(ctx: &RequestContext, vpc_id: &str) -> String {
    owner_of(&ctx.stack_id, &ctx.logical_resource_id, vpc_id)
}

fn owner_of(stack_id: &str, logical_id: &str, vpc_id: &str) -> String {
    const MAX: usize = 256;
    let full = format!("{stack_id}/{logical_id}/{vpc_id}");
    if full.len() <= MAX {
        return full;
    }
    // FNV-1a: tiny, and unlike std's hasher the same across Rust versions.
    let hash = full.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    let keep: String = full.chars().take(MAX - 17).collect();
    format!("{keep}#{hash:016x}")
}

fn physical_id(ctx: &RequestContext, vpc_id: &str) -> String {
    format!("{vpc_id}/{}", ctx.logical_resource_id)
}

/// Rule descriptions name the stack and the resource.
fn description(ctx: &RequestContext) -> String {
    description_of(&ctx.stack_id, &ctx.logical_resource_id)
}

/// EC2 takes a rule description (`UserIdGroupPair`/`PrefixListId` `Description`) of up to 255
/// characters from a-z, A-Z, 0-9, spaces and `._-:/()#,@[]+=;{}!$*`
/// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_UserIdGroupPair.html; `&`,
/// allowed in a group's own description, is not listed for rules). A stack name holds up to 128
/// characters and a logical id up to 255, so both are cut to fit, each keeping at least half the
/// room, and any other character becomes `_`.
const DESCRIPTION_MAX: usize = 255;

fn description_of(stack_id: &str, logical_id: &str) -> String {
    const HEAD: &str = "ecs-plumbing ";
    const TAIL: &str = ": tasks to VPC endpoints";
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=;{}!$*".contains(c) { c } else { '_' })
            .collect()
    };
    let stack = clean(stack_id.split('/').nth(1).unwrap_or("stack"));
    let logical = clean(logical_id);
    let room = DESCRIPTION_MAX - HEAD.len() - 1 - TAIL.len();
    let (stack_room, logical_room) = match (stack.len(), logical.len()) {
        (s, l) if s + l <= room => (s, l),
        (s, _) if s <= room / 2 => (s, room - s),
        (_, l) if l <= room - room / 2 => (room - l, l),
        _ => (room / 2, room - room / 2),
    };
    // Clean text is ASCII: cutting at a byte index is cutting at a character.
    let cut = |text: &str, max: usize| -> String {
        if text.len() <= max { text.to_string() } else { format!("{}...", &text[..max - 3]) }
    };
    format!("{HEAD}{} {}{TAIL}", cut(&stack, stack_room), cut(&logical, logical_room))
}

impl CustomResource for EndpointAccess {
    type Properties = AccessProperties;
    type Error = AccessError;

    async fn create(&self, ctx: &RequestContext, props: AccessProperties) -> Result<Outcome, AccessError> {
        self.reconcile(ctx, &props, &[]).await
    }

    async fn update(
        &self,
        ctx: &RequestContext,
        _physical_id: &str,
        props: AccessProperties,
        old: Option<AccessProperties>,
    ) -> Result<Outcome, AccessError> {
        match old {
            // Another VPC is another resource: CloudFormation deletes the old one (its own owner tag).
            Some(old) if old.vpc_id == props.vpc_id => self.reconcile(ctx, &props, &old.task_security_group_ids).await,
            _ => self.reconcile(ctx, &props, &[]).await,
        }
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        props: AccessProperties,
    ) -> Result<(), AccessError> {
        // The physical id names the VPC; fall back to the properties'.
        let vpc_id =
            physical_id.split('/').next().filter(|v| v.starts_with("vpc-")).unwrap_or(&props.vpc_id).to_string();
        self.teardown(ctx, &vpc_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::{DESCRIPTION_MAX, description_of, owner_of};

    /// Every character EC2 accepts in a rule description.
    fn accepted(description: &str) -> bool {
        description.len() <= DESCRIPTION_MAX
            && description.chars().all(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=;{}!$*".contains(c))
    }

    #[test]
    fn descriptions_fit_ec2_for_any_stack_name_and_logical_id() {
        let stack_id = |name: &str| {
            format!(
                "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/{name}/8d2f6a10-1f3e-11f1-9c4b-0e7a5c3b2d11"
            )
        };
        // The longest of each CloudFormation allows: a stack name of 128 characters
        // ([a-zA-Z][-a-zA-Z0-9]*), a logical id of 255 (alphanumeric).
        let longest_stack = format!("S{}", "-a1".repeat(42) + "b");
        let longest_logical = format!("L{}", "x".repeat(254));
        assert_eq!((longest_stack.len(), longest_logical.len()), (128, 255));
        let cases: Vec<(&str, String, String, Option<&str>)> = vec![
            (
                "short: whole",
                stack_id("app-network"),
                "TaskEndpointAccess".into(),
                Some("ecs-plumbing app-network TaskEndpointAccess: tasks to VPC endpoints"),
            ),
            ("both longest", stack_id(&longest_stack), longest_logical.clone(), None),
            ("longest stack, short logical id: both whole", stack_id(&longest_stack), "Access".into(), None),
            (
                "short stack, longest logical id: the logical id cut only",
                stack_id("app"),
                longest_logical.clone(),
                None,
            ),
            (
                "characters EC2 refuses",
                stack_id("app"),
                "Access&Co<é>".into(),
                Some("ecs-plumbing app Access_Co___: tasks to VPC endpoints"),
            ),
            (
                "no stack name in the id",
                "not-an-arn".into(),
                "Access".into(),
                Some("ecs-plumbing stack Access: tasks to VPC endpoints"),
            ),
        ];
        for (case, stack, logical, expected) in cases {
            let got = description_of(&stack, &logical);
            assert!(accepted(&got), "{case}: {} characters: {got}", got.len());
            assert!(got.starts_with("ecs-plumbing ") && got.ends_with(": tasks to VPC endpoints"), "{case}: {got}");
            if let Some(expected) = expected {
                assert_eq!(got, expected, "{case}");
            }
        }
        let both = description_of(&stack_id(&longest_stack), &longest_logical);
        assert_eq!(both.len(), DESCRIPTION_MAX);
        assert!(both.contains(&format!("ecs-plumbing {}... L", &longest_stack[..105])), "{both}");
        let stack_whole = description_of(&stack_id(&longest_stack), "Access");
        assert_eq!(stack_whole, format!("ecs-plumbing {longest_stack} Access: tasks to VPC endpoints"));
        let logical_cut = description_of(&stack_id("app"), &longest_logical);
        assert!(
            logical_cut.starts_with("ecs-plumbing app Lxxx") && logical_cut.len() == DESCRIPTION_MAX,
            "{logical_cut}"
        );
    }

    #[test]
    fn owner_fits_a_tag_value_and_stays_unique() {
        let stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/8d2f6a10-1f3e-11f1-9c4b-0e7a5c3b2d11";
        let short = owner_of(stack, "Access", "vpc-0a1b2c3d4e5f60718");
        assert_eq!(short, format!("{stack}/Access/vpc-0a1b2c3d4e5f60718"));
        let long_a = owner_of(stack, &"A".repeat(200), "vpc-0a1b2c3d4e5f60718");
        let long_b = owner_of(stack, &"A".repeat(201), "vpc-0a1b2c3d4e5f60718");
        assert_eq!(long_a.len(), 256);
        assert_ne!(long_a, long_b, "the hash keeps long owners apart");
        assert_eq!(long_a, owner_of(stack, &"A".repeat(200), "vpc-0a1b2c3d4e5f60718"), "stable");
    }
}
