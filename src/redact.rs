//! Keeps secrets out of every output: the values of secret vars, the forms they take on the
//! wire (base64, percent-encoding, hex, an `Authorization: Basic` header), and the userinfo
//! of every URL.

use std::borrow::Cow;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use crate::syntax::template::percent_encode;

/// Replaces the values of secret vars, in every form, with `[REDACTED]`.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// Every form of every secret, longest first, so that a secret containing another (and a
    /// full encoding containing the core of an embedded one) is replaced whole.
    forms: Vec<String>,
}

pub const MASK: &str = "[REDACTED]";

/// Secrets shorter than this are still replaced as written, but not in encoded forms (a short
/// encoding would match unrelated text), and a warning says redaction may give them away.
pub const MIN_SECRET_LEN: usize = 6;

/// `scheme://userinfo@`: the userinfo of a URL.
static USERINFO: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/?#@\[\]]+)@").expect("userinfo regex")
});

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Self::default().with_secrets(secrets)
    }

    /// Adds `secrets` (and their encoded forms).
    pub fn with_secrets(mut self, secrets: impl IntoIterator<Item = String>) -> Self {
        for s in secrets.into_iter().filter(|s| !s.is_empty()) {
            self.forms.extend(encoded_forms(&s));
            self.forms.push(s);
        }
        self.sort();
        self
    }

    /// Adds the credentials of a URL's userinfo: the password, its encoded forms, and the
    /// `Authorization: Basic` value an HTTP client builds from them.
    pub fn with_userinfo(mut self, user: &str, password: &str) -> Self {
        if password.is_empty() {
            return self.with_secrets([user.to_string()]);
        }
        self.forms
            .push(STANDARD.encode(format!("{user}:{password}")));
        self.with_secrets([password.to_string()])
    }

    fn sort(&mut self) {
        self.forms
            .sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        self.forms.dedup();
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for s in &self.forms {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
        if out.contains("://") && USERINFO.is_match(&out) {
            let scrubbed = USERINFO
                .replace_all(&out, |c: &regex::Captures| match c[2].split_once(':') {
                    Some((user, _)) => format!("{}{user}:{MASK}@", &c[1]),
                    None => format!("{}{MASK}@", &c[1]),
                })
                .into_owned();
            out = Cow::Owned(scrubbed);
        }
        out
    }

    pub fn redact_in_place(&self, text: &mut String) {
        if let Cow::Owned(s) = self.redact(text) {
            *text = s;
        }
    }

    /// Redacts every string in a JSON value.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => self.redact_in_place(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
        }
    }
}

/// Why a secret var weakens redaction, if it does.
pub fn weak_secret(name: &str, value: &str) -> Option<String> {
    let n = value.chars().count();
    if n == 0 {
        return Some(format!(
            "secret var `{name}` is empty: there is nothing to redact"
        ));
    }
    (n < MIN_SECRET_LEN).then(|| {
        format!(
            "secret var `{name}` is only {n} character{}: `[REDACTED]` in the output shows where it occurs and so gives it away (and its encoded forms are not redacted); secrets should be at least {MIN_SECRET_LEN} characters",
            if n == 1 { "" } else { "s" }
        )
    })
}

/// The forms a secret takes when a program encodes it: base64 (standard and URL-safe, whole
/// and as part of a longer encoded text), percent-encoding and hex.
fn encoded_forms(secret: &str) -> Vec<String> {
    let bytes = secret.as_bytes();
    if secret.chars().count() < MIN_SECRET_LEN {
        return Vec::new();
    }
    let mut forms = Vec::new();
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        forms.push(engine.encode(bytes));
        // Inside a longer encoded text the secret starts at any offset modulo 3 bytes: keep
        // the characters that only its own bits decide.
        for offset in 0..3usize {
            let mut padded = vec![0u8; offset];
            padded.extend_from_slice(bytes);
            let encoded = engine.encode(&padded);
            let first = (offset * 8).div_ceil(6);
            let last = padded.len() * 8 / 6;
            if last > first + 3 {
                forms.push(encoded[first..last].to_string());
            }
        }
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    forms.push(hex.to_uppercase());
    forms.push(hex);
    let percent = percent_encode(secret);
    if percent != secret {
        forms.push(lowercase_escapes(&percent));
        forms.push(percent.replace("%20", "+"));
        forms.push(percent);
    }
    forms
}

/// `%2F` → `%2f`, leaving the unescaped characters as they are.
fn lowercase_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_every_occurrence_longest_first() {
        let r = Redactor::new([
            "abcdefgh".to_string(),
            "abcdefghijkl".to_string(),
            String::new(),
        ]);
        assert_eq!(
            r.redact("x abcdefghijkl y abcdefgh"),
            "x [REDACTED] y [REDACTED]"
        );
        assert_eq!(r.redact("nothing"), "nothing");
    }

    #[test]
    fn redacts_encoded_forms_and_embedded_base64() {
        let secret = "s3cr3t/t0ken+v&lue?";
        let r = Redactor::new([secret.to_string()]);
        for form in [
            STANDARD.encode(secret),
            URL_SAFE_NO_PAD.encode(secret),
            percent_encode(secret),
            secret.bytes().map(|b| format!("{b:02x}")).collect(),
        ] {
            let shown = r.redact(&form).into_owned();
            assert!(
                !shown.contains(&form[..form.len() - 2]),
                "{form} -> {shown}"
            );
        }
        // base64 of a longer text that contains the secret at each offset.
        for prefix in ["", "a", "ab", "abc:"] {
            let encoded = STANDARD.encode(format!("{prefix}{secret} and more"));
            let shown = r.redact(&encoded).into_owned();
            assert!(shown.contains(MASK), "{prefix:?}: {encoded} -> {shown}");
            assert!(shown.len() < encoded.len() - 10, "{shown}");
        }
    }

    #[test]
    fn userinfo_and_basic_auth_are_redacted() {
        let r = Redactor::default().with_userinfo("deploy", "pa55word");
        assert_eq!(
            r.redact("GET http://deploy:hunter2@host/ and ftp://token@x/"),
            "GET http://deploy:[REDACTED]@host/ and ftp://[REDACTED]@x/"
        );
        let basic = STANDARD.encode("deploy:pa55word");
        assert_eq!(r.redact(&format!("Basic {basic}")), "Basic [REDACTED]");
        assert_eq!(r.redact("mail me at a@b.c"), "mail me at a@b.c");
    }

    #[test]
    fn short_secrets_are_warned_about() {
        assert!(
            weak_secret("pin", "abc")
                .unwrap()
                .contains("only 3 characters")
        );
        assert!(weak_secret("x", "").unwrap().contains("empty"));
        assert!(weak_secret("tok", "long-enough").is_none());
    }
}
