//! Unit tests of `requirement`.

use super::*;

fn run(req: &Requirement, outcomes: &[Outcome]) -> Result<(), Code> {
    let any_token = outcomes.iter().any(|o| *o != Outcome::Missing);
    req.evaluate(
        &mut |i| outcomes.get(i).cloned().unwrap_or(Outcome::Missing),
        any_token,
    )
    .map_err(|d| d.code)
}

fn failed() -> Outcome {
    Outcome::Failed(Denial::new(Code::SignatureInvalid, "bad"))
}

#[test]
fn envoy_semantics() {
    use Requirement::*;
    let a = Provider(0);
    assert_eq!(run(&a, &[Outcome::Verified]), Ok(()));
    assert_eq!(run(&a, &[Outcome::Missing]), Err(Code::TokenMissing));
    assert_eq!(run(&a, &[failed()]), Err(Code::SignatureInvalid));

    let any = Any(vec![Provider(0), Provider(1)]);
    assert_eq!(run(&any, &[Outcome::Missing, Outcome::Verified]), Ok(()));
    assert_eq!(
        run(&any, &[Outcome::Missing, failed()]),
        Err(Code::SignatureInvalid),
        "a failure says more than missing"
    );
    assert_eq!(
        run(&any, &[Outcome::Missing, Outcome::Missing]),
        Err(Code::TokenMissing)
    );

    let all = All(vec![Provider(0), Provider(1)]);
    assert_eq!(run(&all, &[Outcome::Verified, Outcome::Verified]), Ok(()));
    assert_eq!(
        run(&all, &[Outcome::Verified, Outcome::Missing]),
        Err(Code::TokenMissing)
    );

    let optional = Any(vec![Provider(0), AllowMissing]);
    assert_eq!(
        run(&optional, &[Outcome::Missing]),
        Ok(()),
        "no token: allowed"
    );
    assert_eq!(run(&optional, &[Outcome::Verified]), Ok(()));
    assert_eq!(
        run(&optional, &[failed()]),
        Err(Code::SignatureInvalid),
        "a bad token is still refused"
    );

    let lenient = Any(vec![Provider(0), AllowMissingOrFailed]);
    assert_eq!(run(&lenient, &[failed()]), Ok(()));
    assert_eq!(run(&lenient, &[Outcome::Missing]), Ok(()));
}
