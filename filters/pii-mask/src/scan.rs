//! The built-in detectors' patterns matched by hand, anchored at a candidate start.
//!
//! Each `Kind::pattern()` in [`crate::detect`] is the specification; each function here
//! gives the end of the match that pattern's leftmost-first search would give when
//! anchored at `s` (or `None`), and the differential tests hold them to it. Why not the
//! automaton: the candidates are short and dense (an address, a date, an IP every few
//! dozen bytes), and a lazy DFA's setup per search cost 60 to 250 ns each, several
//! times the matching itself. These read only the bytes the pattern reads, and allocate
//! nothing.
//!
//! `\b` before a pattern's first character is "no letter, digit or `_` before `s`"
//! (ASCII, as the patterns are compiled); `hay` holds the bytes before `s` the caller
//! has.

use crate::detect::Kind;

fn at(hay: &[u8], i: usize) -> u8 {
    hay.get(i).copied().unwrap_or(0)
}

/// How many bytes from `i` are in `class`, counting at most `max`.
pub(crate) fn run(hay: &[u8], i: usize, max: usize, class: impl Fn(u8) -> bool) -> usize {
    hay.get(i..)
        .unwrap_or_default()
        .iter()
        .take(max)
        .take_while(|&&b| class(b))
        .count()
}

/// Where the first byte equal to `a` or `b` is in `data`, eight bytes at a time (in
/// wasm as natively: the strings and lines searched are short, where a SIMD search's
/// setup costs more than it saves).
pub fn find2(data: &[u8], a: u8, b: u8) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte of `x` that is zero; exact for the lowest such byte
    // (a borrow only ever runs towards higher bytes), which is all that is read.
    let zeros = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let (wa, wb) = (ONES * u64::from(a), ONES * u64::from(b));
    let first = |w: u64| {
        let hits = zeros(w ^ wa) | zeros(w ^ wb);
        (hits != 0).then_some((hits.trailing_zeros() / 8) as usize)
    };
    let mut words = data.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        if let Some(p) = first(u64::from_le_bytes(word.try_into().unwrap_or_default())) {
            return Some(at + p);
        }
        at += 8;
    }
    // The last few bytes as one word, padded with a byte that is neither.
    let tail = words.remainder();
    let pad = if a.wrapping_add(1) == b {
        a.wrapping_add(2)
    } else {
        a.wrapping_add(1)
    };
    let mut last = [pad; 8];
    last.get_mut(..tail.len())?.copy_from_slice(tail);
    first(u64::from_le_bytes(last)).map(|p| at + p)
}

/// The bytes of a word (`[A-Za-z0-9_]`), by value: one load where the scan passes
/// over words.
// (Indexing in a constant: out of bounds would not compile.)
#[allow(clippy::indexing_slicing)]
static WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    t
};

/// A byte of a word, for `\b`.
pub fn is_word(b: u8) -> bool {
    WORD.get(usize::from(b)).copied().unwrap_or(false)
}

/// The end of the word that goes on at `i` (`i` itself when no word byte is there).
pub fn word_end(hay: &[u8], i: usize) -> usize {
    let rest = hay.get(i..).unwrap_or_default();
    i + rest.iter().position(|&b| !is_word(b)).unwrap_or(rest.len())
}

/// `\b` at `s`, where a pattern starts with a word character.
pub fn word_start(hay: &[u8], s: usize) -> bool {
    s.checked_sub(1)
        .and_then(|i| hay.get(i))
        .is_none_or(|&b| !is_word(b))
}

fn digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// `[ .-]`, what separates a phone number's groups.
fn phone_sep(b: u8) -> bool {
    matches!(b, b' ' | b'.' | b'-')
}

/// `[ -]`, what separates a card number's groups.
fn card_sep(b: u8) -> bool {
    matches!(b, b' ' | b'-')
}

