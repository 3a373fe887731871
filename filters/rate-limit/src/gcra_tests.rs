//! The limiter's promises, over arbitrary rates, bursts and clocks (proptest).

use proptest::prelude::*;

use super::*;

const SECOND: u64 = 1_000_000_000;
/// Some time in 2023, in nanoseconds: far from 0 and from overflow.
const T0: u64 = 1_700_000_000 * SECOND;

fn limit() -> impl Strategy<Value = Gcra> {
    (1u64..2_000, 1u64..3_600, 1u64..500)
        .prop_filter_map("valid", |(r, secs, b)| Gcra::new(r, secs * SECOND, b))
}

/// Runs arrivals (nanosecond offsets from T0, sorted) through one limit.
fn admitted(limit: &Gcra, offsets: &[u64]) -> Vec<u64> {
    let mut tat = 0;
    let mut times = Vec::new();
    for &o in offsets {
        if let Verdict::Admit { tat: next, .. } = check(limit, tat, T0 + o) {
            tat = next;
            times.push(o);
        }
    }
    times
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No window of length `w` ever holds more than `burst + w / emission` admissions.
    #[test]
    fn no_window_exceeds_burst_plus_rate(
        limit in limit(),
        mut offsets in prop::collection::vec(0u64..(20 * SECOND), 1..600),
        w in 1u64..(10 * SECOND),
    ) {
        offsets.sort_unstable();
        let times = admitted(&limit, &offsets);
        let bound = limit.burst + w / limit.emission;
        for (i, start) in times.iter().enumerate() {
            let inside = times[i..].iter().take_while(|t| **t <= start + w).count() as u64;
            prop_assert!(inside <= bound, "{inside} in {w} ns > {bound}");
        }
    }

    /// A fresh bucket admits exactly `burst` requests at one instant, and the next one
    /// is told to come back after exactly one emission interval, when it fits.
    #[test]
    fn a_fresh_bucket_admits_its_burst_then_one_per_interval(limit in limit(), at in 0u64..SECOND) {
        let now = T0 + at;
        let mut tat = 0;
        for i in 0..limit.burst {
            match check(&limit, tat, now) {
                Verdict::Admit { tat: next, remaining, .. } => {
                    prop_assert_eq!(remaining, limit.burst - i - 1);
                    tat = next;
                }
                Verdict::Deny { .. } => prop_assert!(false, "request {i} of the burst refused"),
            }
        }
        let Verdict::Deny { retry_after } = check(&limit, tat, now) else {
            return Err(TestCaseError::fail("the request after the burst passed"));
        };
        prop_assert_eq!(retry_after, limit.emission);
        let later = matches!(check(&limit, tat, now + retry_after), Verdict::Admit { .. });
        prop_assert!(later, "refused when told to retry");
        let early = matches!(check(&limit, tat, now + retry_after - 1), Verdict::Deny { .. });
        prop_assert!(early, "admitted before the retry time");
    }

    /// Requests that arrive no faster than the rate always pass.
    #[test]
    fn requests_at_the_rate_always_pass(limit in limit(), n in 1usize..300, slack in 0u64..1_000) {
        let offsets: Vec<u64> = (0..n as u64).map(|i| i * (limit.emission + slack)).collect();
        prop_assert_eq!(admitted(&limit, &offsets).len(), n);
    }

    /// The reset is when the bucket is full again: then a whole burst fits.
    #[test]
    fn after_the_reset_a_whole_burst_fits(limit in limit(), used in 1u64..50) {
        let mut tat = 0;
        let mut reset = 0;
        for _ in 0..used.min(limit.burst) {
            if let Verdict::Admit { tat: t, reset: r, .. } = check(&limit, tat, T0) {
                tat = t;
                reset = r;
            }
        }
        prop_assert!(idle(&[tat], T0 + reset));
        if let Verdict::Admit { remaining, .. } = check(&limit, tat, T0 + reset) {
            prop_assert_eq!(remaining, limit.burst - 1);
        } else {
            prop_assert!(false, "refused after the reset");
        }
    }

    /// All limits of a bucket admit or none moves: the tightest one decides.
    #[test]
    fn every_limit_of_a_bucket_must_admit(a in limit(), b in limit(), n in 1usize..400) {
        let limits = [a, b];
        let mut tats = vec![0, 0];
        let mut passed = 0u64;
        for _ in 0..n {
            match check_all(&limits, &tats, T0) {
                Outcome::Admit { tats: next, .. } => { tats = next; passed += 1; }
                Outcome::Deny { retry_after, .. } => prop_assert!(retry_after > 0),
            }
        }
        prop_assert_eq!(passed, (n as u64).min(a.burst.min(b.burst)));
    }

    /// Shares of a limit over N workers never add up to more than the limit.
    #[test]
    fn worker_shares_add_up_to_at_most_the_limit(limit in limit(), workers in 1u32..64) {
        let share = limit.share(workers);
        let w = u64::from(workers);
        prop_assert!(share.burst >= 1);
        prop_assert!(share.burst * w <= limit.burst.max(w));
        prop_assert!(share.emission >= limit.emission * w);
    }
}

