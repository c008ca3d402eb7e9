//! Just enough SQL lexing to never take a comment, a string or a dollar-quoted body for a
//! statement: masking, tokens, and the token helpers the statement rules use.

/// `text` with comments blanked, and with string contents blanked too when `blank_strings`.
/// Blanked bytes become spaces and newlines stay, so offsets and line numbers are unchanged.
pub fn mask(text: &str, blank_strings: bool) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
                blank(&mut out, i, end);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // PostgreSQL block comments nest.
                let (mut depth, mut j) = (1, i + 2);
                while j < b.len() && depth > 0 {
                    if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                        depth += 1;
                        j += 2;
                    } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                        depth -= 1;
                        j += 2;
                    } else {
                        j += 1;
                    }
                }
                blank(&mut out, i, j);
                i = j;
            }
            q @ (b'\'' | b'"' | b'`') => {
                // '' (or "") inside a literal is an escaped quote.
                let mut j = i + 1;
                while j < b.len() {
                    if b[j] == q {
                        if b.get(j + 1) == Some(&q) {
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    j += 1;
                }
                if blank_strings && q == b'\'' {
                    blank(&mut out, i + 1, j);
                }
                i = j + 1;
            }
            b'$' if i == 0 || !is_ident_byte(b[i - 1]) => match dollar_tag(&b[i..]) {
                Some(tag_len) => {
                    let tag = &b[i..i + tag_len];
                    let body = i + tag_len;
                    let end = b[body..]
                        .windows(tag_len)
                        .position(|w| w == tag)
                        .map_or(b.len(), |p| body + p);
                    if blank_strings {
                        blank(&mut out, body, end);
                    }
                    i = (end + tag_len).min(b.len());
                }
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The length of a dollar-quote opener (`$$`, `$body$`) at the start of `b`.
pub(super) fn dollar_tag(b: &[u8]) -> Option<usize> {
    let mut j = 1;
    if b.get(j)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        while b
            .get(j)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            j += 1;
        }
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1)
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    /// Upper-cased word, quoted identifier (quotes stripped, case kept) or one punctuation char.
    pub text: String,
    pub quoted: bool,
    pub at: usize,
}

impl Token {
    pub fn is(&self, word: &str) -> bool {
        !self.quoted && self.text == word
    }
}

pub(super) fn tokenize(masked: &str, from: usize, to: usize) -> Vec<Token> {
    let b = masked.as_bytes();
    let mut out = Vec::new();
    let mut i = from;
    while i < to {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if is_ident_byte(c) {
            let start = i;
            while i < to && (is_ident_byte(b[i]) || b[i] == b'$') {
                i += 1;
            }
            out.push(Token {
                text: masked[start..i].to_ascii_uppercase(),
                quoted: false,
                at: start,
            });
        } else if c == b'"' || c == b'`' {
            let start = i;
            i += 1;
            while i < to && b[i] != c {
                i += 1;
            }
            let text = masked.get(start + 1..i.min(to)).unwrap_or("").to_string();
            out.push(Token {
                text,
                quoted: true,
                at: start,
            });
            i += 1;
        } else if c == b'\'' {
            // A (blanked) string literal: one token.
            let start = i;
            i += 1;
            while i < to && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
            out.push(Token {
                text: "'".into(),
                quoted: false,
                at: start,
            });
        } else {
            let ch = masked[i..].chars().next().unwrap_or(' ');
            out.push(Token {
                text: ch.to_string(),
                quoted: false,
                at: i,
            });
            i += ch.len_utf8().max(1);
        }
    }
    out
}

/// A name as written (`public.orders`): the tokens from `i` up to the first non-name token.
pub(super) fn name_at(t: &[Token], mut i: usize) -> (String, usize) {
    let mut name = String::new();
    while let Some(tok) = t.get(i) {
        let part = if tok.quoted {
            tok.text.clone()
        } else if tok.text.chars().all(|c| is_ident_byte(c as u8) || c == '$') {
            tok.text.to_ascii_lowercase()
        } else {
            break;
        };
        name.push_str(&part);
        i += 1;
        if t.get(i).is_some_and(|d| d.is(".")) {
            name.push('.');
            i += 1;
        } else {
            break;
        }
    }
    (name, i)
}

pub(super) fn skip(t: &[Token], mut i: usize, words: &[&str]) -> usize {
    while t.get(i).is_some_and(|tok| words.iter().any(|w| tok.is(w))) {
        i += 1;
    }
    i
}

/// Whether `word` appears at parenthesis depth 0 in `t`.
pub(super) fn at_top_level(t: &[Token], word: &str) -> bool {
    let mut depth = 0i32;
    for tok in t {
        match tok.text.as_str() {
            "(" if !tok.quoted => depth += 1,
            ")" if !tok.quoted => depth -= 1,
            _ if depth == 0 && tok.is(word) => return true,
            _ => {}
        }
    }
    false
}

/// Splits `t` at commas of parenthesis depth 0.
pub(super) fn split_top_level(t: &[Token]) -> Vec<&[Token]> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, tok) in t.iter().enumerate() {
        match tok.text.as_str() {
            "(" if !tok.quoted => depth += 1,
            ")" if !tok.quoted => depth -= 1,
            "," if !tok.quoted && depth == 0 => {
                parts.push(&t[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&t[start..]);
    parts
}

pub(super) fn contains_seq(t: &[Token], seq: &[&str]) -> bool {
    t.windows(seq.len())
        .any(|w| w.iter().zip(seq).all(|(tok, s)| tok.is(s)))
}
