//! The checks that tell a real value from a lookalike, run only on the candidates the
//! multi-pattern scan found. Each takes the whole buffer (so it can look at the bytes
//! around a candidate) and the candidate's span, and gives the span to mask, which
//! may be shorter than the candidate (a card followed by a year) or, for tokens the
//! pattern only anchors (JWTs, bearer tokens), longer.

use base64::Engine as _;

/// The span to mask, `start..end` in the buffer.
pub type Span = (usize, usize);

fn at(hay: &[u8], i: usize) -> u8 {
    hay.get(i).copied().unwrap_or(b' ')
}

fn before(hay: &[u8], start: usize) -> u8 {
    start.checked_sub(1).map_or(b' ', |i| at(hay, i))
}

/// `hay[start..end]`, cut at the end of `hay`.
fn slice(hay: &[u8], start: usize, end: usize) -> &[u8] {
    hay.get(start..end.min(hay.len())).unwrap_or_default()
}

/// Whether a value may end at `e`: no letter or digit follows, nor one of `joiners`
/// with a digit after it (`4111111111111111.5`, `415-555-2671-22`).
fn ends_cleanly(hay: &[u8], e: usize, joiners: &[u8]) -> bool {
    let next = at(hay, e);
    !(next.is_ascii_alphanumeric() || joiners.contains(&next) && at(hay, e + 1).is_ascii_digit())
}

/// What joins a phone number's digits to more digits.
const PHONE_JOINERS: &[u8] = b"-./,:";

/// Whether the candidate continues a longer run of digit groups (`… 3704 0044`): a
/// number cut out of another is not a value of its own.
fn continues_digits(hay: &[u8], start: usize) -> bool {
    matches!(before(hay, start), b' ' | b'-' | b'.')
        && start >= 2
        && at(hay, start - 2).is_ascii_digit()
}

/// The decimal digits of a candidate, without allocating: the first [`Digits::CAP`]
/// kept, all counted (no value checked here has more than 24 digits, so a longer one
/// fails on its length).
struct Digits {
    kept: [u8; Digits::CAP],
    count: usize,
}

impl Digits {
    const CAP: usize = 24;

    fn of(bytes: &[u8]) -> Digits {
        let mut d = Digits {
            kept: [0; Digits::CAP],
            count: 0,
        };
        for &b in bytes.iter().filter(|b| b.is_ascii_digit()) {
            if let Some(slot) = d.kept.get_mut(d.count) {
                *slot = b - b'0';
            }
            d.count += 1;
        }
        d
    }

    fn as_slice(&self) -> &[u8] {
        self.kept
            .get(..self.count.min(Digits::CAP))
            .unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.count
    }

    fn get(&self, i: usize) -> Option<u8> {
        self.as_slice().get(i).copied()
    }
}

/// Whether the bytes of `text` that are not digits (nor `ignored`) are all one kind of
/// separator.
fn one_separator(text: &[u8], ignored: &[u8]) -> bool {
    let mut seps = text
        .iter()
        .filter(|b| !b.is_ascii_digit() && !ignored.contains(b));
    let first = seps.next();
    seps.all(|b| Some(b) == first)
}

/// The Luhn checksum (ISO/IEC 7812-1) over decimal digits.
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                // The doubled digit's own digits, summed (18 gives 9).
                let x = d * 2;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

fn number(digits: &[u8], n: usize) -> u32 {
    digits
        .iter()
        .take(n)
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
}

