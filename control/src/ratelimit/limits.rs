//! Limits from a rate-limit filter config: each global rule's limits (and each
//! override's), as limitador limits on the descriptor rate-limit sends:
//! `tollgate_rule` names the limit set, `tollgate_key` the bucket.

use limitador::limit::{Expression, Limit, Predicate};
use tollgate_kit::{HostFacts, HostKind};
use tollgate_rate_limit::config::{self, Limit as FilterLimit};
use tollgate_rate_limit::rls::{KEY_ENTRY, RULE_ENTRY};

/// The limits of one config: its domain (limitador's namespace) and every limit.
#[derive(Debug, Clone)]
pub struct Limits {
    pub domain: String,
    pub limits: Vec<Limit>,
    /// Limit sets (`tollgate_rule` values) known, for logs.
    pub sets: Vec<String>,
}

const NANOS: u64 = 1_000_000_000;

fn one(domain: &str, set: &str, l: &FilterLimit) -> Result<Limit, String> {
    // Rule names are [a-z0-9_-] and sets add `#<n>`: safe inside a CEL string.
    let condition = format!("descriptors[0].{RULE_ENTRY} == \"{set}\"");
    let variable = format!("descriptors[0].{KEY_ENTRY}");
    let predicate = Predicate::parse(condition).map_err(|e| format!("limit `{set}`: {e:?}"))?;
    let expression = Expression::parse(variable).map_err(|e| format!("limit `{set}`: {e:?}"))?;
    let mut limit = Limit::new(
        domain,
        l.gcra.requests,
        l.gcra.period / NANOS,
        [predicate],
        [expression],
    );
    limit.set_name(l.policy.clone());
    Ok(limit)
}

/// The limits of a rate-limit config (JSON bytes, checked by the filter's loader as for
/// Envoy). A config without a `global` section or without global rules is refused:
/// there would be nothing to enforce.
pub fn from_config(bytes: &[u8]) -> Result<Limits, String> {
    let compiled =
        config::load(bytes, HostFacts::of(HostKind::Envoy)).map_err(|e| e.to_string())?;
    let domain = compiled
        .global
        .as_ref()
        .map(|g| g.domain.clone())
        .ok_or("the config names no rate-limit service (`global`): it has no global limits")?;
    let mut limits = Vec::new();
    let mut sets = Vec::new();
    for rule in compiled.rules.iter().filter(|r| r.global) {
        let mut add = |set: String, ls: &[FilterLimit]| -> Result<(), String> {
            for l in ls {
                limits.push(one(&domain, &set, l)?);
            }
            sets.push(set);
            Ok(())
        };
        add(rule.name.clone(), &rule.limits)?;
        for (i, o) in rule.overrides.iter().enumerate() {
            add(format!("{}#{i}", rule.name), &o.limits)?;
        }
    }
    if sets.is_empty() {
        return Err("the config has no global rules".into());
    }
    Ok(Limits {
        domain,
        limits,
        sets,
    })
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