/// The end of `class{min,max}` then `last` (a one-byte class inside `class`), greedy:
/// the longest `k` in `min..=max` with `hay[i + k]` in `last`, within the run of
/// `class` from `i`.
fn run_ending_in(
    hay: &[u8],
    i: usize,
    min: usize,
    max: usize,
    class: impl Fn(u8) -> bool,
    last: impl Fn(u8) -> bool,
) -> Option<usize> {
    let r = run(hay, i, max + 1, class);
    (min..=max.min(r.checked_sub(1)?))
        .rev()
        .find(|&k| last(at(hay, i + k)))
        .map(|k| i + k + 1)
}

/// The end of `(?:[sep][0-9]{n})` at `i`: a separator and exactly `n` digits.
fn sep_digits(hay: &[u8], i: usize, sep: fn(u8) -> bool, n: usize) -> Option<usize> {
    (sep(at(hay, i)) && run(hay, i + 1, n, digit) == n).then_some(i + 1 + n)
}

/// The end of the match of `kind`'s pattern anchored at `s`.
// Out of line, as the validators are: the scan's loop stays small (measured: inlined,
// it runs about 7 % more instructions).
#[inline(never)]
pub fn match_at(kind: Kind, hay: &[u8], s: usize) -> Option<usize> {
    match kind {
        Kind::Jwt => jwt(hay, s),
        Kind::Bearer => bearer(hay, s),
        Kind::HcpAuthorization => hcp_authorization(hay, s),
        Kind::AwsAccessKey => aws_key(hay, s),
        Kind::AwsSecretKey => aws_secret(hay, s),
        Kind::Email => email(hay, s),
        Kind::Iban => iban(hay, s),
        Kind::Card => card(hay, s),
        Kind::Ssn => ssn(hay, s),
        Kind::Ipv6 => ipv6(hay, s),
        Kind::Ipv4 => ipv4(hay, s),
        Kind::Phone => phone(hay, s),
    }
}

fn starts_with(hay: &[u8], s: usize, lit: &[u8]) -> bool {
    hay.get(s..s + lit.len()) == Some(lit)
}

pub(crate) fn starts_with_ci(hay: &[u8], s: usize, lit: &[u8]) -> bool {
    hay.get(s..s + lit.len())
        .is_some_and(|t| t.eq_ignore_ascii_case(lit))
}

pub(crate) fn b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

fn upper_or_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn jwt(hay: &[u8], s: usize) -> Option<usize> {
    (word_start(hay, s) && starts_with(hay, s, b"eyJ") && run(hay, s + 3, 4, b64url) == 4)
        .then_some(s + 7)
}

fn bearer(hay: &[u8], s: usize) -> Option<usize> {
    if !(word_start(hay, s) && starts_with_ci(hay, s, b"bearer")) {
        return None;
    }
    let spaces = run(hay, s + 6, 4, |b| b == b' ');
    (spaces >= 1).then_some(s + 6 + spaces)
}

fn hcp_authorization(hay: &[u8], s: usize) -> Option<usize> {
    if !(word_start(hay, s) && starts_with(hay, s, b"HCP ")) {
        return None;
    }
    let user = run(hay, s + 4, 201, b64);
    if !(1..=200).contains(&user) {
        return None;
    }
    let mut i = s + 4 + user;
    i += run(hay, i, 2, |b| b == b'=');
    (at(hay, i) == b':' && run(hay, i + 1, 32, |b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) == 32)
        .then_some(i + 33)
}

fn aws_key(hay: &[u8], s: usize) -> Option<usize> {
    (word_start(hay, s)
        && crate::detect::AWS_KEY_PREFIXES
            .iter()
            .any(|p| starts_with(hay, s, p.as_slice()))
        && run(hay, s + 4, 16, upper_or_digit) == 16)
        .then_some(s + 20)
}

fn quote(b: u8) -> bool {
    b == b'"' || b == b'\''
}

fn aws_secret(hay: &[u8], s: usize) -> Option<usize> {
    const NAME: &[u8] = b"aws_secret_access_key";
    if !(word_start(hay, s) && starts_with_ci(hay, s, NAME)) {
        return None;
    }
    let mut i = s + NAME.len();
    i += usize::from(quote(at(hay, i)));
    i += run(hay, i, 3, |b| b == b' ');
    if !matches!(at(hay, i), b':' | b'=') {
        return None;
    }
    i += 1;
    i += run(hay, i, 3, |b| b == b' ');
    i += usize::from(quote(at(hay, i)));
    (run(hay, i, 40, b64) == 40).then_some(i + 40)
}

