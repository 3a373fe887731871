use super::*;

fn d(s: &str) -> Vec<u8> {
    Digits::of(s.as_bytes()).as_slice().to_vec()
}

#[test]
fn luhn_accepts_the_networks_test_numbers_and_refuses_one_digit_off() {
    for ok in [
        "4111111111111111",
        "5500000000000004",
        "378282246310005",
        "6011111111111117",
        "0",
    ] {
        assert!(luhn(&d(ok)), "{ok}");
    }
    for bad in [
        "4111111111111112",
        "5500000000000005",
        "378282246310006",
        "",
    ] {
        assert!(!luhn(&d(bad)), "{bad}");
    }
}

#[test]
fn networks_know_their_prefixes_and_lengths() {
    assert!(card_network_fits(&d("4111111111111111")));
    assert!(card_network_fits(&d("4222222222222")), "visa 13");
    assert!(!card_network_fits(&d("41111111111111111")), "visa 17");
    assert!(
        card_network_fits(&d("2223000048400011")),
        "mastercard 2-series"
    );
    assert!(!card_network_fits(&d("2721000048400011")));
    assert!(card_network_fits(&d("378282246310005")));
    assert!(!card_network_fits(&d("3782822463100050")), "amex is 15");
    assert!(card_network_fits(&d("213112345678901")), "old jcb 15");
    assert!(!card_network_fits(&d("9111111111111111")));
}

#[test]
fn iban_check_is_mod_97() {
    // ISO 13616's examples.
    for ok in [
        "GB82WEST12345698765432",
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
        "NO9386011117947",
    ] {
        assert!(iban_checksum(ok.as_bytes()), "{ok}");
    }
    for bad in [
        "GB82WEST12345698765433",
        "DE8937040044053201300",
        "GB8",
        "gb82west12345698765432",
    ] {
        assert!(!iban_checksum(bad.as_bytes()), "{bad}");
    }
}

#[test]
fn spans_are_cut_to_the_value() {
    let hay = b"x 4111 1111 1111 1111 2027 y";
    assert_eq!(card(hay, 2, 26), Some((2, 21)));
    let hay = b"IBAN GB82 WEST 1234 5698 7654 32 IS";
    assert_eq!(iban(hay, 5, hay.len()), Some((5, 32)));
    let hay = b"Bearer abcdefghijklmnop1234 rest";
    assert_eq!(bearer(hay, 0, 7, 4096), Some((7, 27)));
    assert_eq!(bearer(b"Bearer short", 0, 7, 4096), None);
}

#[test]
fn edges_refuse_values_inside_longer_ones() {
    assert_eq!(ipv4(b"1.2.3.4.5", 0, 7), None);
    assert_eq!(ipv4(b"v1.2.3.4", 1, 8), None);
    assert_eq!(ipv4(b"10.0.0.1:80", 0, 8), Some((0, 8)));
    assert_eq!(ipv4(b"10.0.0.256", 0, 10), None);
    assert_eq!(ipv4(b"10.00.0.1", 0, 9), None);
    assert_eq!(ipv6(b"::", 0, 2), None);
    assert_eq!(ipv6(b"fe80::1", 0, 7), Some((0, 7)));
    assert_eq!(ipv6(b"12:30:45", 0, 8), None);
    assert_eq!(ssn(b"123-45-6789", 0, 11), Some((0, 11)));
    assert_eq!(ssn(b"123-45 6789", 0, 11), None);
    assert_eq!(ssn(b"666-45-6789", 0, 11), None);
    assert_eq!(ssn(b"1-123-45-6789", 2, 13), None);
    assert_eq!(email(b"a@b.co", 0, 6), Some((0, 6)));
    assert_eq!(email(b"a@b.c0", 0, 6), None);
    assert_eq!(email(b"a@-b.co", 0, 7), None);
    assert_eq!(
        aws_secret(
            b"aws_secret_access_key=0123456789012345678901234567890123456789",
            0,
            62
        ),
        Some((22, 62))
    );
}