/// Whether a card number's issuer prefix allows its length (the networks' published
/// IIN ranges).
pub fn card_network_fits(d: &[u8]) -> bool {
    let len = d.len();
    let p1 = number(d, 1);
    let p2 = number(d, 2);
    let p3 = number(d, 3);
    let p4 = number(d, 4);
    let visa = p1 == 4 && matches!(len, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16;
    let amex = (p2 == 34 || p2 == 37) && len == 15;
    let diners =
        ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && (14..=19).contains(&len);
    // JCB: 35 (3528-3589 assigned; issuers' test data uses all of 35), and the old
    // 15-digit 2131 and 1800.
    let jcb = p2 == 35 && (16..=19).contains(&len) || (p4 == 2131 || p4 == 1800) && len == 15;
    // Maestro: 50, 56-69 (and 6304, 6759, 6761-6763), 12 to 19 digits. Its range
    // holds Discover (6011, 644-649, 65, 622126-622925) and UnionPay (62), both 16 to
    // 19 digits, so they need no test of their own.
    let maestro = (p2 == 50 || (56..=69).contains(&p2)) && (12..=19).contains(&len);
    visa || mastercard || amex || diners || jcb || maestro
}

/// A payment card: 13 to 19 digits in groups, Luhn-valid, with a network's prefix
/// and length. Tries the longest run of whole groups first, so a card followed by a
/// year or a quantity is still found.
pub fn card(hay: &[u8], start: usize, end: usize) -> Option<Span> {
    if before(hay, start).is_ascii_alphanumeric() || continues_digits(hay, start) {
        return None;
    }
    group_ends(hay, start, end).find_map(|e| {
        let text = slice(hay, start, e);
        let d = Digits::of(text);
        let clean_end = ends_cleanly(hay, e, b".,");
        // One kind of separator: "4111-1111 1111.1111" is not how cards are written.
        ((12..=19).contains(&d.len())
            && clean_end
            && one_separator(text, b"")
            && luhn(d.as_slice())
            && card_network_fits(d.as_slice()))
        .then_some((start, e))
    })
}

/// IBAN lengths by country (ISO 13616 registry, SWIFT release 2024).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// The IBAN check (ISO 7064 mod 97-10) over the characters, spaces removed.
pub fn iban_checksum(chars: &[u8]) -> bool {
    if chars.len() < 5 {
        return false;
    }
    let (head, tail) = chars.split_at(4);
    let mut rem: u32 = 0;
    for &c in tail.iter().chain(head) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// An IBAN: a known country, its exact length, mod-97; printed with or without
/// groups of four.
pub fn iban(hay: &[u8], start: usize, end: usize) -> Option<Span> {
    if before(hay, start).is_ascii_alphanumeric() {
        return None;
    }
    let text = slice(hay, start, end);
    let country = text.get(..2)?;
    let len = IBAN_LENGTHS
        .iter()
        .find(|(c, _)| c.as_slice() == country)
        .map(|&(_, l)| l)?;
    // The longest IBAN has 34 characters.
    let mut chars = [0u8; 34];
    let mut n = 0;
    let mut stop = None;
    for (i, &b) in text.iter().enumerate() {
        if b == b' ' {
            continue;
        }
        *chars.get_mut(n)? = b;
        n += 1;
        if n == len {
            stop = Some(start + i + 1);
            break;
        }
    }
    let stop = stop?;
    (!at(hay, stop).is_ascii_alphanumeric() && iban_checksum(chars.get(..n)?))
        .then_some((start, stop))
}

/// A US Social Security number written `AAA-GG-SSSS` (or with spaces): never area
/// 000, 666 or 900-999, group 00 or serial 0000 (SSA's rules since 2011).
pub fn ssn(hay: &[u8], start: usize, end: usize) -> Option<Span> {
    if before(hay, start).is_ascii_alphanumeric()
        || matches!(before(hay, start), b'-' | b'.')
        || continues_digits(hay, start)
    {
        return None;
    }
    let next = at(hay, end);
    if next.is_ascii_alphanumeric()
        || (matches!(next, b'-' | b'.') && at(hay, end + 1).is_ascii_digit())
    {
        return None;
    }
    let text = slice(hay, start, end);
    let sep = *text.get(3)?;
    if text.get(6) != Some(&sep) {
        return None;
    }
    let d = Digits::of(text);
    let d = d.as_slice();
    let area = number(d, 3);
    let group = number(d.get(3..)?, 2);
    let serial = number(d.get(5..)?, 4);
    (area != 0 && area != 666 && area < 900 && group != 0 && serial != 0).then_some((start, end))
}

fn ip_edge_ok(hay: &[u8], start: usize, end: usize) -> bool {
    let prev = before(hay, start);
    let next = at(hay, end);
    !(prev.is_ascii_alphanumeric() || prev == b'.' || prev == b':' || prev == b'_')
        && !(next.is_ascii_alphanumeric() || next == b'_' || next == b':')
        && !(next == b'.' && at(hay, end + 1).is_ascii_alphanumeric())
}

/// An IPv4 address in dotted-quad form: four octets up to 255, no leading zeros, not
/// part of a longer dotted number (a version such as `1.2.3.4.5`); a port may follow.
pub fn ipv4(hay: &[u8], start: usize, end: usize) -> Option<Span> {
    let prev = before(hay, start);
    let next = at(hay, end);
    if prev.is_ascii_alphanumeric()
        || matches!(prev, b'.' | b'_')
        || next.is_ascii_alphanumeric()
        || next == b'_'
        || (next == b'.' && at(hay, end + 1).is_ascii_alphanumeric())
    {
        return None;
    }
    let text = slice(hay, start, end);
    let mut octets = 0;
    let ok = text.split(|&b| b == b'.').all(|o| {
        octets += 1;
        !o.is_empty()
            && o.len() <= 3
            && (o.len() == 1 || o.first() != Some(&b'0'))
            && o.iter().all(u8::is_ascii_digit)
            && o.iter().fold(0u32, |v, &b| v * 10 + u32::from(b - b'0')) <= 255
    });
    (ok && octets == 4).then_some((start, end))
}

/// An IPv6 address as `std` parses it (any compressed form, embedded IPv4), with at
/// least two groups spelled out or `::` and one, so `::`, times and MAC addresses are
/// not masked.
pub fn ipv6(hay: &[u8], start: usize, end: usize) -> Option<Span> {
    if !ip_edge_ok(hay, start, end) {
        return None;
    }
    let text = std::str::from_utf8(slice(hay, start, end)).ok()?;
    let addr: std::net::Ipv6Addr = text.parse().ok()?;
    (!addr.is_unspecified() && text.bytes().any(|b| b.is_ascii_hexdigit())).then_some((start, end))
}

/// A phone number: `+` and 8 to 15 digits (E.164, with the usual separators; `00` as
/// the international prefix too), or a national number whose grouping shows it is one:
/// `(415) 555-2671`, `415-555-2671`, `415.555.2671`, `020 7946 0958`, `(0113) 4960123`.
/// Bare digit runs (`4155552671`, `07700900123`) are ids, amounts and timestamps far
/// more often than phones: the pattern takes them only after a word such as `phone`,
/// `tel` or `call` on the line (a JSON member named like a phone counts), or as a field
/// of a delimited record; then only the digits are masked, and only with a phone's
/// digits (NANP: area and exchange codes from 2; national: a trunk 0 then a non-zero
/// digit, 10 or 11 digits). The longest fitting prefix of a candidate that ends a digit
/// group is taken, so a date after a number stays; an extension (`x123`) may follow.
pub fn phone(hay: &[u8], start: usize, end: usize) -> Option<Span> {
    let first = at(hay, start);
    if first.is_ascii_alphabetic() || matches!(first, b',' | b';' | b'|' | b'\t') {
        // The context forms: the digits at the end of the match.
        let digits_start = end
            - slice(hay, start, end)
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_digit())
                .count();
        let ok = !before(hay, digits_start).is_ascii_alphanumeric()
            && ends_cleanly(hay, end, PHONE_JOINERS)
            && national(slice(hay, digits_start, end), true, false);
        return ok.then_some((digits_start, end));
    }
    let prev = before(hay, start);
    if prev.is_ascii_alphanumeric()
        || matches!(prev, b'+' | b'-' | b'.' | b'/' | b'_')
        || continues_digits(hay, start)
    {
        return None;
    }
    // The pattern may stop inside a digit group (`03949 8651|0`): finish the group.
    // (A longer run is another number: the groups before it are tried.)
    let tail = slice(hay, end, end + PHONE_TAIL + 1)
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let end = if tail > PHONE_TAIL { end } else { end + tail };
    group_ends(hay, start, end).find_map(|e| {
        let next = at(hay, e);
        let extension = next == b'x' && at(hay, e + 1).is_ascii_digit();
        let clean = extension || ends_cleanly(hay, e, PHONE_JOINERS);
        let text = slice(hay, start, e);
        let more_digits = next == b' ' && at(hay, e + 1).is_ascii_digit();
        let fits = if text.first() == Some(&b'+') {
            e164(text)
        } else {
            national(text, false, more_digits)
        };
        (clean && fits).then_some((start, e))
    })
}

/// The most digits a phone's last group may run past its pattern's match.
pub const PHONE_TAIL: usize = 8;

/// Whether a JSON member name says its value is a phone number.
pub fn phone_member(name: &[u8]) -> bool {
    // Every member name is asked: a word is compared only where its first letter
    // stands (`| 0x20` lowercases a letter and makes no other byte one).
    let is = |i: usize, w: &[u8]| crate::scan::starts_with_ci(name, i, w);
    is(0, b"tel")
        || name.iter().enumerate().any(|(i, &b)| match b | 0x20 {
            b'p' => is(i, b"phone"),
            b'm' => is(i, b"mobile") || is(i, b"msisdn"),
            b'f' => is(i, b"fax"),
            b'c' => is(i, b"cell"),
            _ => false,
        })
}

/// The ends of the candidate's digit groups, longest first.
fn group_ends(hay: &[u8], start: usize, end: usize) -> impl Iterator<Item = usize> + '_ {
    let text = slice(hay, start, end);
    (0..text.len()).rev().filter_map(move |i| {
        let ends_group = text.get(i).is_some_and(u8::is_ascii_digit)
            && !text.get(i + 1).is_some_and(u8::is_ascii_digit);
        ends_group.then_some(start + i + 1)
    })
}

