use std::io::Write as _;

use super::*;
use crate::config::load;
use tollgate_kit::HostFacts;

fn run(m: &mut BodyMasker, chunks: &[&[u8]]) -> (Vec<u8>, Vec<Result<(), Trouble>>) {
    let c = load(b"{}", HostFacts::default()).unwrap();
    let cx = Ctx {
        masker: &c.masker,
        rules: &c.rules,
    };
    let mut out = Vec::new();
    let mut t = Tally::default();
    let results = chunks
        .iter()
        .enumerate()
        .map(|(i, ch)| m.push(&cx, ch, i + 1 == chunks.len(), &mut out, &mut t))
        .collect();
    (out, results)
}

const PLAIN: &[u8] = b"{\"mail\": \"jane@example.com\"}";
const MASKED: &[u8] = b"{\"mail\": \"[EMAIL]\"}";

#[test]
fn gzip_deflate_and_br_are_decoded_then_masked() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(PLAIN).unwrap();
    let gz = gz.finish().unwrap();
    let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zl.write_all(PLAIN).unwrap();
    let zl = zl.finish().unwrap();
    // `br` of PLAIN, made with Python's brotli 1.1.0: brotli.compress(PLAIN, quality=11).
    let br: Vec<u8> = vec![
        0x8b, 0x0d, 0x80, 0x7b, 0x22, 0x6d, 0x61, 0x69, 0x6c, 0x22, 0x3a, 0x20, 0x22, 0x6a, 0x61,
        0x6e, 0x65, 0x40, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x22,
        0x7d, 0x03,
    ];
    for (enc, bytes) in [
        (Encoding::Gzip, gz),
        (Encoding::Deflate, zl),
        (Encoding::Brotli, br),
    ] {
        let (a, b) = bytes.split_at(bytes.len() / 2);
        let (out, r) = run(
            &mut BodyMasker::new(Format::Json, Some(enc), 1 << 20, Over::Stop),
            &[a, b],
        );
        assert_eq!(out, MASKED, "{enc:?}");
        assert!(r.iter().all(Result::is_ok));
    }
}

#[test]
fn a_corrupt_body_is_an_error_and_nothing_follows() {
    let mut m = BodyMasker::new(Format::Text, Some(Encoding::Gzip), 1 << 20, Over::Stop);
    let (out, r) = run(
        &mut m,
        &[b"\x1f\x8b\x08\x00garbage that is not deflate", b"more"],
    );
    assert!(r.contains(&Err(Trouble::Corrupt)));
    assert!(!String::from_utf8_lossy(&out).contains("garbage"));
}

#[test]
fn past_the_limit_the_body_passes_stops_or_is_masked_on() {
    let body = b"jane@example.com xxxxxxxxxxxxxxxxxxxxxxxxxx jane@example.com";
    let (a, b) = body.split_at(30);
    let (out, r) = run(
        &mut BodyMasker::new(Format::Text, None, 20, Over::Pass),
        &[a, b],
    );
    assert_eq!(r.first(), Some(&Err(Trouble::Oversize)));
    assert_eq!(
        out,
        b"[EMAIL] xxxxxxxxxxxxxxxxxxxxxxxxxx jane@example.com".as_slice(),
        "the rest as it came"
    );
    let (out, r) = run(
        &mut BodyMasker::new(Format::Text, None, 20, Over::Stop),
        &[a, b],
    );
    assert_eq!(r.first(), Some(&Err(Trouble::Oversize)));
    assert!(
        !String::from_utf8_lossy(&out).contains("jane"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let (out, _) = run(
        &mut BodyMasker::new(Format::Text, None, 20, Over::KeepMasking),
        &[a, b],
    );
    assert_eq!(
        out,
        b"[EMAIL] xxxxxxxxxxxxxxxxxxxxxxxxxx [EMAIL]".as_slice()
    );
}

#[test]
fn encodings_are_named_as_http_names_them() {
    assert_eq!(Encoding::parse("gzip"), Ok(Some(Encoding::Gzip)));
    assert_eq!(Encoding::parse("X-GZIP"), Ok(Some(Encoding::Gzip)));
    assert_eq!(Encoding::parse("identity"), Ok(None));
    assert_eq!(Encoding::parse("br"), Ok(Some(Encoding::Brotli)));
    assert_eq!(Encoding::parse("deflate"), Ok(Some(Encoding::Deflate)));
    assert_eq!(Encoding::parse("zstd"), Err(UnknownEncoding));
    assert_eq!(
        Encoding::parse("gzip, br"),
        Err(UnknownEncoding),
        "stacked codings"
    );
}

/// The bytes scanned are counted after decoding, chunk by chunk; what a masker holds
/// back is what its stream holds; a decoder names its encoding.
#[test]
fn scanned_bytes_and_held_bytes_are_counted() {
    let c = load(b"{}", HostFacts::default()).unwrap();
    let cx = Ctx {
        masker: &c.masker,
        rules: &c.rules,
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(PLAIN).unwrap();
    let gz = gz.finish().unwrap();
    let (a, b) = gz.split_at(gz.len() / 2);
    let mut m = BodyMasker::new(Format::Json, Some(Encoding::Gzip), 1 << 20, Over::Stop);
    let (mut out, mut t) = (Vec::new(), Tally::default());
    m.push(&cx, a, false, &mut out, &mut t).unwrap();
    m.push(&cx, b, true, &mut out, &mut t).unwrap();
    assert_eq!((out.as_slice(), t.bytes), (MASKED, PLAIN.len() as u64));
    assert_eq!(format!("{:?}", Decoder::new(Encoding::Gzip)), "gzip");
    assert_eq!(format!("{:?}", Decoder::new(Encoding::Deflate)), "deflate");
    assert_eq!(format!("{:?}", Decoder::new(Encoding::Brotli)), "br");
    for (format, body, held) in [
        (Format::Json, &br#"{"abc"#[..], 3),
        (Format::Json, b"[12345", 5),
    ] {
        let mut m = BodyMasker::new(format, None, 1 << 20, Over::Stop);
        let (mut out, mut t) = (Vec::new(), Tally::default());
        m.push(&cx, body, false, &mut out, &mut t).unwrap();
        assert_eq!(m.held(), held, "{body:?}");
    }
    let mut m = BodyMasker::new(Format::Text, None, 1 << 20, Over::Stop);
    let (mut out, mut t) = (Vec::new(), Tally::default());
    m.push(&cx, b"mail jane@exa", false, &mut out, &mut t)
        .unwrap();
    assert!(m.held() > 1 && out.len() + m.held() == 13, "{}", m.held());
}