#[test]
fn phones_need_a_shape_or_a_word() {
    assert_eq!(phone(b"+1 415 555 2671", 0, 15), Some((0, 15)));
    assert_eq!(
        phone(b"+0 415 555 2671", 0, 15),
        None,
        "no country code starts with 0"
    );
    assert_eq!(phone(b"415-555-2671", 0, 12), Some((0, 12)));
    assert_eq!(
        phone(b"115-555-2671", 0, 12),
        None,
        "NANP area codes start at 2"
    );
    assert_eq!(phone(b"phone 4155552671", 0, 16), Some((6, 16)));
    assert_eq!(phone(b"phone 1155552671", 0, 16), None);
    assert_eq!(phone(b"a, 07700900123", 1, 14), Some((3, 14)));
    assert_eq!(
        phone(b"415-555-2671x12", 0, 12),
        Some((0, 12)),
        "an extension may follow"
    );
    assert_eq!(phone(b"2024-01-15", 0, 10), None);
    assert!(phone_member(b"mobilePhone") && phone_member(b"tel") && !phone_member(b"hotel"));
    for name in [
        "phone",
        "homePhone",
        "PHONE_NUMBER",
        "mobile",
        "x-Mobile",
        "fax",
        "officeFax",
        "msisdn",
        "MSISDN",
        "cell",
        "cellNumber",
        "tel",
        "Telephone",
        "telNo",
    ] {
        assert!(phone_member(name.as_bytes()), "{name}");
    }
    for name in [
        "", "te", "hotel", "phon", "mobil", "fa", "msisd", "cel", "email", "number", "xtel",
        "cancel", "prefix", "motel",
    ] {
        assert!(!phone_member(name.as_bytes()), "{name}");
    }
}

#[test]
fn jwts_need_a_header_with_alg_and_are_read_to_their_end() {
    let t = b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln rest";
    assert_eq!(jwt(t, 0, 8192), Some((0, 41)));
    assert_eq!(
        jwt(b"eyJmb28iOiJiYXIifQ.eyJ4IjoxfQ.c2ln", 0, 8192),
        None,
        "no alg"
    );
    assert_eq!(
        jwt(t, 0, 30),
        None,
        "longer than the limit: left whole, never cut"
    );
    assert_eq!(jwt(b"xeyJhbGciOiJIUzI1NiJ9.eyJ.c", 1, 8192), None);
}

#[test]
fn networks_at_the_edges_of_their_prefixes_and_lengths() {
    // (digits: a prefix padded with zeros to the length, fits)
    let table: &[(&str, usize, bool)] = &[
        ("4", 13, true),
        ("4", 19, true),
        ("4", 14, false),
        ("51", 16, true),
        ("55", 16, true),
        ("51", 15, false),
        ("2221", 16, true),
        ("2720", 16, true),
        ("2220", 16, false),
        ("34", 15, true),
        ("37", 15, true),
        ("34", 16, false),
        ("35", 15, false),
        ("300", 14, true),
        ("305", 19, true),
        ("306", 14, false),
        ("36", 14, true),
        ("38", 14, true),
        ("39", 14, true),
        ("36", 13, false),
        ("37", 14, false),
        ("35", 16, true),
        ("35", 19, true),
        ("2131", 15, true),
        ("1800", 15, true),
        ("1800", 16, false),
        ("2131", 16, false),
        ("50", 12, true),
        ("56", 12, true),
        ("69", 19, true),
        ("6011", 16, true),
        ("62", 16, true),
        ("50", 11, false),
        ("70", 16, false),
    ];
    for &(prefix, len, fits) in table {
        let digits = format!("{prefix:0<len$}");
        assert_eq!(card_network_fits(&d(&digits)), fits, "{digits}");
    }
}

#[test]
fn the_shortest_iban_checksum_is_read() {
    // `GB180` is 98 mod 97 = 1 read as an IBAN's rearrangement.
    assert!(iban_checksum(b"GB180"));
    assert!(!iban_checksum(b"GB18"));
}

