use rand::rngs::mock::StepRng;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

fn rec(priority: u16, weight: u16, host: &str) -> SrvRecord {
    SrvRecord {
        priority,
        weight,
        target: Target {
            host: host.to_string(),
            port: 5269,
            direct_tls: false,
        },
    }
}

fn hosts(targets: &[Target]) -> Vec<&str> {
    targets.iter().map(|t| t.host.as_str()).collect()
}

#[test]
fn priorities_ascend_whatever_the_weights() {
    let records = vec![
        rec(30, 100, "c"),
        rec(10, 0, "a"),
        rec(20, 65535, "b"),
        rec(0, 1, "first"),
    ];
    let mut rng = StdRng::seed_from_u64(7);
    let order = rfc2782_order(records, &mut rng);
    assert_eq!(hosts(&order), ["first", "a", "b", "c"]);
}

#[test]
fn all_zero_weights_keep_the_dns_order() {
    let records = vec![rec(5, 0, "x"), rec(5, 0, "y"), rec(5, 0, "z")];
    for seed in 0..20 {
        let order = rfc2782_order(records.clone(), &mut StdRng::seed_from_u64(seed));
        assert_eq!(hosts(&order), ["x", "y", "z"]);
    }
}

#[test]
fn zero_weight_records_come_first_in_the_candidate_list() {
    // A draw of 0 picks the first candidate; RFC 2782 puts the weight-0
    // records there, so they are picked before the weighted ones.
    let records = vec![rec(1, 10, "heavy"), rec(1, 0, "zero"), rec(1, 5, "light")];
    let order = rfc2782_order(records.clone(), &mut StepRng::new(0, 0));
    assert_eq!(hosts(&order), ["zero", "heavy", "light"]);
    // With real draws a weight-0 record is rarely first (1 in 16 here).
    let mut rng = StdRng::seed_from_u64(1);
    let zero_first = (0..1600)
        .filter(|_| rfc2782_order(records.clone(), &mut rng)[0].host == "zero")
        .count();
    assert!((50..=150).contains(&zero_first), "{zero_first}");
}

#[test]
fn weights_share_the_first_place_proportionally() {
    let records = vec![rec(1, 1, "one"), rec(1, 3, "three")];
    let mut rng = StdRng::seed_from_u64(42);
    let three_first = (0..4000)
        .filter(|_| rfc2782_order(records.clone(), &mut rng)[0].host == "three")
        .count();
    // RFC 2782 draws from 0..=sum, inclusive: draws 0 and 1 pick "one",
    // 2..=4 pick "three", so "three" leads 3 times in 5, not 3 in 4.
    assert!((2200..=2600).contains(&three_first), "{three_first}");
}

#[test]
fn a_seeded_rng_gives_the_same_order() {
    let records: Vec<_> = (0..8)
        .map(|i| rec(i % 3, 10 + i, &format!("h{i}")))
        .collect();
    let a = rfc2782_order(records.clone(), &mut StdRng::seed_from_u64(99));
    let b = rfc2782_order(records.clone(), &mut StdRng::seed_from_u64(99));
    assert_eq!(a, b);
    assert_eq!(a.len(), 8);
    let priorities: Vec<u16> = a
        .iter()
        .map(|t| records.iter().find(|r| r.target == *t).unwrap().priority)
        .collect();
    assert!(
        priorities.windows(2).all(|w| w[0] <= w[1]),
        "{priorities:?}"
    );
}

#[test]
fn timeouts_are_told_apart() {
    let addr: SocketAddr = "127.0.0.1:5269".parse().unwrap();
    let host = "x".to_string();
    assert!(ResolveError::DnsTimeout { name: host.clone() }.is_timeout());
    assert!(ResolveError::ConnectTimeout {
        host: host.clone(),
        addr
    }
    .is_timeout());
    assert!(!ResolveError::NoService {
        domain: host.clone()
    }
    .is_timeout());
    assert!(!ResolveError::NoAddress { host }.is_timeout());
}

#[tokio::test]
async fn the_system_configuration_is_read_when_no_nameserver_is_given() {
    // Only built, never asked: tests send no query off this machine.
    assert!(S2sResolver::new(BTreeMap::new(), Vec::new()).is_ok());
}
