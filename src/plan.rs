//! Which items run, in which order, with which limits.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use crate::checklist::{Checklist, ItemDef};
use crate::release::shard;
use crate::settings::{RunSettings, ShardPlan};

/// Timeout of an item when neither the item, its kind nor the checklist sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Most items at once when neither `--jobs` nor `[checklist] jobs` is given.
pub const DEFAULT_MAX_JOBS: usize = 16;

/// An item with everything the runner needs resolved.
#[derive(Debug, Clone)]
pub struct PlannedItem {
    pub def: ItemDef,
    pub timeout: Duration,
    pub retry_delay: Duration,
    /// Indexes (into [`Plan::items`]) of the items this one needs.
    pub needs: Vec<usize>,
    /// Needs that were excluded by `--skip`: the item will be skipped, naming them.
    pub excluded_needs: Vec<String>,
}

/// The items to run, in dependency order.
#[derive(Debug, Clone)]
pub struct Plan {
    pub items: Vec<PlannedItem>,
    pub not_selected: Vec<String>,
    /// `--shard`: selected items that other shards run.
    pub other_shards: Vec<String>,
    pub jobs: usize,
}

/// A `--only`/`--skip` value that matches nothing.
#[derive(Debug, thiserror::Error)]
#[error("`--{flag} {value}` matches no item id, kind or tag{}", suggestion.as_ref().map(|s| format!(", did you mean `{s}`?")).unwrap_or_default())]
pub struct PlanError {
    pub flag: &'static str,
    pub value: String,
    pub suggestion: Option<String>,
}

fn matches(item: &ItemDef, sel: &str) -> bool {
    item.id == sel || item.kind == sel || item.common.tags.iter().any(|t| t == sel)
}

/// Selects items by `--only`/`--skip` and orders them so that needs come first.
pub fn plan(checklist: &Checklist, settings: &RunSettings) -> Result<Plan, PlanError> {
    let items = &checklist.items;
    let index: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    for (flag, values) in [("only", &settings.only), ("skip", &settings.skip)] {
        for v in values.iter() {
            if !items.iter().any(|it| matches(it, v)) {
                let mut names: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
                names.extend(
                    items
                        .iter()
                        .flat_map(|i| i.common.tags.iter().map(String::as_str)),
                );
                names.extend(items.iter().map(|i| i.kind));
                names.dedup();
                let suggestion = crate::suggest::closest_id(v, names);
                return Err(PlanError {
                    flag,
                    value: v.clone(),
                    suggestion,
                });
            }
        }
    }

    // --only (and --rerun-failed) select items and, transitively, what they need.
    let wanted = |it: &ItemDef| {
        (settings.only.is_empty() || settings.only.iter().any(|s| matches(it, s)))
            && settings
                .rerun
                .as_ref()
                .is_none_or(|ids| ids.contains(&it.id))
    };
    let mut selected: Vec<bool> = vec![false; items.len()];
    let mut stack: Vec<usize> = (0..items.len()).filter(|&i| wanted(&items[i])).collect();
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut selected[i], true) {
            stack.extend(
                items[i]
                    .common
                    .needs
                    .iter()
                    .map(|n| index[n.get_ref().as_str()]),
            );
        }
    }
    let skipped: HashSet<usize> = (0..items.len())
        .filter(|&i| settings.skip.iter().any(|s| matches(&items[i], s)))
        .collect();
    let mut keep: Vec<usize> = (0..items.len())
        .filter(|i| selected[*i] && !skipped.contains(i))
        .collect();
    let mut other_shards = Vec::new();
    if let Some(shard) = &settings.shard {
        let (mine, others) = this_shard(checklist, &keep, &index, shard);
        keep = mine;
        other_shards = others.iter().map(|&i| items[i].id.clone()).collect();
    }

    // Kahn's algorithm, taking the earliest item in checklist order first: a stable order.
    // Linear in items and needs (with a log for the ordered pick): a long `needs` chain must
    // not make `list` or `run` quadratic.
    let keep_set: HashSet<usize> = keep.iter().copied().collect();
    let mut indegree: HashMap<usize, usize> = HashMap::with_capacity(keep.len());
    let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
    for &i in &keep {
        let mut d = 0;
        for n in &items[i].common.needs {
            let j = index[n.get_ref().as_str()];
            if keep_set.contains(&j) {
                d += 1;
                dependents.entry(j).or_default().push(i);
            }
        }
        indegree.insert(i, d);
    }
    let mut ready: BTreeSet<usize> = keep.iter().copied().filter(|i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(keep.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in dependents.get(&i).map(Vec::as_slice).unwrap_or(&[]) {
            let d = indegree.get_mut(&j).expect("kept item");
            *d -= 1;
            if *d == 0 {
                ready.insert(j);
            }
        }
    }
    let position: HashMap<usize, usize> = order.iter().enumerate().map(|(p, &i)| (i, p)).collect();
    let planned = order
        .iter()
        .map(|&i| {
            let def = items[i].clone();
            let timeout = timeout_of(&def, checklist);
            let mut needs = Vec::new();
            let mut excluded_needs = Vec::new();
            for n in &def.common.needs {
                let j = index[n.get_ref().as_str()];
                match position.get(&j) {
                    Some(&p) => needs.push(p),
                    None => excluded_needs.push(n.get_ref().clone()),
                }
            }
            let retry_delay = def
                .common
                .retry_delay
                .map(|d| d.get())
                .unwrap_or(Duration::from_secs(1));
            PlannedItem {
                def,
                timeout,
                retry_delay,
                needs,
                excluded_needs,
            }
        })
        .collect::<Vec<_>>();
    let not_selected = (0..items.len())
        .filter(|i| !keep_set.contains(i) && !other_shards.contains(&items[*i].id))
        .map(|i| items[i].id.clone())
        .collect();
    let jobs = settings
        .jobs
        .or(checklist.jobs)
        .unwrap_or_else(|| planned.len().clamp(1, DEFAULT_MAX_JOBS))
        .max(1);
    Ok(Plan {
        items: planned,
        not_selected,
        other_shards,
        jobs,
    })
}

