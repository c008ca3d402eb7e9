//! `--shard K/N`: a deterministic part of the items for one of N runners.
//!
//! Items are split into groups that cannot be separated: an item and everything it needs
//! (transitively), and so everything connected through `needs`. Groups go, heaviest first, to
//! the least loaded shard (ties: the group whose first item comes first in the checklist, the
//! lowest shard). The weights are the items' durations in an earlier run when known, otherwise
//! their timeouts. Every runner computes the same split from the same checklist, selection and
//! durations, so the N shards together run each selected item exactly once.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One of N parts, 1-based: `2/3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid shard `{s}`: expected K/N with 1 <= K <= N, like 2/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// An item as the split sees it.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Positions (in the same slice) of the items it needs.
    pub needs: Vec<usize>,
    pub weight: Duration,
}

/// The shard (0-based) of each item: groups of items joined by `needs` stay together.
pub fn assign(items: &[Unit], count: usize) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..items.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (i, item) in items.iter().enumerate() {
        for &j in &item.needs {
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            // The lower position is the root: a group is named by its first item.
            parent[a.max(b)] = a.min(b);
        }
    }
    // Groups in order of their first item, with their total weight.
    let mut groups: Vec<(usize, Duration)> = Vec::new();
    let mut group_of = vec![0; items.len()];
    for i in 0..items.len() {
        let r = root(&mut parent, i);
        let g = match groups.iter().position(|(first, _)| *first == r) {
            Some(g) => g,
            None => {
                groups.push((r, Duration::ZERO));
                groups.len() - 1
            }
        };
        groups[g].1 += items[i].weight;
        group_of[i] = g;
    }
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| {
        groups[b]
            .1
            .cmp(&groups[a].1)
            .then(groups[a].0.cmp(&groups[b].0))
    });
    let mut load = vec![Duration::ZERO; count.max(1)];
    let mut shard_of_group = vec![0; groups.len()];
    for g in order {
        let lightest = (0..load.len()).min_by_key(|&s| (load[s], s)).unwrap_or(0);
        load[lightest] += groups[g].1;
        shard_of_group[g] = lightest;
    }
    group_of.iter().map(|&g| shard_of_group[g]).collect()
}

/// The weight of each item: its duration in the earlier run when known; for an item that run
/// did not time (new, or not run then), the median known duration of its kind, else of all
/// items; with no durations at all, its timeout.
pub fn weights(
    items: &[(&str, &str, Duration)],
    durations: &std::collections::HashMap<String, Duration>,
) -> Vec<Duration> {
    let known = |id: &str| durations.get(id).copied().filter(|d| !d.is_zero());
    let median = |mut v: Vec<Duration>| -> Option<Duration> {
        v.sort();
        v.get(v.len() / 2).copied()
    };
    let all = median(items.iter().filter_map(|(id, _, _)| known(id)).collect());
    items
        .iter()
        .map(|(id, kind, timeout)| {
            known(id)
                .or_else(|| {
                    median(
                        items
                            .iter()
                            .filter(|(_, k, _)| k == kind)
                            .filter_map(|(i, _, _)| known(i))
                            .collect(),
                    )
                })
                .or(all)
                .unwrap_or(*timeout)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(needs: &[usize], secs: u64) -> Unit {
        Unit {
            needs: needs.to_vec(),
            weight: Duration::from_secs(secs),
        }
    }

    #[test]
    fn parses_k_of_n() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn needs_keep_items_together_and_weights_balance() {
        // 0 <- 1 <- 2 form one group (30 s); 3 (20 s), 4 (10 s), 5 (10 s) alone.
        let items = [
            unit(&[], 10),
            unit(&[0], 10),
            unit(&[1], 10),
            unit(&[], 20),
            unit(&[], 10),
            unit(&[], 10),
        ];
        let s = assign(&items, 2);
        assert_eq!(s[0], s[1]);
        assert_eq!(s[1], s[2]);
        let load = |k| {
            items
                .iter()
                .zip(&s)
                .filter(|(_, x)| **x == k)
                .map(|(u, _)| u.weight.as_secs())
                .sum::<u64>()
        };
        assert_eq!((load(0), load(1)), (40, 30));
        // The same input gives the same split.
        assert_eq!(assign(&items, 2), s);
    }

    #[test]
    fn an_item_needed_by_two_groups_joins_them() {
        // 1 and 2 both need 0: one group.
        let items = [unit(&[], 1), unit(&[0], 1), unit(&[0], 1), unit(&[], 1)];
        let s = assign(&items, 3);
        assert_eq!((s[0], s[1], s[2]), (s[0], s[0], s[0]));
        assert_ne!(s[3], s[0]);
    }

    #[test]
    fn unknown_durations_take_the_kind_s_median() {
        let d: std::collections::HashMap<String, Duration> = [
            ("http.a".to_string(), Duration::from_secs(2)),
            ("command.b".to_string(), Duration::from_secs(9)),
        ]
        .into();
        let items = [
            ("http.a", "http", Duration::from_secs(60)),
            ("http.new", "http", Duration::from_secs(60)),
            ("manual.c", "manual", Duration::from_secs(3600)),
            ("command.b", "command", Duration::from_secs(60)),
        ];
        let w: Vec<u64> = weights(&items, &d).iter().map(|d| d.as_secs()).collect();
        assert_eq!(w, [2, 2, 9, 9]);
        let none = weights(&items, &Default::default());
        assert_eq!(none[2], Duration::from_secs(3600));
    }
}
