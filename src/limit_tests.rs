use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_door_counts_open_connections_per_address() {
    let d = Doorman::new(DoorLimits {
        open: 2,
        rate: 0,
        burst: 0,
    });
    let a = d.admit(ip("10.0.0.1")).unwrap();
    let _b = d.admit(ip("10.0.0.1")).unwrap();
    assert_eq!(d.admit(ip("10.0.0.1")).err(), Some(Refused::TooMany));
    assert!(
        d.admit(ip("10.0.0.2")).is_ok(),
        "another address is not affected"
    );
    drop(a);
    assert!(
        d.admit(ip("10.0.0.1")).is_ok(),
        "a closed connection frees its place"
    );
}

#[tokio::test(start_paused = true)]
async fn the_door_limits_the_rate_of_new_connections() {
    let d = Doorman::new(DoorLimits {
        open: 0,
        rate: 2,
        burst: 4,
    });
    let kept: Vec<_> = (0..4).map(|_| d.admit(ip("10.0.0.1")).unwrap()).collect();
    assert_eq!(d.admit(ip("10.0.0.1")).err(), Some(Refused::TooFast));
    tokio::time::advance(Duration::from_millis(500)).await;
    assert!(
        d.admit(ip("10.0.0.1")).is_ok(),
        "one more after half a second at 2/s"
    );
    assert_eq!(d.admit(ip("10.0.0.1")).err(), Some(Refused::TooFast));
    drop(kept);
}

#[tokio::test(start_paused = true)]
async fn ipv6_hosts_are_counted_per_64() {
    let d = Doorman::new(DoorLimits {
        open: 1,
        rate: 0,
        burst: 0,
    });
    let _a = d.admit(ip("2001:db8:1:2::1")).unwrap();
    assert_eq!(
        d.admit(ip("2001:db8:1:2::ffff")).err(),
        Some(Refused::TooMany)
    );
    assert!(d.admit(ip("2001:db8:1:3::1")).is_ok());
    let _m = d.admit(ip("::ffff:10.0.0.9")).unwrap();
    assert_eq!(
        d.admit(ip("10.0.0.9")).err(),
        Some(Refused::TooMany),
        "mapped v4 is v4"
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_address_is_forgotten() {
    let d = Doorman::new(DoorLimits {
        open: 5,
        rate: 10,
        burst: 10,
    });
    drop(d.admit(ip("10.0.0.1")).unwrap());
    assert_eq!(
        d.table.lock().unwrap().doors.len(),
        1,
        "its bucket is not full yet"
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    drop(d.admit(ip("10.0.0.1")).unwrap());
    tokio::time::advance(Duration::from_secs(1)).await;
    let a = d.admit(ip("10.0.0.2")).unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;
    drop(a);
    assert!(!d.table.lock().unwrap().doors.contains_key(&ip("10.0.0.2")));
}

#[test]
fn refusals_answered_at_once_are_bounded() {
    let d = Doorman::new(DoorLimits {
        open: 1,
        rate: 0,
        burst: 0,
    });
    let places: Vec<_> = (0..MAX_REFUSING).map(|_| d.refusing().unwrap()).collect();
    assert!(d.refusing().is_none());
    drop(places);
    assert!(d.refusing().is_some());
}

fn guard() -> LoginGuard {
    LoginGuard::new(LoginLimits {
        per_address: 3,
        per_account: 5,
        wait: Duration::from_secs(2),
        max_wait: Duration::from_secs(60),
    })
}

#[tokio::test(start_paused = true)]
async fn failures_from_an_address_make_it_wait_longer_each_time() {
    let g = guard();
    let a = ip("10.0.0.1");
    for _ in 0..2 {
        g.failed(a, Some("x@agents.test"));
        assert_eq!(g.waiting(a, None), None);
    }
    g.failed(a, Some("y@agents.test"));
    assert_eq!(g.waiting(a, None), Some(Duration::from_secs(2)));
    assert_eq!(g.waiting(ip("10.0.0.2"), Some("z@agents.test")), None);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(g.waiting(a, None), None, "the wait is over");
    g.failed(a, None);
    assert_eq!(g.waiting(a, None), Some(Duration::from_secs(4)));
    for _ in 0..10 {
        g.failed(a, None);
    }
    assert_eq!(g.waiting(a, None), Some(Duration::from_secs(60)), "capped");
}

#[tokio::test(start_paused = true)]
async fn failures_on_an_account_from_many_addresses_make_it_wait() {
    let g = guard();
    for i in 0..5 {
        g.failed(ip(&format!("10.0.1.{i}")), Some("alice@agents.test"));
    }
    let elsewhere = ip("10.9.9.9");
    assert_eq!(
        g.waiting(elsewhere, Some("alice@agents.test")),
        Some(Duration::from_secs(2))
    );
    assert_eq!(g.waiting(elsewhere, Some("bob@agents.test")), None);
    g.succeeded("alice@agents.test");
    assert_eq!(g.waiting(elsewhere, Some("alice@agents.test")), None);
}

#[tokio::test(start_paused = true)]
async fn old_failures_are_forgotten() {
    let g = guard();
    let a = ip("10.0.0.1");
    g.failed(a, None);
    g.failed(a, None);
    tokio::time::advance(Duration::from_secs(601)).await;
    g.failed(a, None);
    assert_eq!(
        g.waiting(a, None),
        None,
        "two failures ten minutes ago do not count"
    );
}

#[tokio::test(start_paused = true)]
async fn an_allowance_counts_bytes_before_login_and_shapes_after() {
    let mut a = Allowance {
        admitted: None,
        shaper: Shaper::new(100, 100),
        preauth: Some(150),
    };
    assert_eq!(a.read(100), Ok(None));
    assert_eq!(a.read(50), Ok(Some(Duration::from_millis(500))));
    assert_eq!(a.read(1), Err(PreauthSpent));
    a.preauth = None;
    assert!(a.read(1000).is_ok(), "no byte limit once logged in");
}

#[tokio::test(start_paused = true)]
async fn the_shaper_makes_a_stream_wait_out_its_debt() {
    assert!(Shaper::new(0, 0).is_none(), "rate 0: no shaping");
    let mut s = Shaper::new(1000, 2000).unwrap();
    assert_eq!(s.read(2000), None, "the burst is free");
    assert_eq!(s.read(500), Some(Duration::from_millis(500)));
    tokio::time::advance(Duration::from_millis(500)).await;
    assert_eq!(s.read(0), None);
}