/// `+` and 8 to 15 digits; a country code never starts with 0. A national trunk
/// `(0)` after the country code (`+44(0)7700 900123`) is not counted.
fn e164(text: &[u8]) -> bool {
    let trunk = text.windows(3).any(|w| w == b"(0)");
    let d = Digits::of(text);
    let n = d.len() - usize::from(trunk);
    (8..=15).contains(&n) && d.get(0) != Some(0)
}

/// The digit groups of a candidate: how many, the lengths of the first eight, the
/// shortest.
struct Groups {
    lens: [usize; 8],
    count: usize,
    shortest: usize,
}

impl Groups {
    fn of(text: &[u8]) -> Groups {
        let mut g = Groups {
            lens: [0; 8],
            count: 0,
            shortest: usize::MAX,
        };
        for group in text
            .split(|b| !b.is_ascii_digit())
            .filter(|g| !g.is_empty())
        {
            if let Some(slot) = g.lens.get_mut(g.count) {
                *slot = group.len();
            }
            g.count += 1;
            g.shortest = g.shortest.min(group.len());
        }
        g
    }

    /// The lengths, when there are at most eight groups (more fit no shape below).
    fn lens(&self) -> &[usize] {
        self.lens.get(..self.count).unwrap_or_default()
    }
}

fn national(text: &[u8], context: bool, more_digits: bool) -> bool {
    let d = Digits::of(text);
    let groups = Groups::of(text);
    let lens = groups.lens();
    let parens = text.first() == Some(&b'(');
    // One kind of separator (after an optional area code in parentheses).
    let uniform = parens || one_separator(text, b"()");
    // Dates (`2024-05-17`, `17/05/2024`) have eight digits, which no shape below
    // takes.
    if !uniform {
        return false;
    }
    // `00` then a country code: an international number written the old way.
    if d.get(0) == Some(0) && d.get(1) == Some(0) && groups.count >= 3 {
        return !more_digits
            && (8..=13).contains(&(d.len() - 2))
            && d.get(2) != Some(0)
            && groups.lens.first().is_some_and(|l| (3..=5).contains(l));
    }
    let nanp_digits =
        d.len() == 10 && d.get(0).is_some_and(|a| a >= 2) && d.get(3).is_some_and(|x| x >= 2);
    let trunk_digits =
        d.get(0) == Some(0) && d.get(1).is_some_and(|a| a != 0) && (10..=11).contains(&d.len());
    if lens == [3, 2, 4] {
        return false; // the SSN shape
    }
    let has_seps = text
        .iter()
        .any(|b| !b.is_ascii_digit() && *b != b'(' && *b != b')');
    match lens {
        // (415) 555-2671, 415-555-2671, 415.555.2671
        [3, 3, 4] => nanp_digits || trunk_digits,
        // 020 7946 0958, 07700 900 123, 01 23 45 67 89
        _ if groups.count >= 3 => {
            trunk_digits || (d.get(0) == Some(0) && d.len() == 9 && groups.shortest >= 2)
        }
        // (0113) 4960123, 07700 900123, 0171 2345678: an area code, then the number
        [a, b] => {
            trunk_digits && (3..=5).contains(a) && *b >= 5 && (parens || has_seps)
                || context && trunk_digits
        }
        // Bare digits: only where the text says so.
        [_] => context && (nanp_digits || trunk_digits),
        _ => false,
    }
}

