//! What replaces a detected value: a typed placeholder, the value with all but its
//! last characters masked, a keyed pseudonym, or nothing.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::detect::Kind;

/// One action, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `[EMAIL]`: the label between brackets.
    Placeholder(String),
    /// Every letter and digit but the last `keep` becomes `*`; separators stay
    /// (`**** **** **** 1111`).
    Partial { keep: usize },
    /// `[EMAIL:3f1c…]`: HMAC-SHA256 of the normalised value under the configured key,
    /// `hex` hex digits of it. Equal values give equal pseudonyms, so joins still work,
    /// and without the key a pseudonym cannot be reversed by guessing.
    Pseudonym { label: String, hex: usize },
    /// Nothing: the value is removed.
    Remove,
}

/// The key pseudonyms are made with (a secret from the control service).
#[derive(Clone, Default)]
pub struct PseudonymKey(Vec<u8>);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

impl PseudonymKey {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The form of a value that is hashed: the same card, phone or IBAN written with
/// other separators, or an email in other case, gives the same pseudonym.
pub fn normalise(kind: Option<Kind>, value: &[u8]) -> Vec<u8> {
    match kind {
        Some(Kind::Card | Kind::Phone | Kind::Ssn) => value
            .iter()
            .copied()
            .filter(|b| b.is_ascii_digit() || *b == b'+')
            .collect(),
        Some(Kind::Iban) => value
            .iter()
            .copied()
            .filter(|b| *b != b' ')
            .map(|b| b.to_ascii_uppercase())
            .collect(),
        Some(Kind::Email | Kind::Ipv6) => value.to_ascii_lowercase(),
        _ => value.to_vec(),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `[label]` to `out`.
pub fn placeholder(label: &str, out: &mut Vec<u8>) {
    out.push(b'[');
    out.extend_from_slice(label.as_bytes());
    out.push(b']');
}

impl Action {
    /// Appends what replaces `value` to `out`.
    pub fn apply(&self, kind: Option<Kind>, value: &[u8], key: &PseudonymKey, out: &mut Vec<u8>) {
        match self {
            Action::Placeholder(label) => placeholder(label, out),
            Action::Partial { keep } => {
                let total = value.iter().filter(|b| b.is_ascii_alphanumeric()).count();
                let mut seen = 0;
                for &b in value {
                    if b.is_ascii_alphanumeric() {
                        seen += 1;
                        out.push(if seen + keep > total { b } else { b'*' });
                    } else {
                        out.push(b);
                    }
                }
            }
            Action::Pseudonym { label, hex } => {
                out.push(b'[');
                out.extend_from_slice(label.as_bytes());
                out.push(b':');
                // A key of any length is accepted by HMAC; the config demands 32 bytes.
                if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key.0) {
                    mac.update(&normalise(kind, value));
                    let digest = mac.finalize().into_bytes();
                    for b in digest.iter().take(hex.div_ceil(2)) {
                        out.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
                        out.push(HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'));
                    }
                    if hex % 2 == 1 {
                        out.pop();
                    }
                }
                out.push(b']');
            }
            Action::Remove => {}
        }
    }

    /// Whether the whole value is needed to apply it (a placeholder or removal is
    /// known from the start).
    pub fn needs_value(&self) -> bool {
        matches!(self, Action::Partial { .. } | Action::Pseudonym { .. })
    }
}

#[cfg(test)]
#[path = "action_tests.rs"]
mod tests;
