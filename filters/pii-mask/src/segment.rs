//! Masking one stretch of text that arrives in pieces: a line of a text body, or a
//! JSON string's content between escapes. Matches never cross a segment's end (no
//! detector matches a line feed, a quote or a backslash), so a segment is where text
//! stops being held back.
//!
//! Only bytes that can still be the start of an undecided match are held: at most the
//! detectors' window. Whatever is emitted is what masking the whole text emits.

use std::collections::BTreeMap;

use crate::action::{Action, PseudonymKey};
use crate::detect::{Cursor, Detector, Detectors, Found, Kind, Next};

/// The detectors and what each one's matches become.
#[derive(Debug, Clone)]
pub struct Masker {
    pub detectors: Detectors,
    /// By detector; a detector without one uses its kind's placeholder.
    pub actions: BTreeMap<DetectorKey, Action>,
    pub key: PseudonymKey,
}

/// An ordered key for [`Detector`].
pub type DetectorKey = (u8, usize);

pub fn detector_key(d: Detector) -> DetectorKey {
    match d {
        Detector::Builtin(k) => (0, k as usize),
        Detector::Custom(i) => (1, i),
    }
}

/// What masking saw: matches by detector, and bytes scanned (counted by the body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    matches: BTreeMap<DetectorKey, u64>,
    /// The sum of `matches`, kept as they are counted: the JSON walker asks for it
    /// around every member name it has not seen before.
    total: u64,
    pub bytes: u64,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Matches by detector.
    pub fn matches(&self) -> &BTreeMap<DetectorKey, u64> {
        &self.matches
    }

    fn count(&mut self, key: DetectorKey) {
        *self.matches.entry(key).or_default() += 1;
        self.total += 1;
    }
}

impl Masker {
    /// Appends the replacement of `found` (whose bytes are `value`) to `out`.
    pub fn replace(&self, found: Found, value: &[u8], out: &mut Vec<u8>, tally: &mut Tally) {
        let key = detector_key(found.detector);
        tally.count(key);
        let kind = match found.detector {
            Detector::Builtin(k) => Some(k),
            Detector::Custom(_) => None,
        };
        match self.actions.get(&key) {
            Some(a) => a.apply(kind, value, &self.key, out),
            None => crate::action::placeholder(kind.map_or("REDACTED", Kind::label), out),
        }
    }

    /// Masks a whole segment at once (`hint`: it is about phones).
    pub fn mask_all(&self, text: &[u8], hint: bool, out: &mut Vec<u8>, tally: &mut Tally) {
        if !self.detectors.may_match(text) {
            out.extend_from_slice(text);
            return;
        }
        if !hint {
            // In place: nothing to copy or hold.
            self.mask_whole(text, 0, out, tally);
            return;
        }
        // After the phone context, as a segment with the hint would hold it; on the
        // stack when short (a phone number's field), so nothing is allocated.
        let mut stack = [0u8; 256];
        let whole = PHONE_CONTEXT.len() + text.len();
        if let Some(hay) = stack.get_mut(..whole) {
            let (context, rest) = hay.split_at_mut(PHONE_CONTEXT.len());
            context.copy_from_slice(PHONE_CONTEXT);
            rest.copy_from_slice(text);
            self.mask_whole(hay, PHONE_CONTEXT.len(), out, tally);
        } else {
            let mut hay = Vec::with_capacity(whole);
            hay.extend_from_slice(PHONE_CONTEXT);
            hay.extend_from_slice(text);
            self.mask_whole(&hay, PHONE_CONTEXT.len(), out, tally);
        }
    }

    /// Masks all of `hay` after its first `ctx` bytes (context, already emitted, which
    /// patterns may start in): what a segment's last drain does, without holding.
    fn mask_whole(&self, hay: &[u8], ctx: usize, out: &mut Vec<u8>, tally: &mut Tally) {
        let mut emitted = ctx;
        let mut pos = 0;
        let mut cursor = Cursor::default();
        while let Next::Found(f) = self.detectors.next_from(hay, pos, true, &mut cursor) {
            let (s, e) = f.span;
            let s = s.max(emitted);
            out.extend_from_slice(hay.get(emitted..s).unwrap_or_default());
            self.replace(f, hay.get(s..e).unwrap_or_default(), out, tally);
            emitted = e;
            pos = e;
        }
        out.extend_from_slice(hay.get(emitted..).unwrap_or_default());
    }
}