/// An email address (RFC 5321 sizes): a local part that does not start or end with a
/// dot and has no two in a row, a domain of labels that do not start or end with a
/// hyphen, and an alphabetic top-level domain.
pub fn email(hay: &[u8], start: usize, end: usize) -> Option<Span> {
    // A dot before is allowed: `john..doe@x.com` is not an address, but its tail is
    // masked rather than left whole.
    if matches!(before(hay, start), b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'%' | b'+' | b'-')
    {
        return None;
    }
    let text = slice(hay, start, end);
    let at_pos = text.iter().position(|&b| b == b'@')?;
    let (local, domain) = (text.get(..at_pos)?, text.get(at_pos + 1..)?);
    // The pattern may have taken a sentence's final dot.
    let domain = domain.strip_suffix(b".").unwrap_or(domain);
    let end = start + at_pos + 1 + domain.len();
    if local.first() == Some(&b'.')
        || local.last() == Some(&b'.')
        || local.windows(2).any(|w| w == b"..")
    {
        return None;
    }
    let mut labels = 0;
    let mut tld: &[u8] = &[];
    let labels_ok = domain.split(|&b| b == b'.').all(|l| {
        labels += 1;
        tld = l;
        !l.is_empty() && l.len() <= 63 && l.first() != Some(&b'-') && l.last() != Some(&b'-')
    });
    let ok = labels_ok
        && labels >= 2
        && domain.len() <= 253
        && tld.len() >= 2
        && tld.iter().all(u8::is_ascii_alphabetic);
    ok.then_some((start, end))
}

