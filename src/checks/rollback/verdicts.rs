//! Verdicts on the migrations added since the previous release: each finding judged against
//! what the previous release can live with (objects it never saw, columns it already ignores),
//! grouped per migration and rule, and sorted by what it means under the strategy.

use std::collections::HashSet;

use super::config::Strategy;
use super::migrations::{Danger, Review, Tool};
use super::report::{Located, MigrationVerdict};
use super::sql::{Rule, RuleKind, Target};
use super::tree_code::TreeCode;

/// What the verdicts depend on besides the migrations.
pub struct Policy<'a> {
    pub tool: Tool,
    pub strategy: Strategy,
    pub lock_risks: bool,
    /// The previous release's tag, for messages.
    pub previous: &'a str,
}

/// Tables and columns created since the previous release, as the migrations run.
#[derive(Default)]
struct Created {
    tables: HashSet<String>,
    columns: HashSet<(String, String)>,
}

impl Created {
    fn add(&mut self, t: &Target) {
        if t.columns.is_empty() {
            self.tables.insert(t.table.clone());
        }
        for c in &t.columns {
            self.columns.insert((t.table.clone(), c.clone()));
        }
    }

    /// Whether the previous release never saw what `d` touches.
    fn covers(&self, d: &Danger) -> bool {
        let Some(t) = &d.target else { return false };
        if self.tables.contains(&t.table) {
            return true;
        }
        // A NOT NULL column being added is new by definition; what matters is its table.
        d.rule != Rule::AddNotNull
            && !t.columns.is_empty()
            && t.columns
                .iter()
                .all(|c| self.columns.contains(&(t.table.clone(), c.clone())))
    }
}

/// The Django app directory of a migration file (`shop/migrations/0002_x.py` → `shop`).
fn app_dir(path: &str) -> &str {
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    dir.strip_suffix("/migrations").unwrap_or(dir)
}

/// When `d` is the contract step of an expand/contract change (the previous release's code no
/// longer uses what it drops): why.
fn contract_step(policy: &Policy, code: &TreeCode, file: &str, d: &Danger) -> Option<String> {
    let t = d.target.as_ref()?;
    let prev = policy.previous;
    match (policy.tool, d.rule) {
        (Tool::Rails, Rule::DropColumn) if !t.columns.is_empty() => {
            let files: Vec<&str> = t
                .columns
                .iter()
                .map(|c| code.rails_ignores(&t.table, c))
                .collect::<Option<_>>()?;
            Some(format!(
                "{}: the contract step, {prev} already ignores it (`ignored_columns` in {})",
                d.what, files[0]
            ))
        }
        (Tool::Django, Rule::DropColumn) if t.model => {
            let field = t.columns.first()?;
            let file = code.django_gone(app_dir(file), &t.table, Some(field))?;
            Some(format!(
                "{}: the contract step, {prev}'s model no longer declares it ({file})",
                d.what
            ))
        }
        (Tool::Django, Rule::DropTable) if t.model => {
            let files = code.django_gone(app_dir(file), &t.table, None)?;
            Some(format!(
                "{}: the contract step, {prev} no longer declares the model ({files})",
                d.what
            ))
        }
        _ => None,
    }
}

/// Whether the column `d` adds gets a database default: by table name, or for a Django model
/// by its default table name `<app>_<model>`.
fn gets_default(d: &Danger, file: &str, defaulted: &[Target]) -> bool {
    let Some(t) = &d.target else { return false };
    let app = app_dir(file).rsplit('/').next().unwrap_or("");
    let model_table = format!("{app}_{}", t.table);
    defaulted.iter().any(|x| {
        (x.table == t.table || (t.model && x.table == model_table))
            && !t.columns.is_empty()
            && t.columns.iter().all(|c| x.columns.contains(c))
    })
}

/// Findings of one rule in one migration, as one entry: the first, and how many more.
fn grouped(found: Vec<(String, Danger)>, strategy: Strategy) -> Vec<Located> {
    let mut out: Vec<Located> = Vec::new();
    for (file, d) in found {
        if let Some(g) = out
            .iter_mut()
            .find(|g| g.rule == Some(d.rule) && g.acknowledged == d.acknowledged)
        {
            g.count += 1;
            if g.more_lines.len() < 5 {
                g.more_lines.push(d.line);
            }
            continue;
        }
        let mut l = Located::new(
            &file,
            Some(d.line),
            format!("{}: {}", d.what, d.rule.why(strategy == Strategy::Down)),
        );
        l.rule = Some(d.rule);
        l.acknowledged = d.acknowledged;
        out.push(l);
    }
    out
}

