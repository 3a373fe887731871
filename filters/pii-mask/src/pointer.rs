//! JSON Pointers (RFC 6901) with wildcards, for field rules: `*` is any one member
//! name or array index, `**` any number of them (none included).

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Name(Vec<u8>),
    Any,
    AnyDepth,
}

/// A compiled pointer pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(Vec<Seg>);

impl Pattern {
    /// Parses `/a/*/b` (`""` is the whole document). `~1` is `/` and `~0` is `~`, as in
    /// RFC 6901; a literal `*` segment is written `~2`.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if text.is_empty() {
            return Ok(Pattern(Vec::new()));
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(
                "a JSON Pointer starts with `/` (or is empty for the whole document)".into(),
            );
        };
        let mut segs = Vec::new();
        for raw in rest.split('/') {
            segs.push(match raw {
                "*" => Seg::Any,
                "**" => Seg::AnyDepth,
                _ => {
                    if raw.contains('~') && !valid_escapes(raw) {
                        return Err(format!("`{raw}`: `~` must be followed by 0, 1 or 2"));
                    }
                    Seg::Name(
                        raw.replace("~1", "/")
                            .replace("~2", "*")
                            .replace("~0", "~")
                            .into_bytes(),
                    )
                }
            });
        }
        Ok(Pattern(segs))
    }

    /// Whether the value at `path` (member names and array indexes, outermost first)
    /// fits.
    pub fn matches(&self, path: &[&[u8]]) -> bool {
        fits(&self.0, path)
    }
}

fn valid_escapes(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.iter()
        .enumerate()
        .filter(|(_, c)| **c == b'~')
        .all(|(i, _)| matches!(b.get(i + 1), Some(b'0' | b'1' | b'2')))
}

fn fits(pattern: &[Seg], path: &[&[u8]]) -> bool {
    match (pattern.split_first(), path.split_first()) {
        (None, None) => true,
        (Some((Seg::AnyDepth, rest)), _) => {
            fits(rest, path)
                || path
                    .split_first()
                    .is_some_and(|(_, tail)| fits(pattern, tail))
        }
        (Some((Seg::Any, rest)), Some((_, tail))) => fits(rest, tail),
        (Some((Seg::Name(n), rest)), Some((seg, tail))) => n.as_slice() == *seg && fits(rest, tail),
        _ => false,
    }
}

#[cfg(test)]
#[path = "pointer_tests.rs"]
mod tests;
