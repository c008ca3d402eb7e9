//! The rules, applied to the flags of one source: experiments off, no individual or group
//! targeting on unreleased flags, broken flags, allowlist, drift, age, code references.

use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::Serialize;

use super::targeting::Reach;
use super::{
    ExperimentsRule, Flag, FlagsItem, Loaded, NarrowTarget, Severity, age, coderefs,
    describe_served, snapshot,
};

/// Which rule a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    Experiments,
    NarrowTargeting,
    GroupTargeting,
    Broken,
    Allowlist,
    Drift,
    Age,
    CodeRefs,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Experiments => "experiments",
            Rule::NarrowTargeting => "narrow-targeting",
            Rule::GroupTargeting => "group-targeting",
            Rule::Broken => "broken",
            Rule::Allowlist => "allowlist",
            Rule::Drift => "drift",
            Rule::Age => "age",
            Rule::CodeRefs => "code-refs",
        })
    }
}

/// One broken rule.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    pub flag: String,
    pub evidence: String,
}

/// The outcome of the rules.
#[derive(Debug, Default, Serialize)]
pub struct Audit {
    pub findings: Vec<Finding>,
    /// Per rule: what was checked (`5 flags (1 experimental)`).
    pub checked: IndexMap<String, String>,
    /// Lines for the details that are neither findings nor counts (approved changes, ...).
    pub notes: Vec<String>,
}

impl Audit {
    pub(super) fn add(&mut self, rule: Rule, severity: Severity, flag: &str, evidence: String) {
        self.findings.push(Finding {
            rule,
            severity,
            flag: flag.to_string(),
            evidence,
        });
    }
}

/// Why a rule could not be checked (a missing lock file, an unreadable approvals file).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

const DEFAULT_EXPERIMENT_PATTERN: &str = r"^(exp|experiment)[-_.]";