/// The held-back tail of the current segment.
#[derive(Debug, Clone, Default)]
pub struct Segment {
    /// `buf[..ctx]` was already emitted and is kept as the bytes before the rest
    /// (validators look at them); `buf[ctx..]` is held.
    buf: Vec<u8>,
    ctx: usize,
    /// Looks start at the buffer's start, context included, while the phone context
    /// a hint put there is still in it: the pattern must see it.
    from_start: bool,
}

/// What a segment about phones (a JSON member named `phone`) starts with, as context
/// already emitted: bare digits after it count as a phone number.
const PHONE_CONTEXT: &[u8] = b"phone ";

impl Segment {
    /// Adds `data` to the segment and emits what is decided.
    pub fn push(&mut self, m: &Masker, data: &[u8], out: &mut Vec<u8>, tally: &mut Tally) {
        if m.detectors.is_empty() {
            out.extend_from_slice(data);
            return;
        }
        self.buf.extend_from_slice(data);
        self.drain(m, false, out, tally);
    }

    /// Ends the segment: everything held is decided and emitted.
    pub fn end(&mut self, m: &Masker, out: &mut Vec<u8>, tally: &mut Tally) {
        // (Only to save the look: with nothing held, a drain finds nothing.)
        if self.buf.len() > self.ctx {
            self.drain(m, true, out, tally);
        }
        self.buf.clear();
        self.ctx = 0;
        self.from_start = false;
    }

    /// Marks the segment as being about phones: it starts with [`PHONE_CONTEXT`] as
    /// context (never emitted). Only at the segment's start.
    pub fn hint(&mut self, on: bool) {
        if on && self.buf.is_empty() {
            self.buf.extend_from_slice(PHONE_CONTEXT);
            self.ctx = PHONE_CONTEXT.len();
            self.from_start = true;
        }
    }

    /// Whether nothing of the current segment has arrived yet.
    pub fn is_fresh(&self) -> bool {
        self.buf.is_empty()
    }

    /// How many bytes are held back.
    pub fn held(&self) -> usize {
        self.buf.len().saturating_sub(self.ctx)
    }

    fn drain(&mut self, m: &Masker, last: bool, out: &mut Vec<u8>, tally: &mut Tally) {
        let n = self.buf.len();
        let mut emitted = self.ctx;
        let mut pos = if self.from_start { 0 } else { self.ctx };
        let mut cursor = Cursor::default();
        let safe = loop {
            match m.detectors.next_from(&self.buf, pos, last, &mut cursor) {
                Next::Found(f) => {
                    let (s, e) = f.span;
                    let s = s.max(emitted);
                    out.extend_from_slice(self.buf.get(emitted..s).unwrap_or_default());
                    m.replace(f, self.buf.get(s..e).unwrap_or_default(), out, tally);
                    emitted = e;
                    pos = e;
                }
                // A start before the candidate may still become a match too.
                Next::Undecided(s) => break s.min(n.saturating_sub(m.detectors.window())).max(pos),
                Next::Clear if last => break n,
                Next::Clear => break n.saturating_sub(m.detectors.window()).max(pos),
            }
        };
        let safe = safe.max(emitted);
        out.extend_from_slice(self.buf.get(emitted..safe).unwrap_or_default());
        // Keep some emitted bytes: the context of the next candidate.
        let keep_from = safe.saturating_sub(crate::detect::CONTEXT);
        if keep_from > 0 {
            self.from_start = false;
        }
        self.buf.drain(..keep_from.min(n));
        self.ctx = safe - keep_from.min(n);
    }
}

/// A text body: lines are segments.
#[derive(Debug, Clone, Default)]
pub struct TextStream {
    segment: Segment,
}

impl TextStream {
    pub fn push(&mut self, m: &Masker, data: &[u8], out: &mut Vec<u8>, tally: &mut Tally) {
        let mut rest = data;
        while let Some(i) = crate::scan::find2(rest, b'\n', b'\n') {
            let (line, tail) = rest.split_at(i);
            if self.segment.is_fresh() {
                m.mask_all(line, false, out, tally);
            } else {
                self.segment.push(m, line, out, tally);
                self.segment.end(m, out, tally);
            }
            out.push(b'\n');
            rest = tail.get(1..).unwrap_or_default();
        }
        self.segment.push(m, rest, out, tally);
    }

    pub fn finish(&mut self, m: &Masker, out: &mut Vec<u8>, tally: &mut Tally) {
        self.segment.end(m, out, tally);
    }

    pub fn held(&self) -> usize {
        self.segment.held()
    }
}

#[cfg(test)]
#[path = "segment_tests.rs"]
mod tests;
