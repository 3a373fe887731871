//! The loop that moves rollouts on: it starts baking each new revision of a group with
//! a policy, and promotes or rolls it back as [`decide`](super::decide::decide) says.
//! Every transition is one storage transaction with its audit record (a rollback is
//! the new revision itself, with the reason).

use std::time::Duration;

use serde_json::json;

use super::decide::{Decision, Signal, decide};
use super::{Phase, Policy, Rollout, state_key};
use crate::audit::{Event, Outcome};
use crate::docs::{Expected, Write};
use crate::error::ApiResult;
use crate::model::Target;
use crate::state::{AppState, Control};
use crate::store::{Compare, Op};

const ACTOR: &str = "tollgate-rollout";

fn now() -> u64 {
    crate::ledger::now_unix()
}

async fn save(
    ctl: &Control,
    key: &str,
    version: u64,
    state: &Rollout,
    event: Option<Event>,
) -> ApiResult<()> {
    let value = serde_json::to_vec(state).map_err(crate::error::ApiError::internal)?;
    match event {
        Some(event) => {
            crate::ledger::put_guarded(&ctl.store, key, version, value, &event, "the rollout").await
        }
        None => {
            let txn = crate::store::Txn::default()
                .compare(key, version)
                .put(key, value);
            ctl.store.txn(txn).await?;
            Ok(())
        }
    }
}

fn finished(state: &mut Rollout, outcome: &str, reason: &str) {
    let entry = json!({
        "revision": state.candidate, "outcome": outcome, "reason": reason,
        "started": state.started, "ended": now(),
    });
    state.history.insert(0, entry);
    state.history.truncate(20);
    state.phase = Phase::Idle;
    state.candidate = None;
    state.note = reason.to_string();
}

/// The canaries' fleet records and signals for `filter`.
async fn canaries<'a>(
    ctl: &Control,
    policy: &'a Policy,
    (project, group, filter): (&str, &str, &str),
    started: u64,
) -> ApiResult<Vec<(&'a str, Option<crate::fleet::Gateway>, Signal)>> {
    let fleet = crate::fleet::gateways(ctl, project, group).await?;
    let now = now() as f64 + 1.0;
    Ok(policy
        .canary
        .iter()
        .map(|id| {
            let record = fleet.iter().find(|g| &g.gateway == id).cloned();
            // Its rate since it applied the candidate, against the bake time before.
            // Times are whole seconds: from the next one, so no sample taken before
            // the switch in the same second counts the previous revision's errors.
            let applied = (record
                .as_ref()
                .and_then(|g| g.filters.get(filter))
                .and_then(|f| f.applied_at)
                .unwrap_or(started)
                .max(started)
                + 1) as f64;
            let start = started as f64;
            let signal = Signal {
                before: ctl.signals.window(
                    project,
                    id,
                    start - policy.bake_seconds.max(10) as f64,
                    start,
                ),
                since: ctl.signals.window(project, id, applied, now),
            };
            (id.as_str(), record, signal)
        })
        .collect())
}