#[test]
fn zero_or_overflowing_limits_are_refused() {
    assert!(Gcra::new(0, SECOND, 1).is_none());
    assert!(Gcra::new(1, 0, 1).is_none());
    assert!(Gcra::new(1, SECOND, 0).is_none());
    assert!(Gcra::new(1, u64::MAX / 2, 4).is_none());
    let fast = Gcra::new(10, 1, 1).unwrap();
    assert_eq!(fast.emission, 1, "faster than a nanosecond is a nanosecond");
}

#[test]
fn a_refusal_names_the_limit_that_refuses_longest() {
    let per_second = Gcra::new(10, SECOND, 10).unwrap();
    let per_hour = Gcra::new(1, 3600 * SECOND, 1).unwrap();
    let Outcome::Admit {
        tats,
        tightest,
        remaining,
        ..
    } = check_all(&[per_second, per_hour], &[], T0)
    else {
        panic!("the first request must pass");
    };
    assert_eq!((tightest, remaining), (1, 0));
    match check_all(&[per_second, per_hour], &tats, T0) {
        Outcome::Deny { limit, retry_after } => {
            assert_eq!(limit, 1);
            assert_eq!(retry_after, 3600 * SECOND);
        }
        other => panic!("{other:?}"),
    }
    assert!(!idle(&tats, T0));
    assert!(idle(&tats, T0 + 3600 * SECOND));
}

#[test]
fn of_several_refusing_limits_the_longest_wait_is_reported_and_ties_go_to_the_first() {
    let per_second = Gcra::new(1, SECOND, 1).unwrap();
    let per_hour = Gcra::new(1, 3600 * SECOND, 1).unwrap();
    let Outcome::Admit { tats, .. } = check_all(&[per_second, per_hour], &[], T0) else {
        panic!("the first request must pass");
    };
    assert_eq!(
        check_all(&[per_second, per_hour], &tats, T0),
        Outcome::Deny {
            limit: 1,
            retry_after: 3600 * SECOND
        }
    );
    let reversed = [tats[1], tats[0]];
    assert_eq!(
        check_all(&[per_hour, per_second], &reversed, T0),
        Outcome::Deny {
            limit: 0,
            retry_after: 3600 * SECOND
        }
    );
    // Two equal limits: the first one is named, for refusals and for admissions.
    let Outcome::Admit { tats, tightest, .. } = check_all(&[per_second, per_second], &[], T0)
    else {
        panic!("the first request must pass");
    };
    assert_eq!(tightest, 0);
    assert_eq!(
        check_all(&[per_second, per_second], &tats, T0),
        Outcome::Deny {
            limit: 0,
            retry_after: SECOND
        }
    );
}