#[test]
fn cards_and_ssns_refuse_what_continues_a_number_or_a_word() {
    let card_text = b"12-4111111111111111";
    assert_eq!(card(card_text, 3, card_text.len()), None, "after 12-");
    let card_text = b"x-4111111111111111";
    assert_eq!(card(card_text, 2, card_text.len()), Some((2, 18)));
    assert_eq!(card(b"A4111111111111111", 1, 17), None);
    assert_eq!(ssn(b"a-123-45-6789", 2, 13), None, "after a dash");
    assert_eq!(ssn(b"a.123-45-6789", 2, 13), None, "after a dot");
    assert_eq!(ssn(b"A123-45-6789", 1, 12), None, "after a letter");
    assert_eq!(ssn(b"a 123-45-6789", 2, 13), Some((2, 13)));
    assert_eq!(ssn(b"899-12-3456", 0, 11), Some((0, 11)));
    assert_eq!(ssn(b"900-12-3456", 0, 11), None, "area 900");
}

#[test]
fn ipv6_edges_refuse_values_inside_longer_tokens() {
    // (text, whether the address `fe80::1` inside it, after `pre` bytes, is taken)
    let table: &[(&str, bool)] = &[
        (" fe80::1 ", true),
        (" fe80::1.", true),
        ("xfe80::1 ", false),
        (".fe80::1 ", false),
        (":fe80::1 ", false),
        ("_fe80::1 ", false),
        (" fe80::1x", false),
        (" fe80::1_", false),
        (" fe80::1:", false),
        (" fe80::1.a", false),
    ];
    for &(text, taken) in table {
        let want = taken.then_some((1, 8));
        assert_eq!(ipv6(text.as_bytes(), 1, 8), want, "{text:?}");
    }
    // The byte after a dot is what counts, not the address's own last byte.
    assert_eq!(ipv6(b" fe80::.a", 1, 7), None);
    assert_eq!(ipv6(b" fe80::. ", 1, 7), Some((1, 7)));
}

#[test]
fn unspecified_ipv6_is_not_an_address_even_spelled_with_zeros() {
    assert_eq!(ipv6(b"0::0", 0, 4), None);
    assert_eq!(ipv6(b"0:0:0:0:0:0:0:0", 0, 15), None);
    assert_eq!(ipv6(b"0::1", 0, 4), Some((0, 4)));
}

