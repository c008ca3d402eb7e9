//! `press` key names: `Enter`, `a`, and chords with modifiers (`Control+A`, `Shift+Tab`,
//! `Meta+Enter`), as the WebDriver characters to send.

use thirtyfour::Key;

const NAMED: &str = "Enter, Tab, Escape, Backspace, Delete, Space, ArrowUp, ArrowDown, ArrowLeft, ArrowRight, Home, End, PageUp, PageDown, F1–F12";
const MODIFIERS: &str = "Control (Ctrl), Shift, Alt, Meta (Command, Cmd)";

/// The WebDriver characters for `name`: a key name or one character, after any modifiers
/// (`Control+A`). Modifiers are held for the key and released after it.
pub fn key_chars(name: &str) -> Result<String, String> {
    let (mods, key) = split_chord(name);
    let mut out = String::new();
    for m in &mods {
        out.push(modifier(m, name)?.value());
    }
    let key_chars = single_key(key).ok_or_else(|| {
        format!("unknown key `{key}` in `{name}`: use a single character or one of {NAMED}")
    })?;
    if mods.is_empty() {
        return Ok(key_chars);
    }
    // After a modifier a letter names the key, not the text: `Control+A` is Ctrl with the A
    // key (select all), not Ctrl+Shift+A; `Shift+A` still types `A` because Shift is held.
    out.push_str(&key_chars.to_lowercase());
    out.push(Key::Null.value());
    Ok(out)
}

/// `Control+Shift+a` → (["Control", "Shift"], "a"); `Control++` → (["Control"], "+").
fn split_chord(name: &str) -> (Vec<&str>, &str) {
    if name.chars().count() <= 1 {
        return (Vec::new(), name);
    }
    let (head, key) = match name.strip_suffix("++") {
        Some(head) => (head, "+"),
        None => match name.rsplit_once('+') {
            Some((head, key)) => (head, key),
            None => return (Vec::new(), name),
        },
    };
    (head.split('+').map(str::trim).collect(), key.trim())
}

fn modifier(m: &str, chord: &str) -> Result<Key, String> {
    Ok(match m.to_ascii_lowercase().as_str() {
        "control" | "ctrl" => Key::Control,
        "shift" => Key::Shift,
        "alt" | "option" => Key::Alt,
        "meta" | "command" | "cmd" => Key::Meta,
        _ => {
            return Err(format!(
                "unknown modifier `{m}` in `{chord}`: use {MODIFIERS}, like `Control+A`"
            ));
        }
    })
}

fn single_key(name: &str) -> Option<String> {
    let key = match name.to_ascii_lowercase().as_str() {
        "enter" | "return" => Key::Enter,
        "tab" => Key::Tab,
        "escape" | "esc" => Key::Escape,
        "backspace" => Key::Backspace,
        "delete" => Key::Delete,
        "space" => Key::Space,
        "arrowup" | "up" => Key::Up,
        "arrowdown" | "down" => Key::Down,
        "arrowleft" | "left" => Key::Left,
        "arrowright" | "right" => Key::Right,
        "home" => Key::Home,
        "end" => Key::End,
        "pageup" => Key::PageUp,
        "pagedown" => Key::PageDown,
        "f1" => Key::F1,
        "f2" => Key::F2,
        "f3" => Key::F3,
        "f4" => Key::F4,
        "f5" => Key::F5,
        "f6" => Key::F6,
        "f7" => Key::F7,
        "f8" => Key::F8,
        "f9" => Key::F9,
        "f10" => Key::F10,
        "f11" => Key::F11,
        "f12" => Key::F12,
        _ => {
            let mut chars = name.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c.to_string()),
                _ => None,
            };
        }
    };
    Some(key.value().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(key: Key) -> String {
        key.value().to_string()
    }

    #[test]
    fn names_characters_and_chords() {
        assert_eq!(key_chars("Enter").unwrap(), k(Key::Enter));
        assert_eq!(key_chars("x").unwrap(), "x");
        assert_eq!(key_chars("+").unwrap(), "+");
        let null = k(Key::Null);
        assert_eq!(
            key_chars("Control+A").unwrap(),
            format!("{}a{null}", k(Key::Control))
        );
        assert_eq!(
            key_chars("Shift+Tab").unwrap(),
            format!("{}{}{null}", k(Key::Shift), k(Key::Tab))
        );
        assert_eq!(
            key_chars("Meta+Enter").unwrap(),
            format!("{}{}{null}", k(Key::Meta), k(Key::Enter))
        );
        assert_eq!(
            key_chars("ctrl+shift+t").unwrap(),
            format!("{}{}t{null}", k(Key::Control), k(Key::Shift))
        );
        assert_eq!(
            key_chars("Control++").unwrap(),
            format!("{}+{null}", k(Key::Control))
        );
    }

    #[test]
    fn unknown_keys_and_modifiers_say_what_exists() {
        let e = key_chars("Hyper+A").unwrap_err();
        assert!(e.contains("unknown modifier `Hyper` in `Hyper+A`"), "{e}");
        let e = key_chars("Control+Enterr").unwrap_err();
        assert!(e.contains("unknown key `Enterr`"), "{e}");
        assert!(key_chars("Hyper").unwrap_err().contains("unknown key"));
    }
}