fn email_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Where an email address can start before the first `@` at or after `from`: the bytes
/// of the local part run back from it (at most 64, the pattern's local part), and the
/// `@`'s position. `None` when no `@` follows.
// Out of line: asked once per `@` passed, and inlined it crowds the scan's loop.
#[inline(never)]
pub fn email_zone(hay: &[u8], from: usize) -> Option<(usize, usize)> {
    let at = from + find2(hay.get(from..)?, b'@', b'@')?;
    let local = hay
        .get(at.saturating_sub(64)..at)
        .unwrap_or_default()
        .iter()
        .rev()
        .take_while(|&&b| email_local(b))
        .count();
    Some((at - local, at))
}

fn email(hay: &[u8], s: usize) -> Option<usize> {
    if !(word_start(hay, s) && is_word(at(hay, s))) {
        return None;
    }
    let local = run(hay, s + 1, 64, email_local);
    let at_sign = s + 1 + local;
    if local > 63 || at(hay, at_sign) != b'@' || !at(hay, at_sign + 1).is_ascii_alphanumeric() {
        return None;
    }
    // `[A-Za-z0-9.-]{0,250}[A-Za-z]{2}` after the domain's first character: the
    // longest stretch of the run that ends in two letters.
    let rest = at_sign + 2;
    let r = run(hay, rest, 252, |b| {
        b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
    });
    (2..=r)
        .rev()
        .find(|&k| {
            at(hay, rest + k - 1).is_ascii_alphabetic()
                && at(hay, rest + k - 2).is_ascii_alphabetic()
        })
        .map(|k| rest + k)
}

fn iban(hay: &[u8], s: usize) -> Option<usize> {
    if !(word_start(hay, s)
        && at(hay, s).is_ascii_uppercase()
        && at(hay, s + 1).is_ascii_uppercase()
        && digit(at(hay, s + 2))
        && digit(at(hay, s + 3)))
    {
        return None;
    }
    let mut i = s + 4;
    let mut count = 0;
    while count < 30 {
        if at(hay, i) == b' ' && upper_or_digit(at(hay, i + 1)) {
            i += 2;
        } else if upper_or_digit(at(hay, i)) {
            i += 1;
        } else {
            break;
        }
        count += 1;
    }
    (count >= 11).then_some(i)
}

fn card(hay: &[u8], s: usize) -> Option<usize> {
    if !(word_start(hay, s) && digit(at(hay, s))) {
        return None;
    }
    let first = run(hay, s, 20, digit);
    if first >= 12 {
        return Some(s + first.min(19));
    }
    if first != 4 {
        return None;
    }
    // 4-4-4, then up to four digits, then three.
    let grouped = sep_digits(hay, s + 4, card_sep, 4)
        .and_then(|i| sep_digits(hay, i, card_sep, 4))
        .map(|mut i| {
            if card_sep(at(hay, i)) && digit(at(hay, i + 1)) {
                i += 1 + run(hay, i + 1, 4, digit);
            }
            sep_digits(hay, i, card_sep, 3).unwrap_or(i)
        });
    grouped.or_else(|| {
        // 4-6-5 and 4-6-4.
        let i = sep_digits(hay, s + 4, card_sep, 6)?;
        let last = run(hay, i + 1, 5, digit);
        (card_sep(at(hay, i)) && last >= 4).then_some(i + 1 + last)
    })
}

fn ssn(hay: &[u8], s: usize) -> Option<usize> {
    let sep = |b: u8| b == b'-' || b == b' ';
    (word_start(hay, s) && run(hay, s, 3, digit) == 3)
        .then_some(s + 3)
        .and_then(|i| sep_digits(hay, i, sep, 2))
        .and_then(|i| sep_digits(hay, i, sep, 4))
}

