//! One body's masking from first chunk to last: decoding a compressed body, the JSON
//! or text masker, and the size limit.

use std::io::Write as _;

use crate::json::{Ctx, JsonStream};
use crate::segment::{Tally, TextStream};

/// How a body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

/// A `content-encoding` the filter decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    /// HTTP's `deflate`: zlib-wrapped (RFC 9110 §8.4.1.2).
    Deflate,
    Brotli,
}

impl Encoding {
    /// The encoding named by a `content-encoding` value, if decodable; `Ok(None)`
    /// for identity.
    pub fn parse(value: &str) -> Result<Option<Encoding>, UnknownEncoding> {
        let codings: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
            .collect();
        match codings.as_slice() {
            [] => Ok(None),
            [c] if c.eq_ignore_ascii_case("gzip") || c.eq_ignore_ascii_case("x-gzip") => {
                Ok(Some(Encoding::Gzip))
            }
            [c] if c.eq_ignore_ascii_case("deflate") => Ok(Some(Encoding::Deflate)),
            [c] if c.eq_ignore_ascii_case("br") => Ok(Some(Encoding::Brotli)),
            _ => Err(UnknownEncoding),
        }
    }
}

/// A `content-encoding` that cannot be decoded (zstd, stacked codings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownEncoding;

enum Decoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Vec<u8>>>),
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decoder::Gzip(_) => "gzip",
            Decoder::Deflate(_) => "deflate",
            Decoder::Brotli(_) => "br",
        })
    }
}

impl Decoder {
    fn new(e: Encoding) -> Self {
        match e {
            Encoding::Gzip => Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            Encoding::Deflate => Decoder::Deflate(flate2::write::ZlibDecoder::new(Vec::new())),
            Encoding::Brotli => Decoder::Brotli(Box::new(
                brotli_decompressor::DecompressorWriter::new(Vec::new(), 4096),
            )),
        }
    }

    /// Decodes `data`, giving what it decoded to.
    fn write(&mut self, data: &[u8], last: bool) -> std::io::Result<Vec<u8>> {
        match self {
            Decoder::Gzip(d) => {
                d.write_all(data)?;
                if last {
                    d.try_finish()?;
                }
                Ok(std::mem::take(d.get_mut()))
            }
            Decoder::Deflate(d) => {
                d.write_all(data)?;
                if last {
                    d.try_finish()?;
                }
                Ok(std::mem::take(d.get_mut()))
            }
            Decoder::Brotli(d) => {
                d.write_all(data)?;
                if last {
                    d.flush()?;
                    d.close()?;
                }
                Ok(std::mem::take(d.get_mut()))
            }
        }
    }
}

/// Why a body could not be masked to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// More than the limit was scanned; what follows is passed as it is (`pass`), or
    /// the stream must be stopped (`block`).
    Oversize,
    /// The compressed body is corrupt: nothing after the corruption can be read.
    Corrupt,
}

enum Stream {
    Json(Box<JsonStream>),
    Text(TextStream),
}

/// What happens past the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// The rest goes out as it came.
    Pass,
    /// Nothing more goes out: the caller ends the stream in an error.
    Stop,
    /// The rest is masked all the same (a host that cannot end a stream in an error:
    /// cutting the body short would look like a whole body).
    KeepMasking,
}

/// A body being masked.
pub struct BodyMasker {
    stream: Stream,
    decoder: Option<Decoder>,
    limit: u64,
    seen: u64,
    /// Past the limit with `pass`: bytes go out as they came.
    passing: bool,
    over: Over,
    failed: bool,
}

impl BodyMasker {
    pub fn new(format: Format, encoding: Option<Encoding>, limit: u64, over: Over) -> Self {
        Self {
            stream: match format {
                Format::Json => Stream::Json(Box::default()),
                Format::Text => Stream::Text(TextStream::default()),
            },
            decoder: encoding.map(Decoder::new),
            limit,
            seen: 0,
            passing: false,
            over,
            failed: false,
        }
    }

    /// Masks one chunk (`last`: the body's end), appending the output to `out`.
    /// After a [`Trouble`] the body must not go on as if masked: the caller passes or
    /// stops it as configured.
    pub fn push(
        &mut self,
        cx: &Ctx<'_>,
        data: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        tally: &mut Tally,
    ) -> Result<(), Trouble> {
        if self.failed {
            return Err(Trouble::Corrupt);
        }
        let decoded;
        let plain: &[u8] = match &mut self.decoder {
            Some(d) => match d.write(data, last) {
                Ok(bytes) => {
                    decoded = bytes;
                    &decoded
                }
                Err(_) => {
                    self.failed = true;
                    self.finish(cx, out, tally);
                    return Err(Trouble::Corrupt);
                }
            },
            None => data,
        };
        if self.passing {
            out.extend_from_slice(plain);
            return Ok(());
        }
        tally.bytes += plain.len() as u64;
        let room = usize::try_from(self.limit.saturating_sub(self.seen)).unwrap_or(usize::MAX);
        let (within, beyond) = plain.split_at(room.min(plain.len()));
        self.seen += within.len() as u64;
        match &mut self.stream {
            Stream::Json(j) => j.push(cx, within, out, tally),
            Stream::Text(t) => t.push(cx.masker, within, out, tally),
        }
        if !beyond.is_empty() {
            if self.over == Over::KeepMasking {
                // (No limit now: what is seen from here on no longer counts.)
                self.limit = u64::MAX;
                match &mut self.stream {
                    Stream::Json(j) => j.push(cx, beyond, out, tally),
                    Stream::Text(t) => t.push(cx.masker, beyond, out, tally),
                }
                if last {
                    self.finish(cx, out, tally);
                }
                return Err(Trouble::Oversize);
            }
            // Everything scanned so far goes out masked, then the rest as configured.
            self.finish(cx, out, tally);
            if self.over == Over::Pass {
                self.passing = true;
                out.extend_from_slice(beyond);
            }
            return Err(Trouble::Oversize);
        }
        if last {
            self.finish(cx, out, tally);
        }
        Ok(())
    }

    fn finish(&mut self, cx: &Ctx<'_>, out: &mut Vec<u8>, tally: &mut Tally) {
        match &mut self.stream {
            Stream::Json(j) => j.finish(cx, out, tally),
            Stream::Text(t) => t.finish(cx.masker, out, tally),
        }
    }

    /// Bytes held back, waiting for the bytes that decide them.
    pub fn held(&self) -> usize {
        match &self.stream {
            Stream::Json(j) => j.held(),
            Stream::Text(t) => t.held(),
        }
    }
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