/// Moves one filter's rollout on by one step.
pub async fn step(
    ctl: &Control,
    policy: &Policy,
    (project, group, filter): (&str, &str, &str),
) -> ApiResult<()> {
    let id = Target::config_id(project, group, filter);
    let (Some(head), _) = crate::docs::head(&ctl.store, &id).await? else {
        return Ok(());
    };
    let key = state_key(project, group, filter);
    let (mut state, version) = match super::state(ctl, project, group, filter).await? {
        Some(found) => found,
        // A filter configured after the policy: its first revision is promoted as is.
        None => return save(ctl, &key, 0, &Rollout::promoted(head.number), None).await,
    };
    if head.number > state.promoted && state.candidate != Some(head.number) {
        let superseded = state.candidate;
        state.phase = Phase::Baking;
        state.candidate = Some(head.number);
        state.started = now();
        state.note = format!("revision {} baking on the canaries", head.number);
        let event = Event {
            actor: ACTOR.into(),
            action: "rollout.start".into(),
            target: id.clone(),
            outcome: Outcome::Applied,
            detail: json!({"revision": head.number, "promoted": state.promoted,
                           "superseded": superseded, "canary": policy.canary}),
        };
        return save(ctl, &key, version, &state, Some(event)).await;
    }
    let (Phase::Baking, Some(candidate)) = (&state.phase, state.candidate) else {
        return Ok(());
    };
    let found = canaries(ctl, policy, (project, group, filter), state.started).await?;
    let view: Vec<(&str, Option<&crate::fleet::Gateway>, Signal)> = found
        .iter()
        .map(|(id, g, s)| (*id, g.as_ref(), *s))
        .collect();
    match decide(policy, filter, candidate, state.started, now(), &view) {
        Decision::Wait { waiting_for } => {
            if state.note != waiting_for {
                state.note = waiting_for;
                save(ctl, &key, version, &state, None).await?;
            }
            Ok(())
        }
        Decision::Promote => {
            state.promoted = candidate;
            finished(
                &mut state,
                "promoted",
                &format!("revision {candidate} promoted to the group"),
            );
            let event = Event {
                actor: ACTOR.into(),
                action: "rollout.promote".into(),
                target: id.clone(),
                outcome: Outcome::Applied,
                detail: json!({"revision": candidate, "canary": policy.canary}),
            };
            save(ctl, &key, version, &state, Some(event)).await
        }
        Decision::RollBack { reason } => {
            roll_back(ctl, &id, &key, version, state, candidate, &reason).await
        }
    }
}

/// A new revision with the promoted content, and the rollout closed, in one
/// transaction: the audit record names the reason.
async fn roll_back(
    ctl: &Control,
    id: &str,
    key: &str,
    version: u64,
    mut state: Rollout,
    candidate: u64,
    reason: &str,
) -> ApiResult<()> {
    let promoted = crate::docs::revision(&ctl.store, id, state.promoted).await?;
    let content = crate::docs::blob(&ctl.store, &promoted.sha256).await?;
    tracing::warn!(document = id, candidate, reason, "rollout: rolling back");
    // The rollback is the head's next revision: it becomes what everyone runs.
    let restored = candidate + 1;
    finished(&mut state, "rolled_back", reason);
    state.promoted = restored;
    let value = serde_json::to_vec(&state).map_err(crate::error::ApiError::internal)?;
    crate::docs::write(
        &ctl.store,
        Write {
            id: id.into(),
            expected: Expected::Revision(candidate),
            content,
            distributed: None,
            author: ACTOR.into(),
            message: format!("automatic rollback of revision {candidate}: {reason}"),
            rollback_of: Some(promoted.number),
            change: None,
            action: "rollout.rollback",
            extra: vec![Op::Put {
                key: key.into(),
                value,
            }],
            extra_guards: vec![Compare {
                key: key.into(),
                version,
            }],
            extra_detail: json!({"reason": reason, "rolled_back": candidate}),
        },
    )
    .await?;
    Ok(())
}

/// Every group with a policy, every filter: one step each, on every change notice and
/// at least every `period`, until the service stops.
pub async fn run(ctl: AppState, period: Duration) {
    let mut shutdown = ctl.shutting_down();
    loop {
        let policies = ctl
            .store
            .range("rollout-policy/", 10_000)
            .await
            .unwrap_or_default();
        for (key, entry) in policies {
            let Some((project, group)) = key
                .strip_prefix("rollout-policy/")
                .and_then(|r| r.split_once('/'))
            else {
                continue;
            };
            let Ok(policy) = serde_json::from_slice::<Policy>(&entry.value) else {
                continue;
            };
            for filter in tollgate_catalog::names() {
                if let Err(e) = step(&ctl, &policy, (project, group, filter)).await {
                    tracing::warn!(project, group, filter, "rollout: {}", e.message);
                }
            }
        }
        tokio::select! {
            () = ctl.store.changed("", period) => {}
            _ = shutdown.changed() => return,
        }
    }
}