fn hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// `(?::[0-9A-Fa-f]{0,4}){0,max}` then `(?:\.[0-9]{1,3}){0,3}` from `i`: the end, and
/// how many colon groups.
fn ipv6_tail(hay: &[u8], mut i: usize, max: usize) -> (usize, usize) {
    let mut groups = 0;
    while groups < max && at(hay, i) == b':' {
        i += 1 + run(hay, i + 1, 4, hex);
        groups += 1;
    }
    let mut dotted = 0;
    while dotted < 3 && at(hay, i) == b'.' && digit(at(hay, i + 1)) {
        i += 1 + run(hay, i + 1, 3, digit);
        dotted += 1;
    }
    (i, groups)
}

fn ipv6(hay: &[u8], s: usize) -> Option<usize> {
    if starts_with(hay, s, b"::") {
        let first = s + 2 + run(hay, s + 2, 4, hex);
        return Some(ipv6_tail(hay, first, 6).0);
    }
    let lead = run(hay, s, 5, hex);
    if !(word_start(hay, s) && (1..=4).contains(&lead)) {
        return None;
    }
    let (end, groups) = ipv6_tail(hay, s + lead, 7);
    (groups >= 2).then_some(end)
}

fn ipv4(hay: &[u8], s: usize) -> Option<usize> {
    if !(word_start(hay, s) && digit(at(hay, s))) {
        return None;
    }
    let mut i = s + run(hay, s, 3, digit);
    for _ in 0..3 {
        let octet = run(hay, i + 1, 3, digit);
        if at(hay, i) != b'.' || octet == 0 {
            return None;
        }
        i += 1 + octet;
    }
    Some(i)
}

/// The words that make bare digits after them a phone number, in the pattern's order.
pub const PHONE_WORDS: [&[u8]; 10] = [
    b"phone",
    b"tel",
    b"mobile",
    b"cell",
    b"fax",
    b"call",
    b"sms",
    b"whatsapp",
    b"contact",
    b"reach",
];

fn phone(hay: &[u8], s: usize) -> Option<usize> {
    match at(hay, s) {
        b'+' => phone_e164(hay, s),
        b'(' => phone_area(hay, s),
        b'2'..=b'9' if word_start(hay, s) => phone_nanp(hay, s),
        b'0' if word_start(hay, s) => phone_trunk(hay, s).or_else(|| phone_intl(hay, s)),
        b',' | b';' | b'|' | b'\t' => phone_field(hay, s),
        b if b.is_ascii_alphabetic() && word_start(hay, s) => phone_context(hay, s),
        _ => None,
    }
}

/// `\+[0-9][0-9 ().-]{6,20}[0-9]`
fn phone_e164(hay: &[u8], s: usize) -> Option<usize> {
    if !digit(at(hay, s + 1)) {
        return None;
    }
    run_ending_in(
        hay,
        s + 2,
        6,
        20,
        |b| digit(b) || matches!(b, b' ' | b'(' | b')' | b'.' | b'-'),
        digit,
    )
}

/// `\([0-9]{2,5}\)[ .-]?[0-9]{2,4}[ .-]?[0-9]{3,7}(?:[ .-][0-9]{2,4})?`
fn phone_area(hay: &[u8], s: usize) -> Option<usize> {
    let area = run(hay, s + 1, 6, digit);
    if !((2..=5).contains(&area) && at(hay, s + 1 + area) == b')') {
        return None;
    }
    let mut i = s + 2 + area;
    i += usize::from(phone_sep(at(hay, i)));
    let exchange = run(hay, i, 4, digit);
    // `{2,4}` gives digits back when the next group needs them.
    (2..=exchange).rev().find_map(|a| {
        let mut j = i + a;
        j += usize::from(phone_sep(at(hay, j)));
        let line = run(hay, j, 7, digit);
        (line >= 3).then(|| {
            let end = j + line;
            let more = run(hay, end + 1, 4, digit);
            if phone_sep(at(hay, end)) && more >= 2 {
                end + 1 + more
            } else {
                end
            }
        })
    })
}

