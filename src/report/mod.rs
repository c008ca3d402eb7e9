//! Results of a run and the reporters that render them.

pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod terminal;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::Status;
use crate::exit;
use crate::release::shard::Shard;
use crate::settings::Waiver;

/// How an item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The check held.
    Passed,
    /// The check held only after a retry.
    Flaky,
    /// The check did not hold.
    Failed,
    /// The check could not run.
    Errored,
    /// Not run (a need did not pass, `--fail-fast`); the reason is the message.
    Skipped,
    /// Stopped by Ctrl-C (or not started because of it).
    Interrupted,
    /// Failed or errored under a waiver that holds: reported with its reason, does not close
    /// the gate.
    Waived,
}

impl Outcome {
    pub fn from_status(s: Status) -> Self {
        match s {
            Status::Passed => Outcome::Passed,
            Status::Failed => Outcome::Failed,
            Status::Errored => Outcome::Errored,
        }
    }

    /// Passed, possibly after retries: items that need this one may run.
    pub fn is_pass(self) -> bool {
        matches!(self, Outcome::Passed | Outcome::Flaky)
    }

    /// Items that need this one may run: it passed, or its failure is waived.
    pub fn satisfies_needs(self) -> bool {
        self.is_pass() || self == Outcome::Waived
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Flaky => "flaky",
            Outcome::Failed => "failed",
            Outcome::Errored => "errored",
            Outcome::Skipped => "skipped",
            Outcome::Interrupted => "interrupted",
            Outcome::Waived => "waived",
        }
    }
}

/// One attempt of an item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub status: Status,
    pub message: String,
    #[serde(
        serialize_with = "ser_ms",
        deserialize_with = "de_ms",
        rename = "duration_ms"
    )]
    pub duration: Duration,
}

impl Attempt {
    /// `passed`, `failed` or `errored`.
    pub fn status_label(&self) -> &'static str {
        match self.status {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Errored => "errored",
        }
    }
}

/// The result of one item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemResult {
    pub id: String,
    pub kind: String,
    pub name: String,
    /// The checklist file the item's table is in (the main file or an included one).
    #[serde(default)]
    pub file: PathBuf,
    /// 1-based line of the item's table in `file`.
    #[serde(default)]
    pub line: usize,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub blocking: bool,
    pub outcome: Outcome,
    pub message: String,
    pub details: String,
    pub warnings: Vec<String>,
    pub artifacts: Vec<PathBuf>,
    pub properties: Vec<(String, String)>,
    pub data: serde_json::Value,
    pub attempts: Vec<Attempt>,
    pub started_at: Option<DateTime<Utc>>,
    #[serde(
        serialize_with = "ser_ms",
        deserialize_with = "de_ms",
        rename = "duration_ms"
    )]
    pub duration: Duration,
    /// The waiver of this item, when it has one (whether it held or lapsed).
    #[serde(default)]
    pub waiver: Option<Waiver>,
}

impl ItemResult {
    /// The result of item `id` (`KIND.NAME`) that did not run, or before its check's output
    /// is filled in: no attempts, artifacts or figures; blocking, at line 0 (unknown).
    pub fn unrun(id: &str, outcome: Outcome, message: String) -> Self {
        let (kind, name) = id.split_once('.').unwrap_or(("", id));
        ItemResult {
            id: id.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            file: PathBuf::new(),
            line: 0,
            description: None,
            tags: Vec::new(),
            blocking: true,
            outcome,
            message,
            details: String::new(),
            warnings: Vec::new(),
            artifacts: Vec::new(),
            properties: Vec::new(),
            data: serde_json::Value::Null,
            attempts: Vec::new(),
            started_at: None,
            duration: Duration::ZERO,
            waiver: None,
        }
    }

    /// Did not hold (or could not run), and it counts for the gate.
    pub fn blocks_gate(&self) -> bool {
        self.blocking && !self.outcome.is_pass() && self.outcome != Outcome::Waived
    }

    /// A non-blocking item that did not pass: reported, never fails the gate.
    pub fn is_warning(&self) -> bool {
        !self.blocking && matches!(self.outcome, Outcome::Failed | Outcome::Errored)
    }
}

/// A service as it went during the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub name: String,
    pub pid: Option<u32>,
    #[serde(
        serialize_with = "ser_opt_ms",
        deserialize_with = "de_opt_ms",
        rename = "ready_after_ms"
    )]
    pub ready_after: Option<Duration>,
    pub error: Option<String>,
    pub log: Option<PathBuf>,
    pub stopped: Option<String>,
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub checklist: String,
    pub path: PathBuf,
    /// The `[profile.NAME]` the run applied.
    pub profile: Option<String>,
    /// SHA-256 (hex) of the checklist file.
    #[serde(default)]
    pub checklist_sha256: Option<String>,
    /// The git commit checked out where the checklist lives.
    #[serde(default)]
    pub commit: Option<String>,
    pub started_at: DateTime<Utc>,
    #[serde(
        serialize_with = "ser_ms",
        deserialize_with = "de_ms",
        rename = "duration_ms"
    )]
    pub duration: Duration,
    pub interrupted: bool,
    pub services: Vec<ServiceRecord>,
    /// In run-plan order.
    pub items: Vec<ItemResult>,
    /// Items left out by `--only`/`--skip`.
    pub not_selected: Vec<String>,
    /// `--shard K/N`: which part of the items this run took.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// `--shard`: the selected items the other shards run.
    #[serde(default)]
    pub other_shards: Vec<String>,
}

/// Counts by outcome.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub flaky: usize,
    pub failed: usize,
    pub errored: usize,
    pub skipped: usize,
    pub interrupted: usize,
    /// Non-blocking items that failed or errored.
    pub warnings: usize,
    /// Failures accepted by a waiver.
    pub waived: usize,
}

