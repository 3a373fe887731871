//! A streaming JSON walker: field rules by JSON Pointer, detectors on string values,
//! valid JSON out for valid JSON in, without ever holding the whole body.
//!
//! The walker keeps the path to the current value (member names and indexes), the
//! open containers and a few bytes of the current token. Dropping a member removes
//! its name, value and one comma, so the output stays valid. A string's escapes end a
//! detector segment: no mask ever cuts an escape in two. Numbers that hold a detected
//! value (a card number sent as a number) become strings with the mask, so the output
//! still parses. Invalid JSON is not repaired: from the first byte that cannot be JSON
//! the rest is masked as text.

use crate::action::Action;
use crate::names::CleanNames;
use crate::pointer::Pattern;
use crate::segment::{Masker, Segment, Tally, TextStream};

/// What a field rule does to the value at its pointer and everything inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Every string, number and boolean inside becomes the action's output.
    Mask(Action),
    /// Nothing inside is masked.
    Never,
    /// The member or element is removed.
    Drop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub pointer: Pattern,
    pub effect: Effect,
}

/// The deepest a document may nest before it is masked as text.
pub const MAX_DEPTH: usize = 256;
/// The longest member name matched against rules; a longer one is masked as text.
pub const MAX_KEY: usize = 4096;
/// The longest value a partial mask or pseudonym is computed over; a longer one gets
/// the placeholder `[REDACTED]`.
pub const MAX_VALUE: usize = 4096;
/// The longest number or literal.
const MAX_BARE: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Detectors run.
    Scan,
    /// Passed as it is (a `never` rule, or inside a dropped value).
    Keep,
    /// The rule at this index masks every scalar.
    Mask(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Key,
    Value(Mode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value may start, or an array end. (Only one that is empty or its last
    /// element complete: `close` refuses a trailing comma.)
    Value,
    /// A member name may start, or an object end (likewise).
    Key,
    Colon,
    After,
    Str(Role),
    Escape(Role),
    Unicode(Role, u8),
    Bare(Mode),
    Text,
}

#[derive(Debug, Clone)]
struct Frame {
    object: bool,
    mode: Mode,
    /// The current member's name or element's index.
    seg: Vec<u8>,
    next_index: usize,
    /// Members or elements written out so far (a comma goes before the next).
    written: usize,
    /// The current member's name says its value is a phone number (read once per
    /// name, not per value).
    phone: bool,
}

/// The walker's state between chunks.
#[derive(Debug, Clone)]
pub struct JsonStream {
    state: State,
    stack: Vec<Frame>,
    /// Depth of a value being dropped: nothing is written until it ends.
    skip: Option<usize>,
    /// A comma and whitespace after a value, written only if a kept one follows.
    sep: Vec<u8>,
    /// The whitespace before a container's first member or element when that one was
    /// dropped: what the first kept one gets instead of the dropped one's comma.
    lead: Option<Vec<u8>>,
    key: Vec<u8>,
    /// The rule of the member whose name was just read.
    member_rule: Option<usize>,
    /// The string value being read is named like a phone number (until its first
    /// escape).
    value_hint: bool,
    bare: Vec<u8>,
    value: Vec<u8>,
    segment: Segment,
    text: TextStream,
    names: CleanNames,
    /// Rounds of the walker's loop so far (tests see that runs are taken in one).
    #[cfg(test)]
    rounds: usize,
    /// Strings masked where they lie, without a segment (tests see that they are).
    #[cfg(test)]
    in_place: usize,
}

impl Default for JsonStream {
    fn default() -> Self {
        Self {
            state: State::Value,
            stack: Vec::new(),
            skip: None,
            sep: Vec::new(),
            lead: None,
            key: Vec::new(),
            member_rule: None,
            value_hint: false,
            bare: Vec::new(),
            value: Vec::new(),
            segment: Segment::default(),
            text: TextStream::default(),
            names: CleanNames::default(),
            #[cfg(test)]
            rounds: 0,
            #[cfg(test)]
            in_place: 0,
        }
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// How many whitespace bytes `data` starts with.
fn ws_len(data: &[u8]) -> usize {
    data.iter().take_while(|&&b| is_ws(b)).count()
}

fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

/// A JSON literal or number (RFC 8259: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`).
fn valid_bare(t: &[u8]) -> bool {
    if matches!(t, b"true" | b"false" | b"null") {
        return true;
    }
    let digits = |i: usize| {
        t.get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut i = usize::from(t.first() == Some(&b'-'));
    match t.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(i),
        _ => return false,
    }
    if t.get(i) == Some(&b'.') {
        let n = digits(i + 1);
        if n == 0 {
            return false;
        }
        i += 1 + n;
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(t.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(i);
        if n == 0 {
            return false;
        }
        i += n;
    }
    i == t.len()
}

/// The content of a string up to (not including) its next `"` or `\`.
fn run_len(data: &[u8]) -> usize {
    crate::scan::find2(data, b'"', b'\\').unwrap_or(data.len())
}

pub struct Ctx<'a> {
    pub masker: &'a Masker,
    pub rules: &'a [Rule],
}

impl JsonStream {
    /// Whether the walker gave up on JSON and masks the rest as text.
    pub fn is_text(&self) -> bool {
        matches!(self.state, State::Text)
    }

    /// Bytes held back (the current segment or token).
    pub fn held(&self) -> usize {
        self.segment.held() + self.key.len() + self.bare.len() + self.value.len() + self.text.held()
    }

    fn emit(&self, out: &mut Vec<u8>, bytes: &[u8]) {
        if self.skip.is_none() {
            out.extend_from_slice(bytes);
        }
    }

    /// Whether the current value's member name says it is a phone number.
    fn phone_hint(&self) -> bool {
        self.stack.last().is_some_and(|f| f.object && f.phone)
    }

    fn inherited(&self) -> Mode {
        self.stack.last().map_or(Mode::Scan, |f| f.mode)
    }

    /// The first rule whose pointer matches the current path. Inside a dropped value
    /// the answer is not used (all of it is dropped), and not worth a test per value.
    // Inlined: without rules, as in most configs, this is one test per value.
    #[inline]
    fn own_rule(&self, rules: &[Rule]) -> Option<usize> {
        if rules.is_empty() {
            return None;
        }
        let path: Vec<&[u8]> = self.stack.iter().map(|f| f.seg.as_slice()).collect();
        rules.iter().position(|r| r.pointer.matches(&path))
    }

    /// A member or element is dropped: its separator goes with it.
    fn dropping(&mut self) {
        let sep = std::mem::take(&mut self.sep);
        if self.lead.is_none() && self.stack.last().is_some_and(|f| f.written == 0) {
            self.lead = Some(sep.into_iter().filter(|&b| b != b',').collect());
        }
    }

    /// Writes the pending separator before a kept member or element. (The buffer is
    /// cleared, not taken: it keeps its capacity for the next one.)
    fn write_sep(&mut self, out: &mut Vec<u8>) {
        // (At the top level nothing waits here: whitespace there is written at once.)
        if let Some(f) = self.stack.last_mut()
            && self.skip.is_none()
        {
            if f.written > 0 {
                out.extend_from_slice(&self.sep);
            } else if let Some(lead) = self.lead.take() {
                out.extend_from_slice(&lead);
            } else {
                out.extend(self.sep.iter().filter(|&&b| b != b','));
            }
            f.written += 1;
        }
        self.sep.clear();
    }

    fn whitespace(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.stack.is_empty() {
            self.emit(out, &[b]);
        } else {
            self.sep.push(b);
        }
    }

    /// After a member's name: takes the whitespace, the colon and the whitespace after
    /// it that usually follow at once, as the colon and value states would (where
    /// both write whitespace straight out). Gives how many bytes of `rest` it took.
    fn colon(&mut self, rest: &[u8], out: &mut Vec<u8>) -> usize {
        let Some((b':', after)) = rest.get(ws_len(rest)..).and_then(<[u8]>::split_first) else {
            return 0;
        };
        let taken = rest.len() - after.len() + ws_len(after);
        self.emit(out, rest.get(..taken).unwrap_or_default());
        self.state = State::Value;
        taken
    }

    /// A value starts with `b` (not yet consumed).
    fn begin_value(&mut self, cx: &Ctx<'_>, b: u8, out: &mut Vec<u8>) -> Result<(), ()> {
        let depth = self.stack.len();
        let rule = match self.stack.last_mut() {
            Some(f) if f.object => self.member_rule.take(),
            Some(f) => {
                // The index is only ever matched against rules: no text without them.
                if !cx.rules.is_empty() {
                    f.seg.clear();
                    f.seg.extend_from_slice(f.next_index.to_string().as_bytes());
                }
                f.next_index += 1;
                self.own_rule(cx.rules)
            }
            None => self.own_rule(cx.rules),
        };
        let is_member = self.stack.last().is_some_and(|f| f.object);
        let effect = rule.and_then(|i| cx.rules.get(i)).map(|r| &r.effect);
        if !is_member {
            if effect == Some(&Effect::Drop) && self.skip.is_none() {
                self.dropping();
                self.skip = Some(depth);
            } else {
                self.write_sep(out);
            }
        }
        let mode = if self.skip.is_some() {
            Mode::Keep
        } else {
            match (rule, effect) {
                (Some(i), Some(Effect::Mask(_))) => Mode::Mask(i),
                (Some(_), Some(Effect::Never)) => Mode::Keep,
                _ => self.inherited(),
            }
        };
        match b {
            b'"' => {
                self.emit(out, b"\"");
                self.value_hint = self.phone_hint();
                if let Mode::Mask(i) = mode
                    && let Some(Rule {
                        effect: Effect::Mask(a),
                        ..
                    }) = cx.rules.get(i)
                    && !a.needs_value()
                    && self.skip.is_none()
                {
                    a.apply(None, b"", &cx.masker.key, out);
                }
                self.value.clear();
                self.state = State::Str(Role::Value(mode));
            }
            b'{' | b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(());
                }
                self.emit(out, &[b]);
                self.lead = None;
                self.stack.push(Frame {
                    object: b == b'{',
                    mode,
                    seg: Vec::new(),
                    next_index: 0,
                    written: 0,
                    phone: false,
                });
                self.state = if b == b'{' { State::Key } else { State::Value };
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                self.bare.clear();
                self.state = State::Bare(mode);
                return Ok(());
            }
            _ => return Err(()),
        }
        Ok(())
    }

    /// The value at the current depth ended.
    fn end_value(&mut self) {
        if self.skip == Some(self.stack.len()) {
            self.skip = None;
        }
        self.state = State::After;
    }

    fn close(&mut self, b: u8, out: &mut Vec<u8>) -> Result<(), ()> {
        let Some(f) = self.stack.last() else {
            return Err(());
        };
        if f.object != (b == b'}') {
            return Err(());
        }
        if self.sep.contains(&b',') {
            return Err(()); // a trailing comma
        }
        self.lead = None;
        if self.skip.is_none() {
            out.extend_from_slice(&self.sep);
            out.push(b);
        }
        self.sep.clear();
        self.stack.pop();
        self.end_value();
        Ok(())
    }

    /// A member name ended: `name` is all of it, escapes as written.
    fn key_done(&mut self, cx: &Ctx<'_>, name: &[u8], out: &mut Vec<u8>, tally: &mut Tally) {
        let clean = self.names.get(name);
        let phone = clean.unwrap_or_else(|| crate::validate::phone_member(name));
        if let Some(f) = self.stack.last_mut() {
            // The name is only ever matched against rules: not kept without them.
            if !cx.rules.is_empty() {
                f.seg.clear();
                f.seg.extend_from_slice(name);
            }
            f.phone = phone;
        }
        let rule = self.own_rule(cx.rules);
        let drop = rule
            .and_then(|i| cx.rules.get(i))
            .is_some_and(|r| r.effect == Effect::Drop);
        if drop && self.skip.is_none() {
            self.dropping();
            self.skip = Some(self.stack.len());
        } else {
            self.write_sep(out);
        }
        if self.skip.is_none() {
            out.push(b'"');
            if clean.is_some() {
                out.extend_from_slice(name);
            } else {
                let found = tally.total();
                mask_raw_string(cx.masker, name, out, tally);
                // Nothing matched, so the name went out as it is (only a counted
                // replacement changes bytes; one that happens to equal its value is
                // counted too): the next time, it is copied.
                if self.names.missed() && tally.total() == found {
                    self.names.put(name, phone);
                }
            }
            out.push(b'"');
        }
        self.member_rule = rule;
        self.state = State::Colon;
    }

    fn bare_done(
        &mut self,
        cx: &Ctx<'_>,
        mode: Mode,
        out: &mut Vec<u8>,
        tally: &mut Tally,
    ) -> Result<(), ()> {
        if !valid_bare(&self.bare) {
            return Err(());
        }
        let bare = std::mem::take(&mut self.bare);
        if self.skip.is_none() {
            match mode {
                Mode::Keep => out.extend_from_slice(&bare),
                _ if bare == b"null" => out.extend_from_slice(&bare),
                Mode::Mask(i) => {
                    out.push(b'"');
                    if let Some(Rule {
                        effect: Effect::Mask(a),
                        ..
                    }) = cx.rules.get(i)
                    {
                        a.apply(None, &bare, &cx.masker.key, out);
                    }
                    out.push(b'"');
                }
                Mode::Scan => {
                    // Masked in place; quoted only if something was masked.
                    let from = out.len();
                    cx.masker.mask_all(&bare, self.phone_hint(), out, tally);
                    if out.get(from..) != Some(bare.as_slice()) {
                        out.insert(from, b'"');
                        out.push(b'"');
                    }
                }
            }
        }
        self.bare = bare;
        self.bare.clear();
        self.end_value();
        Ok(())
    }

    /// String content (no quote, no backslash) of a value in `mode`.
    fn content(
        &mut self,
        cx: &Ctx<'_>,
        mode: Mode,
        run: &[u8],
        out: &mut Vec<u8>,
        tally: &mut Tally,
    ) {
        if self.skip.is_some() {
            return;
        }
        match mode {
            Mode::Scan => {
                if self.segment.is_fresh() {
                    self.segment.hint(std::mem::take(&mut self.value_hint));
                }
                self.segment.push(cx.masker, run, out, tally);
            }
            Mode::Keep => out.extend_from_slice(run),
            Mode::Mask(i) => {
                if needs_value(cx, i) && self.value.len() <= MAX_VALUE {
                    self.value.extend_from_slice(run);
                }
            }
        }
    }

    /// Escape bytes (the backslash included) of a value in `mode`.
    fn escape(
        &mut self,
        cx: &Ctx<'_>,
        mode: Mode,
        bytes: &[u8],
        out: &mut Vec<u8>,
        tally: &mut Tally,
    ) {
        if self.skip.is_some() {
            return;
        }
        match mode {
            Mode::Scan => {
                self.segment.end(cx.masker, out, tally);
                self.value_hint = false;
                out.extend_from_slice(bytes);
            }
            Mode::Keep => out.extend_from_slice(bytes),
            Mode::Mask(_) => self.content(cx, mode, bytes, out, tally),
        }
    }

    fn string_done(&mut self, cx: &Ctx<'_>, mode: Mode, out: &mut Vec<u8>, tally: &mut Tally) {
        if self.skip.is_none() {
            match mode {
                Mode::Scan => self.segment.end(cx.masker, out, tally),
                Mode::Keep => {}
                Mode::Mask(i) => {
                    if let Some(Rule {
                        effect: Effect::Mask(a),
                        ..
                    }) = cx.rules.get(i)
                        && a.needs_value()
                    {
                        if self.value.len() <= MAX_VALUE {
                            a.apply(None, &self.value, &cx.masker.key, out);
                        } else {
                            out.extend_from_slice(b"[REDACTED]");
                        }
                    }
                    self.value.clear();
                }
            }
            out.push(b'"');
        }
        self.end_value();
    }

    /// Walks `data`, writing the masked JSON to `out`.
    pub fn push(&mut self, cx: &Ctx<'_>, data: &[u8], out: &mut Vec<u8>, tally: &mut Tally) {
        // Each round consumes a byte, or changes state without consuming one (a bare
        // token's end, a new document, a value's start): at most three such in a row.
        let rounds = data.len().saturating_mul(4).saturating_add(16);
        self.push_bounded(cx, data, out, tally, rounds);
    }

    /// `push` in at most `rounds` rounds of the walker. Enough rounds are always given;
    /// if they were not, the rest would be masked as text, not dropped.
    fn push_bounded(
        &mut self,
        cx: &Ctx<'_>,
        data: &[u8],
        out: &mut Vec<u8>,
        tally: &mut Tally,
        rounds: usize,
    ) {
        let mut i = 0;
        for _ in 0..rounds {
            let Some(&b) = data.get(i) else { return };
            #[cfg(test)]
            {
                self.rounds += 1;
            }
            let step = match self.state {
                State::Text => {
                    self.text
                        .push(cx.masker, data.get(i..).unwrap_or_default(), out, tally);
                    return;
                }
                State::Value => {
                    if is_ws(b) {
                        // After a member's colon whitespace belongs to the member;
                        // between elements it waits with the comma.
                        if self.stack.last().is_some_and(|f| f.object) {
                            self.emit(out, &[b]);
                        } else {
                            self.whitespace(b, out);
                        }
                        Ok(1)
                    } else if b == b']' {
                        self.close(b, out).map(|()| 1)
                    } else {
                        self.begin_value(cx, b, out)
                            .map(|()| usize::from(!matches!(self.state, State::Bare(_))))
                    }
                }
                State::Key => match b {
                    _ if is_ws(b) => {
                        self.whitespace(b, out);
                        Ok(1)
                    }
                    b'"' => {
                        self.key.clear();
                        self.state = State::Str(Role::Key);
                        Ok(1)
                    }
                    b'}' => self.close(b, out).map(|()| 1),
                    _ => Err(()),
                },
                State::Colon => match b {
                    _ if is_ws(b) => {
                        self.emit(out, &[b]);
                        Ok(1)
                    }
                    b':' => {
                        self.emit(out, b":");
                        self.state = State::Value;
                        Ok(1)
                    }
                    _ => Err(()),
                },
                State::After => match (b, self.stack.last().map(|f| f.object)) {
                    (_, _) if is_ws(b) => {
                        self.whitespace(b, out);
                        Ok(1)
                    }
                    (b',', Some(object)) => {
                        self.sep.push(b',');
                        // The whitespace and the next name's quote usually follow at
                        // once: taken here, as their own states would take them.
                        let rest = data.get(i + 1..).unwrap_or_default();
                        let ws = ws_len(rest);
                        self.sep
                            .extend_from_slice(rest.get(..ws).unwrap_or_default());
                        if object && rest.get(ws) == Some(&b'"') {
                            self.key.clear();
                            self.state = State::Str(Role::Key);
                            Ok(ws + 2)
                        } else {
                            self.state = if object { State::Key } else { State::Value };
                            Ok(ws + 1)
                        }
                    }
                    (b']' | b'}', Some(_)) => self.close(b, out).map(|()| 1),
                    // Another document (JSON Lines, concatenated JSON).
                    (_, None) => {
                        self.state = State::Value;
                        Ok(0)
                    }
                    _ => Err(()),
                },
                State::Str(role) => {
                    let rest = data.get(i..).unwrap_or_default();
                    let n = run_len(rest);
                    let run = rest.get(..n).unwrap_or_default();
                    match role {
                        Role::Key => {
                            if self.key.len() + run.len() > MAX_KEY {
                                Err(())
                            } else {
                                // A whole name in this chunk is read where it is; only
                                // one cut by an escape or the chunk's end is gathered.
                                if !(self.key.is_empty() && rest.get(n) == Some(&b'"')) {
                                    self.key.extend_from_slice(run);
                                }
                                Ok(n)
                            }
                        }
                        // A whole string (or the rest after an escape) in this chunk:
                        // masked in place, nothing held.
                        Role::Value(Mode::Scan)
                            if self.skip.is_none()
                                && self.segment.is_fresh()
                                && rest.get(n).is_some() =>
                        {
                            #[cfg(test)]
                            {
                                self.in_place += 1;
                            }
                            let hint = std::mem::take(&mut self.value_hint);
                            cx.masker.mask_all(run, hint, out, tally);
                            Ok(n)
                        }
                        Role::Value(mode) => {
                            self.content(cx, mode, run, out, tally);
                            Ok(n)
                        }
                    }
                    .map(|n| match rest.get(n) {
                        Some(b'"') => {
                            match role {
                                Role::Key if self.key.is_empty() => {
                                    self.key_done(cx, run, out, tally);
                                }
                                Role::Key => {
                                    let name = std::mem::take(&mut self.key);
                                    self.key_done(cx, &name, out, tally);
                                    // (Kept for its capacity.)
                                    self.key = name;
                                    self.key.clear();
                                }
                                Role::Value(mode) => self.string_done(cx, mode, out, tally),
                            }
                            let taken = n + 1;
                            if matches!(self.state, State::Colon) {
                                taken + self.colon(data.get(i + taken..).unwrap_or_default(), out)
                            } else {
                                taken
                            }
                        }
                        Some(_) => {
                            match role {
                                Role::Key => self.key.push(b'\\'),
                                Role::Value(mode) => self.escape(cx, mode, b"\\", out, tally),
                            }
                            self.state = State::Escape(role);
                            n + 1
                        }
                        None => n,
                    })
                }
                State::Escape(role) | State::Unicode(role, _) => {
                    let next = match self.state {
                        State::Unicode(_, 1) => State::Str(role),
                        State::Unicode(_, left) => State::Unicode(role, left - 1),
                        _ if b == b'u' => State::Unicode(role, 4),
                        _ => State::Str(role),
                    };
                    if matches!(self.state, State::Unicode(..)) && !b.is_ascii_hexdigit() {
                        Err(())
                    } else {
                        match role {
                            Role::Key => self.key.push(b),
                            Role::Value(mode) => match mode {
                                Mode::Scan | Mode::Keep => self.emit(out, &[b]),
                                Mode::Mask(_) => self.content(cx, mode, &[b], out, tally),
                            },
                        }
                        self.state = next;
                        Ok(1)
                    }
                }
                State::Bare(mode) => {
                    let rest = data.get(i..).unwrap_or_default();
                    let n = rest.iter().take_while(|&&b| is_bare(b)).count();
                    if n == 0 {
                        self.bare_done(cx, mode, out, tally).map(|()| 0)
                    } else if self.bare.len() + n > MAX_BARE {
                        Err(())
                    } else {
                        self.bare
                            .extend_from_slice(rest.get(..n).unwrap_or_default());
                        Ok(n)
                    }
                }
            };
            match step {
                Ok(n) => i += n,
                Err(()) => {
                    self.give_up(cx, out, tally);
                    // The byte that broke JSON is masked as text, with the rest.
                }
            }
        }
        if let Some(rest) = data.get(i..)
            && !rest.is_empty()
        {
            self.give_up(cx, out, tally);
            self.text.push(cx.masker, rest, out, tally);
        }
    }

    /// Ends the body: a token still open is finished as far as it can be.
    pub fn finish(&mut self, cx: &Ctx<'_>, out: &mut Vec<u8>, tally: &mut Tally) {
        match self.state {
            State::Bare(mode) => {
                let done = self.bare_done(cx, mode, out, tally);
                if done.is_err() {
                    self.give_up(cx, out, tally);
                }
            }
            State::Str(_) | State::Escape(_) | State::Unicode(..) | State::Key | State::Colon => {
                self.give_up(cx, out, tally);
            }
            _ => {}
        }
        if matches!(self.state, State::Text) {
            self.text.finish(cx.masker, out, tally);
        } else if !self.sep.is_empty() {
            let sep = std::mem::take(&mut self.sep);
            self.emit(out, &sep);
        }
    }

    /// From here on the body is masked as text: whatever is half read is masked and
    /// written first.
    fn give_up(&mut self, cx: &Ctx<'_>, out: &mut Vec<u8>, tally: &mut Tally) {
        let m = cx.masker;
        self.segment.end(m, out, tally);
        let sep = std::mem::take(&mut self.sep);
        out.extend_from_slice(&sep);
        if let State::Str(Role::Key) | State::Escape(Role::Key) | State::Unicode(Role::Key, _) =
            self.state
        {
            out.push(b'"');
            let key = std::mem::take(&mut self.key);
            m.mask_all(&key, false, out, tally);
        }
        if !self.bare.is_empty() {
            let bare = std::mem::take(&mut self.bare);
            m.mask_all(&bare, false, out, tally);
        }
        if !self.value.is_empty() {
            self.value.clear();
            out.extend_from_slice(b"[REDACTED]");
        }
        self.skip = None;
        self.stack.clear();
        self.state = State::Text;
    }
}

fn needs_value(cx: &Ctx<'_>, i: usize) -> bool {
    matches!(cx.rules.get(i), Some(Rule { effect: Effect::Mask(a), .. }) if a.needs_value())
}

/// Masks a JSON string's raw content (escapes as written) whole: escapes end
/// segments, so no mask cuts one.
pub fn mask_raw_string(m: &Masker, raw: &[u8], out: &mut Vec<u8>, tally: &mut Tally) {
    let mut rest = raw;
    // Each round takes an escape (at least two bytes) or ends.
    while !rest.is_empty() {
        let n = rest.iter().position(|&b| b == b'\\').unwrap_or(rest.len());
        let (text, escape) = rest.split_at_checked(n).unwrap_or_default();
        m.mask_all(text, false, out, tally);
        let len = if escape.get(1) == Some(&b'u') { 6 } else { 2 };
        let (escape, after) = escape
            .split_at_checked(len)
            .unwrap_or((escape, Default::default()));
        out.extend_from_slice(escape);
        rest = after;
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
