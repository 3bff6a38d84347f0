//! What keeps one address, one account or one stream from taking the
//! server from everyone else (`[limits]`): the door (connections open and
//! opened per second, per address), the login guard (failed logins per
//! address and per account, with a back-off) and the shaper (bytes per
//! second a stream may send, enforced by reading more slowly, so the
//! excess waits in the peer's socket rather than in our memory).
//!
//! Pure bookkeeping on tokio's clock, so the tests move time by hand.
//! Every table here is bounded: an attacker with many addresses or many
//! account names fills it up to its cap, not the server's memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Distinct addresses (or accounts) a table tracks at most. Past it, the
/// idle entries are swept; if none is idle, a newcomer is refused (the
/// door) or not tracked (the login guard, which then errs on the side of
/// letting people try).
const MAX_TRACKED: usize = 100_000;

/// A token bucket: `rate` per second, up to `burst` saved.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub fn new(rate: u64, burst: u64, now: Instant) -> Bucket {
        let burst = burst.max(rate).max(1) as f64;
        Bucket {
            rate: rate as f64,
            burst,
            tokens: burst,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
    }

    /// Takes `n` if there are that many.
    pub fn try_take(&mut self, n: u64, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }

    /// Takes `n` whatever there is (what was already read cannot be
    /// refused), and says how long until the bucket is out of debt.
    pub fn charge(&mut self, n: u64, now: Instant) -> Option<Duration> {
        self.refill(now);
        self.tokens -= n as f64;
        (self.tokens < 0.0).then(|| Duration::from_secs_f64(-self.tokens / self.rate))
    }

    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

/// Bytes per second one stream may send: after each read it waits out
/// whatever the read put it in debt. None when the rate is 0 (no shaping).
#[derive(Debug, Clone)]
pub struct Shaper(Bucket);

impl Shaper {
    pub fn new(rate: u64, burst: u64) -> Option<Shaper> {
        (rate > 0).then(|| Shaper(Bucket::new(rate, burst, Instant::now())))
    }

    /// After reading `n` bytes: how long to stop reading.
    pub fn read(&mut self, n: usize) -> Option<Duration> {
        self.0.charge(n as u64, Instant::now())
    }
}

/// What one connection may still do, carried with its reading from the
/// accept to the end of its session (the framer holds it): its place at
/// the door, its shaper, and the bytes it may send before it has logged in.
#[derive(Default)]
pub struct Allowance {
    /// Freed when the connection's reading ends.
    pub admitted: Option<Admitted>,
    pub shaper: Option<Shaper>,
    /// Bytes left before authentication; None once authenticated.
    pub preauth: Option<usize>,
}

/// A connection sent more than `[limits] preauth_bytes` before logging in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too much data before authentication")]
pub struct PreauthSpent;

impl Allowance {
    /// After reading `n` bytes: how long to stop reading, or the
    /// pre-authentication allowance is spent.
    pub fn read(&mut self, n: usize) -> Result<Option<Duration>, PreauthSpent> {
        if let Some(left) = &mut self.preauth {
            *left = left.checked_sub(n).ok_or(PreauthSpent)?;
        }
        Ok(self.shaper.as_mut().and_then(|s| s.read(n)))
    }
}

/// The key an address is counted under: IPv6 hosts get a /64 each, so
/// one cannot dodge the limit by walking its own prefix.
fn host(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The door's settings.
#[derive(Debug, Clone, Copy)]
pub struct DoorLimits {
    /// Connections open at once per address; 0: no limit.
    pub open: usize,
    /// New connections per second per address, and the burst allowed;
    /// rate 0: no limit.
    pub rate: u64,
    pub burst: u64,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("too many connections from this address")]
    TooMany,
    #[error("connecting too fast from this address")]
    TooFast,
}

struct Door {
    open: usize,
    bucket: Bucket,
}

struct DoorTable {
    limits: DoorLimits,
    doors: HashMap<IpAddr, Door>,
}

/// Refused connections being answered at once, across listeners. Each
/// answer takes a task and a socket for up to 2 s; a flood from many
/// addresses must not buy itself thousands of them.
const MAX_REFUSING: usize = 256;

/// Connections per address, open and new. Shared by every listener.
#[derive(Clone)]
pub struct Doorman {
    table: Arc<Mutex<DoorTable>>,
    refusing: Arc<tokio::sync::Semaphore>,
}

/// A connection let in; its place frees when this is dropped.
pub struct Admitted {
    table: Arc<Mutex<DoorTable>>,
    host: IpAddr,
}

impl Doorman {
    pub fn new(limits: DoorLimits) -> Doorman {
        Doorman {
            table: Arc::new(Mutex::new(DoorTable {
                limits,
                doors: HashMap::new(),
            })),
            refusing: Arc::new(tokio::sync::Semaphore::new(MAX_REFUSING)),
        }
    }

    /// A place for answering one refused connection, held by the answer;
    /// `None` when [`MAX_REFUSING`] are being answered, and the connection
    /// is then closed without one.
    pub fn refusing(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.refusing.clone().try_acquire_owned().ok()
    }