impl RunReport {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for i in &self.items {
            match i.outcome {
                Outcome::Passed => c.passed += 1,
                Outcome::Flaky => c.flaky += 1,
                Outcome::Failed => c.failed += 1,
                Outcome::Errored => c.errored += 1,
                Outcome::Skipped => c.skipped += 1,
                Outcome::Interrupted => c.interrupted += 1,
                Outcome::Waived => c.waived += 1,
            }
            if i.is_warning() {
                c.warnings += 1;
            }
        }
        c
    }

    /// Every blocking item passed.
    pub fn gate_open(&self) -> bool {
        !self.interrupted && !self.items.iter().any(ItemResult::blocks_gate)
    }

    /// The process exit code for this report (see [`crate::exit`]).
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            exit::INTERRUPTED
        } else if self.gate_open() {
            exit::PASSED
        } else {
            exit::FAILED
        }
    }
}

/// `path` relative to the directory `base` when they share a root (for links in reports).
pub fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let (path, base) = (resolved(path), resolved(base));
    relative_path(&path, &base).unwrap_or(path)
}

/// Absolute, without `.` and `..` (symlinks resolved when the path exists).
fn resolved(p: &Path) -> PathBuf {
    use std::path::Component;
    if let Ok(real) = std::fs::canonicalize(p) {
        return real;
    }
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

fn relative_path(path: &Path, base: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    Some(out)
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

fn de_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}

fn de_opt_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
}

fn ser_opt_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(d.as_millis() as u64),
        None => s.serialize_none(),
    }
}

/// Makes captured output readable in reports: removes ANSI escape sequences the way a terminal
/// consumes them, turns carriage-return progress updates into lines of their own, and writes
/// characters XML 1.0 cannot carry (and C1 controls, which escape strippers may read as the start
/// of a sequence) as `\u{..}`.
pub fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => skip_escape(&mut chars),
            // `\r\n` is one line break; a lone `\r` (a progress update) starts a new line.
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => out.push('\n'),
            '\t' | '\n' => out.push(c),
            c if c < ' '
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(c, '\u{FFFE}' | '\u{FFFF}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Consumes the escape sequence that follows an ESC (ECMA-48), never past the end of the line:
/// an unterminated sequence must not swallow the rest of the output.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    let Some(&first) = chars.peek() else { return };
    match first {
        // CSI: parameter and intermediate bytes, then one final byte.
        '[' => {
            chars.next();
            while chars.next_if(|d| (' '..='?').contains(d)).is_some() {}
            chars.next_if(|d| ('@'..='~').contains(d));
        }
        // Control strings (OSC, DCS, SOS, PM, APC): up to BEL or ST, or the end of the line.
        ']' | 'P' | 'X' | '^' | '_' => {
            chars.next();
            while let Some(&d) = chars.peek() {
                match d {
                    '\x07' | '\u{9c}' => {
                        chars.next();
                        return;
                    }
                    '\n' | '\r' => return,
                    '\x1b' => {
                        // ESC \ is ST; any other ESC starts a new sequence.
                        let mut ahead = chars.clone();
                        ahead.next();
                        if ahead.peek() == Some(&'\\') {
                            chars.next();
                            chars.next();
                        }
                        return;
                    }
                    _ => {
                        chars.next();
                    }
                }
            }
        }
        // nF: intermediate bytes, then a final byte (`ESC ( B` designates a character set).
        ' '..='/' => {
            while chars.next_if(|d| (' '..='/').contains(d)).is_some() {}
            chars.next_if(|d| ('0'..='~').contains(d));
        }
        // Fp, Fe, Fs: one byte (`ESC 7`, `ESC M`, `ESC c`).
        '0'..='~' => {
            chars.next();
        }
        // A stray ESC: dropped alone.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clean_text_strips_ansi_and_control_chars() {
        assert_eq!(super::clean_text("\x1b[31mred\x1b[0m ok"), "red ok");
        assert_eq!(super::clean_text("a\0b\x07c\td"), "a\\u{0}b\\u{7}c\td");
        assert_eq!(super::clean_text("\x1b]0;title\x07x"), "x");
    }

    #[test]
    fn clean_text_ends_escapes_where_a_terminal_does() {
        use super::clean_text;
        // An unterminated OSC (a hyperlink cut short) ends at the line's end, not the text's.
        assert_eq!(
            clean_text("before\x1b]8;;http://x\nafter\nstderr"),
            "before\nafter\nstderr"
        );
        // OSC ended by ST, and an OSC cut short by the next escape.
        assert_eq!(clean_text("a\x1b]8;;u\x1b\\link\x1b]8;;\x1b\\b"), "alinkb");
        assert_eq!(clean_text("a\x1b]0;t\x1b[1mb"), "ab");
        // Designators (`tput sgr0` ends with `ESC ( B`) go whole.
        assert_eq!(clean_text("x\x1b(By\x1b)0z\x1b#8!"), "xyz!");
        // A CSI cut short by a newline keeps the newline and what follows.
        assert_eq!(clean_text("a\x1b[31\nb"), "a\nb");
        assert_eq!(clean_text("a\x1b[?25lb\x1b7c\x1b"), "abc");
        // Progress lines are lines; CRLF is one line break.
        assert_eq!(
            clean_text("10%\r50%\r100%\r\ndone\r\n"),
            "10%\n50%\n100%\ndone\n"
        );
        // C1 controls are shown, not interpreted.
        assert_eq!(clean_text("a\u{9b}31mb\u{9d}c"), "a\\u{9b}31mb\\u{9d}c");
    }
}
