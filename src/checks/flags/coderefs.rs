//! Rule 6: flag keys referenced in the source. A key the provider does not know means the code
//! silently runs on its in-code default; a stale flag still referenced is cleanup left to do.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::{Audit, CodeRefsRule, Flag, Rule, RuleError, Severity};

const MAX_FILES: usize = 20_000;
const MAX_FILE_BYTES: u64 = 2 << 20;

pub(super) fn check(
    rule: &CodeRefsRule,
    flags: &[Flag],
    base_dir: &Path,
    audit: &mut Audit,
) -> Result<(), RuleError> {
    let unknown_sev = rule.severity.unwrap_or(Severity::Fail);
    let stale_sev = rule.stale.unwrap_or(Severity::Warn);
    if unknown_sev == Severity::Off && stale_sev == Severity::Off {
        return Ok(());
    }
    let re = &rule.pattern.0;
    let group = if re.capture_names().any(|n| n == Some("key")) {
        None
    } else {
        Some(1)
    };
    if group == Some(1) && re.captures_len() < 2 {
        return Err(RuleError(format!(
            "code_refs `pattern` `{}` has no capture group for the flag key",
            re.as_str()
        )));
    }
    let mut refs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut files = 0;
    for g in &rule.globs {
        let pattern = base_dir.join(g.as_str());
        let entries = glob::glob(&pattern.to_string_lossy())
            .map_err(|e| RuleError(format!("code_refs glob `{}`: {e}", g.as_str())))?;
        for entry in entries.flatten() {
            if files >= MAX_FILES {
                break;
            }
            let Ok(meta) = std::fs::metadata(&entry) else {
                continue;
            };
            if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&entry) else {
                continue;
            };
            files += 1;
            let shown = entry
                .strip_prefix(base_dir)
                .unwrap_or(&entry)
                .display()
                .to_string();
            for (n, line) in text.lines().enumerate() {
                for c in re.captures_iter(line) {
                    let m = match group {
                        Some(i) => c.get(i),
                        None => c.name("key"),
                    };
                    if let Some(m) = m {
                        refs.entry(m.as_str().to_string())
                            .or_default()
                            .push(format!("{shown}:{}", n + 1));
                    }
                }
            }
        }
    }
    let known: HashMap<&str, &Flag> = flags.iter().map(|f| (f.key.as_str(), f)).collect();
    for (key, places) in &refs {
        let at = places
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        match known.get(key.as_str()) {
            None if unknown_sev != Severity::Off => audit.add(
                Rule::CodeRefs,
                unknown_sev,
                key,
                format!("referenced at {at} but unknown to the flag source: the code silently runs on its default"),
            ),
            Some(f) if f.stale && stale_sev != Severity::Off => {
                audit.add(Rule::CodeRefs, stale_sev, key, format!("marked stale but still referenced at {at}"))
            }
            _ => {}
        }
    }
    audit.checked.insert(
        Rule::CodeRefs.to_string(),
        format!("{} keys referenced in {files} files", refs.len()),
    );
    Ok(())
}