    /// Runs `answer` (telling a refused connection why) on `tasks` if a
    /// place is free; otherwise drops it, and the connection it owns
    /// closes without a word.
    pub fn answer_refusal<F>(&self, tasks: &tokio_util::task::TaskTracker, answer: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Some(place) = self.refusing() {
            tasks.spawn(async move {
                answer.await;
                drop(place);
            });
        }
    }

    pub fn admit(&self, ip: IpAddr) -> Result<Admitted, Refused> {
        let now = Instant::now();
        let host = host(ip);
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let DoorLimits { open, rate, burst } = t.limits;
        if t.doors.len() >= MAX_TRACKED && !t.doors.contains_key(&host) {
            t.doors
                .retain(|_, d| d.open > 0 || (rate > 0 && !d.bucket.is_full(now)));
            if t.doors.len() >= MAX_TRACKED {
                return Err(Refused::TooFast);
            }
        }
        let door = t.doors.entry(host).or_insert_with(|| Door {
            open: 0,
            bucket: Bucket::new(rate, burst, now),
        });
        if open > 0 && door.open >= open {
            return Err(Refused::TooMany);
        }
        if rate > 0 && !door.bucket.try_take(1, now) {
            return Err(Refused::TooFast);
        }
        door.open += 1;
        Ok(Admitted {
            table: self.table.clone(),
            host,
        })
    }

    /// Connections open from `ip` now.
    pub fn open(&self, ip: IpAddr) -> usize {
        let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.doors.get(&host(ip)).map_or(0, |d| d.open)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let rate = t.limits.rate;
        if let Some(d) = t.doors.get_mut(&self.host) {
            d.open -= 1;
            if d.open == 0 && (rate == 0 || d.bucket.is_full(now)) {
                t.doors.remove(&self.host);
            }
        }
    }
}

/// The login guard's settings.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failures from one address before it is made to wait; 0: never.
    pub per_address: u32,
    /// Failures on one account (from anywhere) before it is made to wait.
    pub per_account: u32,
    /// The first wait; each further failure doubles it, up to `max_wait`.
    pub wait: Duration,
    pub max_wait: Duration,
}

#[derive(Debug)]
struct Record {
    failures: u32,
    last: Instant,
    until: Option<Instant>,
}

struct Lockouts<K> {
    threshold: u32,
    records: HashMap<K, Record>,
}

impl<K: Hash + Eq + Clone> Lockouts<K> {
    fn new(threshold: u32) -> Self {
        Lockouts {
            threshold,
            records: HashMap::new(),
        }
    }

    fn waiting(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.records.get(key)?.until?;
        (until > now).then(|| until - now)
    }

    fn failed(&mut self, key: &K, limits: &LoginLimits, now: Instant) {
        if self.threshold == 0 {
            return;
        }
        let forget = limits.max_wait.max(Duration::from_secs(600));
        if self.records.len() >= MAX_TRACKED && !self.records.contains_key(key) {
            self.records.retain(|_, r| now - r.last < forget);
            if self.records.len() >= MAX_TRACKED {
                return;
            }
        }
        let r = self.records.entry(key.clone()).or_insert(Record {
            failures: 0,
            last: now,
            until: None,
        });
        if now - r.last >= forget {
            r.failures = 0;
        }
        r.failures += 1;
        r.last = now;
        if r.failures >= self.threshold {
            let doublings = (r.failures - self.threshold).min(20);
            let wait = limits
                .wait
                .saturating_mul(1 << doublings)
                .min(limits.max_wait);
            r.until = Some(now + wait);
        }
    }
}

struct Guard {
    limits: LoginLimits,
    addresses: Lockouts<IpAddr>,
    accounts: Lockouts<String>,
}

/// Failed logins per address and per account. While one waits, its
/// logins are refused without looking at the password, so guessing goes
/// no faster than the back-off allows.
#[derive(Clone)]
pub struct LoginGuard(Arc<Mutex<Guard>>);

impl LoginGuard {
    pub fn new(limits: LoginLimits) -> LoginGuard {
        LoginGuard(Arc::new(Mutex::new(Guard {
            addresses: Lockouts::new(limits.per_address),
            accounts: Lockouts::new(limits.per_account),
            limits,
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Guard> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long `ip`, or `account` when known, must still wait.
    pub fn waiting(&self, ip: IpAddr, account: Option<&str>) -> Option<Duration> {
        let now = Instant::now();
        let g = self.lock();
        let by_address = g.addresses.waiting(&host(ip), now);
        let by_account = account.and_then(|a| g.accounts.waiting(&a.to_string(), now));
        by_address.max(by_account)
    }

    pub fn failed(&self, ip: IpAddr, account: Option<&str>) {
        let now = Instant::now();
        let g = &mut *self.lock();
        g.addresses.failed(&host(ip), &g.limits, now);
        if let Some(a) = account {
            g.accounts.failed(&a.to_string(), &g.limits, now);
        }
    }

    /// The account's owner got in: its count starts again. The address's
    /// does not, or one valid account would let its holder guess others'.
    pub fn succeeded(&self, account: &str) {
        self.lock().accounts.records.remove(account);
    }
}

#[cfg(test)]
#[path = "limit_tests.rs"]
mod tests;
