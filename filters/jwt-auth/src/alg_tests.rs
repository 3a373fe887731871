//! Unit tests of `alg`.

use super::*;

#[test]
fn none_is_refused_in_every_casing() {
    for name in ["none", "None", "NONE", "nOnE", "noNe"] {
        assert_eq!(Alg::parse(name).unwrap_err().code, Code::AlgNone, "{name}");
    }
}

#[test]
fn names_are_case_sensitive_and_round_trip() {
    for alg in Alg::ALL {
        assert_eq!(Alg::parse(alg.name()).unwrap(), alg);
    }
    assert_eq!(Alg::parse("hs256").unwrap_err().code, Code::AlgUnsupported);
    assert_eq!(Alg::parse("ES512").unwrap_err().code, Code::AlgUnsupported);
}
