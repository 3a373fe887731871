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
