//! Path globs for the TTL table and invalidation rules, and the prefix templates that
//! name what a write invalidates.
//!
//! A glob is matched segment by segment on the path without its query: `*` as a whole
//! segment is any one segment, `**` any number of segments (zero included), and `*`
//! inside a segment (`*.json`) any run of characters within it. Whole-segment `*` and
//! `**` capture what they matched, in order, for templates (`/{1}`).

/// The most `**` a glob may hold: each one multiplies the work of a failing match.
const MAX_DOUBLE_STARS: usize = 2;
/// The most segments a glob may have.
const MAX_SEGMENTS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// A segment to compare, possibly with `*` inside.
    Literal(String),
    /// `*`: one segment, captured.
    One,
    /// `**`: any number of segments, captured (joined by `/`).
    Any,
}

/// A compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    parts: Vec<Part>,
    text: String,
}

impl Glob {
    /// Compiles `pattern`; the error says what is wrong with it.
    pub fn compile(pattern: &str) -> Result<Self, String> {
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err("expected a path glob starting with `/`".into());
        };
        let parts: Vec<Part> = rest
            .split('/')
            .map(|s| match s {
                "*" => Part::One,
                "**" => Part::Any,
                other => Part::Literal(other.to_string()),
            })
            .collect();
        if parts.len() > MAX_SEGMENTS {
            return Err(format!("expected at most {MAX_SEGMENTS} segments"));
        }
        if parts.iter().filter(|p| **p == Part::Any).count() > MAX_DOUBLE_STARS {
            return Err(format!("expected at most {MAX_DOUBLE_STARS} `**`"));
        }
        if parts
            .iter()
            .any(|p| matches!(p, Part::Literal(l) if l.contains("**")))
        {
            return Err("`**` must be a whole segment".into());
        }
        if parts
            .iter()
            .any(|p| matches!(p, Part::Literal(l) if l.contains(['?', '#'])))
        {
            return Err("a glob matches the path without the query: no `?` or `#`".into());
        }
        Ok(Self {
            parts,
            text: pattern.to_string(),
        })
    }

    /// What each capture of a match is, in order: `true` for `**` (may hold `/`).
    pub fn captures(&self) -> Vec<bool> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::One => Some(false),
                Part::Any => Some(true),
                Part::Literal(_) => None,
            })
            .collect()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `path` (without query) fits.
    pub fn matches(&self, path: &str) -> bool {
        self.capture(path).is_some()
    }

    /// The captures of a match, in order, or `None` when `path` does not fit.
    pub fn capture<'p>(&self, path: &'p str) -> Option<Vec<&'p str>> {
        let rest = path.strip_prefix('/')?;
        let segments: Vec<&str> = rest.split('/').collect();
        let mut captures = Vec::new();
        if match_from(&self.parts, rest, &segments, 0, &mut captures) {
            Some(captures)
        } else {
            None
        }
    }
}

/// The byte offset of segment `i` in `rest` (segments are split by single `/`).
fn offset_of(segments: &[&str], i: usize) -> usize {
    segments.iter().take(i).map(|s| s.len() + 1).sum()
}

fn match_from<'p>(
    parts: &[Part],
    rest: &'p str,
    segments: &[&'p str],
    at: usize,
    captures: &mut Vec<&'p str>,
) -> bool {
    let Some((first, others)) = parts.split_first() else {
        return at == segments.len();
    };
    match first {
        Part::Literal(l) => segments.get(at).is_some_and(|s| {
            segment_matches(l, s) && match_from(others, rest, segments, at + 1, captures)
        }),
        Part::One => match segments.get(at) {
            Some(s) if !s.is_empty() => {
                captures.push(s);
                if match_from(others, rest, segments, at + 1, captures) {
                    return true;
                }
                captures.pop();
                false
            }
            _ => false,
        },
        Part::Any => {
            // Longest first, so `/**` captures everything.
            for end in (at..=segments.len()).rev() {
                let start = offset_of(segments, at);
                let stop = if end == at {
                    start
                } else {
                    offset_of(segments, end) - 1
                };
                captures.push(rest.get(start..stop).unwrap_or(""));
                if match_from(others, rest, segments, end, captures) {
                    return true;
                }
                captures.pop();
            }
            false
        }
    }
}

/// `*` inside a segment: any run of characters within it.
fn segment_matches(pattern: &str, segment: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == segment;
    }
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = segment.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return true;
    };
    for piece in middle {
        match rest.find(piece) {
            Some(i) => rest = rest.get(i + piece.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A path prefix to invalidate, with `{n}` filled from a glob's captures. A prefix
/// covers itself and what is below it (`/b` covers `/b` and `/b/k`, not `/bc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
    /// The segments of every filled prefix, unless a `**` capture makes it vary.
    depth: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// 0-based capture index.
    Capture(usize),
}

impl Template {
    /// Compiles `text` for a glob whose captures are `captures` (see
    /// [`Glob::captures`]).
    pub fn compile(text: &str, captures: &[bool]) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err("expected a path prefix starting with `/`".into());
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        let mut varies = false;
        while let Some(open) = rest.find('{') {
            let (before, after) = rest.split_at(open);
            if before.contains('}') {
                return Err("a `}` without `{`".into());
            }
            if !before.is_empty() {
                pieces.push(Piece::Text(before.to_string()));
            }
            let close = after
                .find('}')
                .ok_or_else(|| "an unclosed `{`".to_string())?;
            let n: usize = after
                .get(1..close)
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| "expected `{n}` with n a number from 1".to_string())?;
            let Some(any) = n.checked_sub(1).and_then(|i| captures.get(i)) else {
                return Err(format!(
                    "`{{{n}}}`: the glob has {} captures (`*` and `**` segments)",
                    captures.len()
                ));
            };
            varies |= *any;
            pieces.push(Piece::Capture(n - 1));
            rest = after.get(close + 1..).unwrap_or("");
        }
        if rest.contains('}') {
            return Err("a `}` without `{`".into());
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        let fixed: String = pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Capture(_) => "x",
            })
            .collect();
        let depth = (!varies).then(|| segments(&fixed));
        Ok(Self { pieces, depth })
    }

    /// The prefix for a match's `captures`, without a trailing `/`.
    pub fn fill(&self, captures: &[&str]) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Capture(i) => out.push_str(captures.get(*i).copied().unwrap_or("")),
            }
        }
        while out.len() > 1 && out.ends_with('/') {
            out.pop();
        }
        out
    }

    /// How many segments every filled prefix has; `None` when a `**` capture makes
    /// it depend on the write.
    pub fn depth(&self) -> Option<usize> {
        self.depth
    }
}

/// The segments of a path (`/` has none, `/a/b` two).
pub fn segments(path: &str) -> usize {
    path.trim_end_matches('/').matches('/').count()
}

#[cfg(test)]
#[path = "glob_tests.rs"]
mod tests;
