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
}
