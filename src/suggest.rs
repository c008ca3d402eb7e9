//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// The item id `word` names: an id whose name part (after `kind.`) is `word` (a bare name like
/// `health` for `http.health`), else the closest id.
pub fn closest_id<'a>(word: &str, ids: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let ids: Vec<&str> = ids.into_iter().collect();
    ids.iter()
        .find(|id| id.split_once('.').is_some_and(|(_, name)| name == word))
        .map(|id| id.to_string())
        .or_else(|| closest(word, ids.iter().copied()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggests_only_near_misses() {
        let keys = ["status", "url", "method", "body_contains"];
        assert_eq!(super::closest("statuss", keys).as_deref(), Some("status"));
        assert_eq!(
            super::closest("body_contain", keys).as_deref(),
            Some("body_contains")
        );
        assert_eq!(super::closest("zzz", keys), None);
    }

    #[test]
    fn a_bare_name_suggests_its_id() {
        let ids = ["http.health", "command.tests", "http.home"];
        assert_eq!(
            super::closest_id("health", ids).as_deref(),
            Some("http.health")
        );
        assert_eq!(
            super::closest_id("http.hom", ids).as_deref(),
            Some("http.home")
        );
        assert_eq!(super::closest_id("deploy", ids), None);
    }
}