/// Where the run of bytes from `from` that `class` accepts ends, at most at `limit`.
fn run_end(hay: &[u8], from: usize, limit: usize, class: impl Fn(u8) -> bool) -> usize {
    from + crate::scan::run(hay, from, limit.saturating_sub(from), class)
}

fn b64url_run(hay: &[u8], from: usize, limit: usize) -> usize {
    run_end(hay, from, limit, crate::scan::b64url)
}

/// A JWT (JWS compact form): three base64url parts whose first decodes to a JSON
/// header naming an `alg`. The pattern only anchors on `eyJ`; this reads the token to
/// its end, at most `max` bytes.
pub fn jwt(hay: &[u8], start: usize, max: usize) -> Option<Span> {
    if matches!(before(hay, start), b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_') {
        return None;
    }
    let limit = (start + max).min(hay.len());
    let h_end = b64url_run(hay, start, limit);
    if at(hay, h_end) != b'.' {
        return None;
    }
    let p_end = b64url_run(hay, h_end + 1, limit);
    if p_end == h_end + 1 || at(hay, p_end) != b'.' {
        return None;
    }
    let s_end = b64url_run(hay, p_end + 1, limit);
    if s_end >= limit && limit < hay.len() {
        return None; // longer than any token we mask: leave it whole rather than cut it
    }
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(slice(hay, start, h_end))
        .ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    header.get("alg")?.as_str()?;
    Some((start, s_end))
}

/// The token after `Bearer ` (RFC 6750 `b64token`), 16 to `max` bytes: only the token
/// is masked, so logs still show the scheme.
pub fn bearer(hay: &[u8], start: usize, end: usize, max: usize) -> Option<Span> {
    if before(hay, start).is_ascii_alphanumeric() {
        return None;
    }
    let limit = (end + max).min(hay.len());
    let i = run_end(
        hay,
        end,
        limit,
        |b| matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'+' | b'/'),
    );
    let i = run_end(hay, i, limit, |b| b == b'=');
    (i - end >= 16 && !(i >= limit && limit < hay.len())).then_some((end, i))
}

/// The value of an HCP management `Authorization` echoed in a body:
/// `HCP base64(user):md5hex(password)`. The scheme stays, the credentials go.
pub fn hcp_authorization(hay: &[u8], start: usize, end: usize) -> Option<Span> {
    if before(hay, start).is_ascii_alphanumeric() || at(hay, end).is_ascii_alphanumeric() {
        return None;
    }
    let text = slice(hay, start, end);
    let colon = text.iter().rposition(|&b| b == b':')?;
    let user = text.get(4..colon)?;
    let ok = base64::engine::general_purpose::STANDARD
        .decode(user)
        .is_ok();
    ok.then_some((start + 4, end))
}

/// An AWS access key id (`AKIA…`, `ASIA…` and the other documented prefixes, 20
/// characters) on its own, not inside a longer word.
pub fn aws_key(hay: &[u8], start: usize, end: usize) -> Option<Span> {
    (!before(hay, start).is_ascii_alphanumeric() && !at(hay, end).is_ascii_alphanumeric())
        .then_some((start, end))
}

/// An AWS secret access key after its name (`aws_secret_access_key = …`): the 40
/// characters only.
pub fn aws_secret(hay: &[u8], start: usize, end: usize) -> Option<Span> {
    let key_start = end.checked_sub(40)?;
    (!before(hay, start).is_ascii_alphanumeric()
        && !at(hay, end).is_ascii_alphanumeric()
        && at(hay, end) != b'/'
        && at(hay, end) != b'+')
        .then_some((key_start, end))
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