/// (text, start, end the pattern gave, the span the validator takes)
type PhoneCase = (&'static str, usize, usize, Option<Span>);

#[test]
fn phone_validation_table() {
    let table: &[PhoneCase] = &[
        // What may not come before a number.
        ("-415-555-2671", 1, 13, None),
        ("/415-555-2671", 1, 13, None),
        ("_415-555-2671", 1, 13, None),
        (".415-555-2671", 1, 13, None),
        ("+415-555-2671", 1, 13, None),
        ("(415-555-2671", 1, 13, Some((1, 13))),
        // The pattern stopped inside the last group: up to 8 more digits finish it,
        // a longer run is another number.
        ("020 12345678", 0, 4, Some((0, 12))),
        ("020 123456789", 0, 4, None),
        // An extension is `x` and a digit; another letter ends nothing.
        ("415-555-2671x1", 0, 12, Some((0, 12))),
        ("415-555-2671xy", 0, 12, None),
        // A trailing separator is not part of the number.
        ("415-555-2671-", 0, 13, Some((0, 12))),
        // `00` and a country code: 8 to 13 digits after it, then no more digits.
        ("0044 20 7946 0958 x", 0, 17, Some((0, 17))),
        ("0044 20 7946 0958 12", 0, 17, None),
        ("0044 207 946 095 81", 0, 19, Some((0, 19))),
        ("0044 12 3456", 0, 12, Some((0, 12))),
        ("0044 20 79", 0, 10, None),
        ("0004 20 7946 0958", 0, 17, None),
        ("00 44 20 7946 0958", 0, 18, None),
        ("004412 7946 0958", 0, 16, None),
        // One kind of separator.
        ("415-555.2671", 0, 12, None),
        // Nine digits with a trunk 0 in groups of two or more.
        ("012 345 678", 0, 11, Some((0, 11))),
        ("112 345 678", 0, 11, None),
        ("012 34 567", 0, 10, None),
        ("012 345 67 8", 0, 12, None),
        // An area code then the number: a trunk 0, 3 to 5 then 5 or more digits,
        // written apart.
        ("07700 900123", 0, 12, Some((0, 12))),
        ("(0113)4960123", 0, 13, Some((0, 13))),
        ("0113)4960123", 0, 12, None),
        ("1234 567890", 0, 11, None),
        ("01 234567890", 0, 12, None),
        ("011345 67890", 0, 12, None),
        ("0113 4960", 0, 9, None),
        // Dates have a date's eight digits.
        ("2024-05-17", 0, 10, None),
        ("17/05/2024", 0, 10, None),
        ("17.05.2024", 0, 10, None),
        ("05 17 2024", 0, 10, None),
        // E.164: 8 to 15 digits, a `(0)` trunk not counted.
        ("+49 30 1234", 0, 11, Some((0, 11))),
        ("+49 30 123", 0, 10, None),
        ("+44(0)7700 900123", 0, 17, Some((0, 17))),
    ];
    for &(text, start, end, want) in table {
        assert_eq!(phone(text.as_bytes(), start, end), want, "{text:?}");
    }
}

#[test]
fn e164_counts_digits_without_the_trunk() {
    assert!(e164(b"+12345678"));
    assert!(!e164(b"+1234567"));
    assert!(e164(b"+123456789012345"));
    assert!(!e164(b"+1234567890123456"));
    assert!(e164(b"+123(0)456789012345"), "15 with the trunk left out");
    assert!(!e164(b"+123(0)4567890123456"));
    assert!(!e164(b"+0123456789"));
}

#[test]
fn email_local_parts_do_not_end_with_a_dot() {
    assert_eq!(email(b"john.@x.com", 0, 11), None);
    assert_eq!(email(b".john@x.com", 0, 11), None);
    assert_eq!(email(b"jo..hn@x.com", 0, 12), None);
    assert_eq!(email(b"jo.hn@x.com", 0, 11), Some((0, 11)));
}

#[test]
fn jwts_need_a_payload_and_end_inside_the_limit() {
    let t = b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln";
    assert_eq!(
        jwt(t, 0, t.len()),
        Some((0, 41)),
        "exactly the limit, at the end"
    );
    assert_eq!(jwt(b"eyJhbGciOiJIUzI1NiJ9..c2ln", 0, 8192), None);
    let longer = b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnAAAA rest";
    assert_eq!(
        jwt(longer, 0, 40),
        None,
        "the signature runs past the limit"
    );
    assert_eq!(jwt(longer, 0, 46), Some((0, 45)));
}

#[test]
fn bearer_tokens_end_inside_the_limit() {
    let hay = b"Bearer abcdefghijklmnopqrstuvwxyz rest";
    assert_eq!(bearer(hay, 0, 7, 20), None);
    assert_eq!(bearer(hay, 0, 7, 27), Some((7, 33)));
    assert_eq!(bearer(b"Bearer abcdefghijklmnop", 0, 7, 16), Some((7, 23)));
    assert_eq!(
        bearer(b"Bearer abcdefghijklmno", 0, 7, 16),
        None,
        "15 bytes"
    );
    assert_eq!(
        bearer(b"Bearer abcdefghijklmn== x", 0, 7, 64),
        Some((7, 23))
    );
    assert_eq!(bearer(b"xBearer abcdefghijklmnop", 1, 8, 64), None);
}

#[test]
fn aws_secrets_stand_alone() {
    let key = "0123456789012345678901234567890123456789";
    let case = |pre: &str, post: &str| {
        let hay = format!("{pre}k={key}{post}");
        let start = pre.len();
        let end = start + 2 + key.len();
        aws_secret(hay.as_bytes(), start, end)
    };
    assert_eq!(case(" ", " "), Some((3, 43)));
    assert_eq!(case("x", " "), None);
    assert_eq!(case(" ", "A"), None);
    assert_eq!(case(" ", "/"), None);
    assert_eq!(case(" ", "+"), None);
}

#[test]
fn ssns_do_not_continue_a_run_of_digits() {
    assert_eq!(ssn(b"1 123-45-6789", 2, 13), None);
    assert_eq!(ssn(b"a 123-45-6789", 2, 13), Some((2, 13)));
}