/// Judges the migrations added since the previous release, in the order they run.
pub fn judge_added(
    added: Vec<(String, Vec<String>, Review)>,
    policy: &Policy,
    code: &TreeCode,
) -> Vec<MigrationVerdict> {
    let mut created = Created::default();
    // A NOT NULL column the release also gives a database default (in any migration of it)
    // takes the previous release's inserts that leave it out.
    let defaulted: Vec<Target> = added
        .iter()
        .flat_map(|(_, _, r)| r.defaulted.iter().cloned())
        .collect();
    let mut out = Vec::new();
    for (id, files, mut review) in added {
        let mut v = MigrationVerdict::new(&id, "added", "reversible", files);
        review.dangers.sort_by_key(|d| d.1.line);
        review.created.sort_by_key(|c| c.1);
        let mut creations = review.created.into_iter().peekable();
        let mut kept: Vec<(String, Danger)> = Vec::new();
        let mut new_objects: Vec<String> = Vec::new();
        for (file, d) in review.dangers {
            while let Some((_, _, t)) = creations.next_if(|c| c.1 <= d.line) {
                created.add(&t);
            }
            if d.rule == Rule::AddNotNull && gets_default(&d, &file, &defaulted) {
                v.notes.push(format!(
                    "{}: it gets a database default in this release, which the previous release's inserts take",
                    d.what
                ));
            } else if created.covers(&d) {
                if d.rule.kind() != RuleKind::Lock {
                    new_objects.push(d.what.clone());
                }
            } else if d.rule.kind() == RuleKind::Schema
                && let Some(why) = contract_step(policy, code, &file, &d)
            {
                v.notes.push(why);
            } else {
                kept.push((file, d));
            }
        }
        for (_, _, t) in creations {
            created.add(&t);
        }
        if let Some(first) = new_objects.first() {
            let more = match new_objects.len() {
                1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            };
            v.notes.push(format!(
                "{first}{more}: created since {}, the previous release never saw it",
                policy.previous
            ));
        }
        let (mut dangerous, mut warnings, mut locks) = (Vec::new(), Vec::new(), Vec::new());
        for (file, d) in kept {
            match (d.rule.kind(), policy.strategy) {
                (RuleKind::Schema, _) | (RuleKind::Data, Strategy::Down) => {
                    dangerous.push((file, d))
                }
                (RuleKind::Data | RuleKind::Advice, _) => warnings.push((file, d)),
                (RuleKind::Lock, _) if policy.lock_risks => locks.push((file, d)),
                (RuleKind::Lock, _) => {}
            }
        }
        v.dangerous = grouped(dangerous, policy.strategy);
        v.warnings = grouped(warnings, policy.strategy);
        v.lock_risks = grouped(locks, policy.strategy);
        let mut no_way_back = false;
        for (file, line, why) in review.irreversible {
            match policy.strategy {
                Strategy::Down => {
                    let message = format!("irreversible: {why}");
                    // The same reason again in this migration: counted with the first.
                    match v.problems.iter_mut().find(|p| p.message == message) {
                        Some(p) => {
                            p.count += 1;
                            if p.more_lines.len() < 5 {
                                p.more_lines.push(line);
                            }
                        }
                        None => v.problems.push(Located::new(&file, Some(line), message)),
                    }
                }
                Strategy::Compatible => no_way_back = true,
            }
        }
        if no_way_back {
            v.notes
                .push("no way back, and none needed with strategy = \"compatible\"".into());
        }
        v.verdict = if !v.problems.is_empty() {
            "irreversible"
        } else if v.dangerous.iter().any(|d| !d.acknowledged) {
            "dangerous"
        } else if !v.dangerous.is_empty() {
            "acknowledged"
        } else if policy.strategy == Strategy::Compatible {
            "compatible"
        } else {
            "reversible"
        };
        out.push(v);
    }
    out
}