/// Time for one attempt of `def`: its own timeout, its kind's, the checklist's, or the default.
fn timeout_of(def: &ItemDef, checklist: &Checklist) -> Duration {
    def.common
        .timeout
        .map(|d| d.get())
        .or_else(|| def.check.default_timeout())
        .or(checklist.timeout)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Splits the selected items (`keep`, checklist positions) into this shard's and the others'
/// (see [`crate::release::shard`]).
fn this_shard(
    checklist: &Checklist,
    keep: &[usize],
    index: &HashMap<&str, usize>,
    plan: &ShardPlan,
) -> (Vec<usize>, Vec<usize>) {
    let items = &checklist.items;
    let position: HashMap<usize, usize> = keep.iter().enumerate().map(|(p, &i)| (i, p)).collect();
    let described: Vec<(&str, &str, Duration)> = keep
        .iter()
        .map(|&i| {
            // The longest the item can take: every attempt to its timeout.
            let it = &items[i];
            let attempts = it.common.retries + 1;
            (
                it.id.as_str(),
                it.kind,
                timeout_of(it, checklist) * attempts,
            )
        })
        .collect();
    let weights = shard::weights(&described, &plan.durations);
    let units: Vec<shard::Unit> = keep
        .iter()
        .zip(weights)
        .map(|(&i, weight)| shard::Unit {
            needs: items[i]
                .common
                .needs
                .iter()
                .filter_map(|n| position.get(&index[n.get_ref().as_str()]).copied())
                .collect(),
            weight,
        })
        .collect();
    let assigned = shard::assign(&units, plan.shard.count);
    let (mine, others): (Vec<_>, Vec<_>) = keep
        .iter()
        .zip(assigned)
        .partition(|(_, s)| *s + 1 == plan.shard.index);
    let positions = |v: Vec<(&usize, usize)>| v.into_iter().map(|(&i, _)| i).collect();
    (positions(mine), positions(others))
}
