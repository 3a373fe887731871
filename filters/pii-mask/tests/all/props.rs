//! Properties: for random bodies of planted values and filler cut into random chunks,
//! the concatenated output equals masking the whole body, and no planted value
//! survives masking.

use proptest::prelude::*;
use tollgate_pii_mask::body::Format;

use crate::common::{compiled, mask, mask_chunks};

/// Values every default detector must mask.
const PLANTED: &[&str] = &[
    "jane.doe@example.com",
    "o'hara+tag@mail.example.co.uk",
    "+1 415 555 2671",
    "(415) 555-2671",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "378282246310005",
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "123-45-6789",
    "192.168.10.42",
    "2001:db8::8a2e:370:7334",
    "AKIAIOSFODNN7EXAMPLE",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
];

/// Filler that must pass unchanged (lookalikes included).
const FILLER: &[&str] = &[
    " ",
    ", ",
    " and ",
    "order 4111111111111112 ",
    "v1.2.3 ",
    "2024-01-15 ",
    "12:30:45 ",
    "id=123456789 ",
    "{\"a\": 1} ",
    "\n",
    "price 19.99 ",
    "ISBN 978-3-16-148410-0 ",
];

fn body_strategy() -> impl Strategy<Value = (String, Vec<usize>)> {
    let piece = prop_oneof![
        (0..PLANTED.len()).prop_map(|i| (PLANTED[i].to_string(), true)),
        (0..FILLER.len()).prop_map(|i| (FILLER[i].to_string(), false)),
    ];
    (
        proptest::collection::vec(piece, 1..24),
        proptest::collection::vec(0usize..2000, 0..12),
    )
        .prop_map(|(pieces, cuts)| {
            // Planted values are separated so each stands alone.
            let body: String = pieces
                .iter()
                .map(|(s, p)| if *p { format!(" {s} ") } else { s.clone() })
                .collect();
            (body, cuts)
        })
}

fn split<'a>(body: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    at.sort_unstable();
    let mut chunks = Vec::new();
    let mut prev = 0;
    for a in at {
        chunks.push(&body[prev..a]);
        prev = a;
    }
    chunks.push(&body[prev..]);
    chunks
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn text_chunks_give_the_whole_body_and_nothing_planted_survives((body, cuts) in body_strategy()) {
        let c = compiled(None);
        let whole = mask(&c, Format::Text, body.as_bytes());
        let chunked = mask_chunks(&c, Format::Text, &split(body.as_bytes(), &cuts)).0;
        prop_assert_eq!(&chunked, &whole);
        let out = String::from_utf8_lossy(&whole);
        for p in PLANTED {
            prop_assert!(!out.contains(p), "{p:?} survived in {out:?}");
        }
        for f in FILLER {
            if body.contains(f) {
                prop_assert!(out.contains(f.trim()), "filler {f:?} changed: {out:?}");
            }
        }
    }

    #[test]
    fn json_chunks_give_the_whole_body_valid_json_and_nothing_planted((values, cuts) in (
        proptest::collection::vec((0..PLANTED.len(), 0usize..4), 1..12),
        proptest::collection::vec(0usize..4000, 0..12),
    )) {
        // A document nesting planted values as strings, in arrays and objects.
        let mut doc = serde_json::Map::new();
        for (n, (i, shape)) in values.iter().enumerate() {
            let v = serde_json::Value::String(format!("x {} y", PLANTED[*i]));
            let v = match shape {
                0 => v,
                1 => serde_json::json!([v, 1, null]),
                2 => serde_json::json!({"inner": v, "n": 2.5}),
                _ => serde_json::json!({"list": [{"deep": v}]}),
            };
            doc.insert(format!("k{n}"), v);
        }
        let body = serde_json::to_string_pretty(&doc).unwrap();
        let c = compiled(Some(&serde_json::json!({"fields": [{"pointer": "/k0", "rule": "drop"}]})));
        let whole = mask(&c, Format::Json, body.as_bytes());
        let chunked = mask_chunks(&c, Format::Json, &split(body.as_bytes(), &cuts)).0;
        prop_assert_eq!(&chunked, &whole);
        let out: serde_json::Value = serde_json::from_slice(&whole).unwrap();
        let text = out.to_string();
        for p in PLANTED {
            prop_assert!(!text.contains(p), "{p:?} survived in {text}");
        }
        prop_assert!(out.get("k0").is_none());
        prop_assert_eq!(out.as_object().unwrap().len(), doc.len() - 1);
    }
}
