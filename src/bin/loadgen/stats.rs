//! Counters and latency samples shared by the generator's tasks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Microseconds on one clock shared by senders and receivers (same
/// process), so a body's timestamp gives the one-way latency directly.
#[derive(Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn new() -> Clock {
        Clock(Instant::now())
    }

    pub fn now_us(&self) -> u64 {
        self.0.elapsed().as_micros() as u64
    }

    pub fn at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.0).as_micros() as u64
    }
}

#[derive(Default)]
pub struct Counters {
    /// Messages sent inside the measured window.
    pub sent: AtomicU64,
    /// Messages received that were sent inside the measured window.
    pub received: AtomicU64,
    /// Messages sent or received during warm-up, not measured.
    pub warm_sent: AtomicU64,
    pub warm_received: AtomicU64,
    /// Error stanzas and connections lost while running.
    pub errors: AtomicU64,
    /// When the last measured message arrived (µs on the [`Clock`]).
    pub last_receive_us: AtomicU64,
    /// Latencies in µs, appended by each receiver when it ends.
    latencies: Mutex<Vec<u32>>,
    /// The first few error texts, for the report.
    error_samples: Mutex<Vec<String>>,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn error(&self, what: String) {
        Self::add(&self.errors, 1);
        let mut samples = self.error_samples.lock().expect("error samples");
        if samples.len() < 5 {
            samples.push(what);
        }
    }

    pub fn error_samples(&self) -> Vec<String> {
        self.error_samples.lock().expect("error samples").clone()
    }

    pub fn merge_latencies(&self, local: Vec<u32>) {
        self.latencies
            .lock()
            .expect("latencies")
            .extend_from_slice(&local);
    }

    /// (p50, p99, max) in milliseconds.
    pub fn percentiles(&self) -> Option<(f64, f64, f64)> {
        let mut all = std::mem::take(&mut *self.latencies.lock().expect("latencies"));
        percentiles(&mut all)
    }
}

pub fn percentiles(samples: &mut [u32]) -> Option<(f64, f64, f64)> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let at = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[i] as f64 / 1000.0
    };
    Some((at(0.50), at(0.99), at(1.0)))
}

/// Rounds for the JSON output: three decimals are plenty for ms and rates.
pub fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