impl FlagsItem {
    /// Applies every switched-on rule to `loaded`.
    pub fn audit(
        &self,
        loaded: &Loaded,
        base_dir: &Path,
        now: DateTime<Utc>,
    ) -> Result<Audit, RuleError> {
        let mut audit = Audit::default();
        let flags = &loaded.flags;
        let released_keys: std::collections::HashSet<&str> =
            self.released.iter().map(String::as_str).collect();

        // 1. experiments off
        let exp = self.experiments.clone().unwrap_or(ExperimentsRule {
            severity: None,
            patterns: None,
            tags: None,
        });
        let sev = exp.severity.unwrap_or(Severity::Fail);
        if sev != Severity::Off {
            let default_pattern;
            let patterns: Vec<&regex::Regex> = match &exp.patterns {
                Some(p) => p.iter().map(|p| &p.0).collect(),
                None => {
                    default_pattern = regex::Regex::new(DEFAULT_EXPERIMENT_PATTERN)
                        .map_err(|e| RuleError(e.to_string()))?;
                    vec![&default_pattern]
                }
            };
            let mut experimental = 0;
            for f in flags {
                let why = f.experimental.clone().or_else(|| {
                    patterns
                        .iter()
                        .find(|p| p.is_match(&f.key))
                        .map(|p| format!("key matches `{}`", p.as_str()))
                });
                let Some(why) = why else { continue };
                experimental += 1;
                let on = f.on_paths();
                if let Some(first) = on.first() {
                    let paths: Vec<String> = on
                        .iter()
                        .take(5)
                        .map(|s| {
                            format!(
                                "{} via {}",
                                describe_served(s.variant.as_deref(), s.value.as_ref()),
                                s.path
                            )
                        })
                        .collect();
                    let _ = first;
                    audit.add(
                        Rule::Experiments,
                        sev,
                        &f.key,
                        format!("experimental ({why}) but on: serves {}", paths.join("; ")),
                    );
                }
            }
            audit.checked.insert(
                Rule::Experiments.to_string(),
                format!("{} flags ({experimental} experimental)", flags.len()),
            );
        }

        // 2. no targeting of individuals, or (warn) of a group, on unreleased flags
        let targeting_rules = [
            (
                Rule::NarrowTargeting,
                Reach::Individuals,
                self.narrow_targeting.as_ref(),
                Severity::Fail,
                "individuals",
            ),
            (
                Rule::GroupTargeting,
                Reach::Group,
                self.group_targeting.as_ref(),
                Severity::Warn,
                "a group",
            ),
        ];
        for (rule, reach, config, default, whom) in targeting_rules {
            let sev = config.and_then(|r| r.severity).unwrap_or(default);
            if sev == Severity::Off {
                continue;
            }
            let mut unreleased = 0;
            for f in flags {
                if f.released || released_keys.contains(f.key.as_str()) || f.broken.is_some() {
                    continue;
                }
                unreleased += 1;
                if !f.enabled {
                    continue;
                }
                let on: Vec<&NarrowTarget> = f
                    .targets
                    .iter()
                    .filter(|t| t.reach == reach)
                    .filter(|t| !f.is_off(t.variant.as_deref(), t.value.as_ref()))
                    .filter(|t| !f.is_no_op(t))
                    .collect();
                if on.is_empty() {
                    continue;
                }
                let what: Vec<String> = on
                    .iter()
                    .take(5)
                    .map(|t| {
                        format!(
                            "{} gets {}",
                            t.condition,
                            describe_served(t.variant.as_deref(), t.value.as_ref())
                        )
                    })
                    .collect();
                audit.add(
                    rule,
                    sev,
                    &f.key,
                    format!(
                        "not marked released, yet targeted at {whom}: {}",
                        what.join("; ")
                    ),
                );
            }
            audit.checked.insert(
                rule.to_string(),
                format!("{} flags ({unreleased} unreleased)", flags.len()),
            );
        }

        // flags the source cannot evaluate
        let sev = self
            .broken
            .as_ref()
            .and_then(|r| r.severity)
            .unwrap_or(Severity::Fail);
        if sev != Severity::Off {
            let mut broken = 0;
            for f in flags {
                if let Some(why) = &f.broken {
                    broken += 1;
                    audit.add(
                        Rule::Broken,
                        sev,
                        &f.key,
                        format!("cannot be evaluated: {why}"),
                    );
                }
            }
            if broken > 0 {
                audit
                    .checked
                    .insert(Rule::Broken.to_string(), format!("{broken} broken"));
            }
        }

        // 3. allowlist
        if let Some(rule) = &self.allowlist {
            let sev = rule.severity.unwrap_or(Severity::Fail);
            if sev != Severity::Off {
                let mut allowed: std::collections::HashSet<String> =
                    rule.flags.iter().cloned().collect();
                if let Some(file) = &rule.file {
                    let path = base_dir.join(file.as_str());
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        RuleError(format!("cannot read allowlist `{}`: {e}", path.display()))
                    })?;
                    for line in text.lines() {
                        let key = line.split('#').next().unwrap_or("").trim();
                        if !key.is_empty() {
                            allowed.insert(key.to_string());
                        }
                    }
                }
                let enabled: Vec<&Flag> = flags.iter().filter(|f| f.enabled).collect();
                for f in &enabled {
                    if !allowed.contains(&f.key) {
                        audit.add(
                            Rule::Allowlist,
                            sev,
                            &f.key,
                            "enabled but not in the allowlist".into(),
                        );
                    }
                }
                audit.checked.insert(
                    Rule::Allowlist.to_string(),
                    format!(
                        "{} enabled flags against {} approved keys",
                        enabled.len(),
                        allowed.len()
                    ),
                );
            }
        }

        // 4. drift from the snapshot
        if let Some(rule) = &self.drift {
            let sev = rule.severity.unwrap_or(Severity::Fail);
            if sev != Severity::Off {
                snapshot::check_drift(rule, sev, flags, base_dir, &mut audit)?;
            }
        }

        // 5. age
        if let Some(rule) = &self.age {
            let sev = rule.severity.unwrap_or(Severity::Warn);
            if sev != Severity::Off {
                age::check_age(self, rule, sev, loaded, now, &mut audit);
            }
        }

        // 6. code references
        if let Some(rule) = &self.code_refs {
            coderefs::check(rule, flags, base_dir, &mut audit)?;
        }
        Ok(audit)
    }
}