/// `\b[2-9][0-9]{2}[ .-][2-9][0-9]{2}[ .-][0-9]{4}`
fn phone_nanp(hay: &[u8], s: usize) -> Option<usize> {
    let exchange = s + 4;
    (run(hay, s + 1, 2, digit) == 2
        && phone_sep(at(hay, s + 3))
        && matches!(at(hay, exchange), b'2'..=b'9')
        && run(hay, exchange + 1, 2, digit) == 2)
        .then_some(exchange + 3)
        .and_then(|i| sep_digits(hay, i, phone_sep, 4))
}

/// `\b0[1-9][0-9]{0,3}[ .-]{1,2}[0-9]{2,4}(?:[ .-]?[0-9]{2,7})?(?:[ .-][0-9]{2,4}){0,2}`
fn phone_trunk(hay: &[u8], s: usize) -> Option<usize> {
    if !matches!(at(hay, s + 1), b'1'..=b'9') {
        return None;
    }
    let area = run(hay, s + 2, 4, digit);
    if area > 3 {
        return None;
    }
    let mut i = s + 2 + area;
    let seps = run(hay, i, 3, phone_sep);
    if !(1..=2).contains(&seps) {
        return None;
    }
    i += seps;
    let first = run(hay, i, 4, digit);
    if first < 2 {
        return None;
    }
    i += first;
    let sep = usize::from(phone_sep(at(hay, i)));
    let second = run(hay, i + sep, 7, digit);
    if second >= 2 {
        i += sep + second;
    }
    for _ in 0..2 {
        let more = run(hay, i + 1, 4, digit);
        if !(phone_sep(at(hay, i)) && more >= 2) {
            break;
        }
        i += 1 + more;
    }
    Some(i)
}

/// `\b00[1-9][0-9]{0,2}[ .-][0-9 .-]{6,16}[0-9]`
fn phone_intl(hay: &[u8], s: usize) -> Option<usize> {
    if !(at(hay, s + 1) == b'0' && matches!(at(hay, s + 2), b'1'..=b'9')) {
        return None;
    }
    let code = run(hay, s + 3, 3, digit);
    let sep = s + 3 + code;
    if code > 2 || !phone_sep(at(hay, sep)) {
        return None;
    }
    run_ending_in(hay, sep + 1, 6, 16, |b| digit(b) || phone_sep(b), digit)
}

/// The phone word `text` starts with (any case), if any. Asked of most words, so it
/// compares only the words that start with `text`'s first letter (no word of
/// [`PHONE_WORDS`] is a prefix of another, so at most one fits).
pub fn phone_word(text: &[u8]) -> Option<&'static [u8]> {
    // `| 0x20` lowercases an ASCII letter and makes no other byte one.
    let words: &[&'static [u8]] = match text.first()? | 0x20 {
        b'p' => &[b"phone"],
        b't' => &[b"tel"],
        b'm' => &[b"mobile"],
        b'c' => &[b"cell", b"call", b"contact"],
        b'f' => &[b"fax"],
        b's' => &[b"sms"],
        b'w' => &[b"whatsapp"],
        b'r' => &[b"reach"],
        _ => return None,
    };
    words.iter().copied().find(|w| starts_with_ci(text, 0, w))
}

/// `\b(?i:phone|tel|…)[^0-9@\n]{0,40}[0-9]{9,11}`
fn phone_context(hay: &[u8], s: usize) -> Option<usize> {
    let word = phone_word(hay.get(s..).unwrap_or_default())?;
    let gap = run(hay, s + word.len(), 41, |b| {
        !digit(b) && b != b'@' && b != b'\n'
    });
    if gap > 40 {
        return None;
    }
    bare_digits(hay, s + word.len() + gap)
}

/// `[,;|\t][ ]?[0-9]{9,11}`
fn phone_field(hay: &[u8], s: usize) -> Option<usize> {
    let i = s + 1;
    let space = at(hay, i) == b' ' && digit(at(hay, i + 1));
    bare_digits(hay, i + usize::from(space))
}

/// `[0-9]{9,11}` at `i`.
fn bare_digits(hay: &[u8], i: usize) -> Option<usize> {
    let n = run(hay, i, 11, digit);
    (n >= 9).then_some(i + n)
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
