//! Chat traffic at a fixed offered rate: each peer's writer sends timestamped
//! messages on a timer, each peer's reader counts what arrives and keeps the
//! latency of every message sent in the measured window.
//!
//! Writers wake about once per message they owe (between 2 ms and 100 ms)
//! and write everything due in one go, so a thousand slow senders do not
//! cost a thousand wake-ups per message, and a fast sender batches.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use switchboard::net::Transport;
use switchboard::xml::{escape_attr, read_frame, Frame, Framer, Stanza};

use super::conn::{text, Conn};
use super::probe::{delta, Probe};
use super::stats::{Clock, Counters};

/// What the traffic of one run shares.
pub struct Shared {
    pub clock: Clock,
    pub counters: Counters,
    /// Messages stamped before this (µs on the clock) are warm-up.
    pub measure_from_us: AtomicU64,
    pub cancel: CancellationToken,
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared {
            clock: Clock::new(),
            counters: Counters::default(),
            measure_from_us: AtomicU64::new(u64::MAX),
            cancel: CancellationToken::new(),
        })
    }
}

/// Where a peer's messages go, in turn; may grow while it runs (an agent
/// learning its sessions' proxy JIDs).
pub type Dests = Arc<Mutex<Vec<String>>>;

pub fn dests(list: Vec<String>) -> Dests {
    Arc::new(Mutex::new(list))
}

/// Sees every stanza that is not a bench message (support warm-up).
pub type Hook = Arc<dyn Fn(&Stanza) + Send + Sync>;

/// A logged-in client taking part in the traffic.
pub struct Peer {
    pub dests: Dests,
    queue: mpsc::UnboundedSender<Vec<u8>>,
    go: Option<oneshot::Sender<Go>>,
    writer: Option<JoinHandle<()>>,
    reader: Option<JoinHandle<()>>,
}

impl Peer {
    /// Splits the stream and starts both halves at once: IQs are answered
    /// and queued bytes sent from the start; timed messages wait for
    /// [`run`].
    pub fn start(conn: Conn, shared: &Arc<Shared>, dests: Dests, hook: Option<Hook>) -> Peer {
        let (read, write) = tokio::io::split(conn.io);
        let (queue, queued) = mpsc::unbounded_channel();
        let (go, go_rx) = oneshot::channel();
        let reader = tokio::spawn(read_loop(
            read,
            conn.framer,
            shared.clone(),
            queue.clone(),
            hook,
        ));
        let writer = Writer {
            out: write,
            queued,
            dests: dests.clone(),
            shared: shared.clone(),
        };
        Peer {
            dests,
            queue,
            go: Some(go),
            writer: Some(tokio::spawn(writer.run(go_rx))),
            reader: Some(reader),
        }
    }

    /// Queues raw bytes for the writer (initial presence, a first message).
    pub fn queue(&self, data: impl Into<Vec<u8>>) {
        let _ = self.queue.send(data.into());
    }

    /// Closes the stream and waits for both halves (after a cancel).
    pub async fn join(&mut self) {
        for h in [self.writer.take(), self.reader.take()]
            .into_iter()
            .flatten()
        {
            let _ = h.await;
        }
    }
}

/// What a writer needs to start timed messages.
struct Go {
    rate: f64,
    quota: Option<u64>,
    stop_at: Instant,
    pad: Arc<String>,
}

/// Bounds of one run.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub warmup: Duration,
    pub duration: Duration,
    /// At most this many measured messages in all (None: time only).
    pub count: Option<u64>,
    /// How long to wait for stragglers after the last send.
    pub drain: Duration,
    /// Bytes of filler in each body, for a realistic stanza size.
    pub pad: usize,
}

pub struct Outcome {
    pub sent: u64,
    pub received: u64,
    pub window_s: f64,
    pub server_cpu_ms: Option<f64>,
    pub gen_cpu_ms: Option<f64>,
    /// Wall time between the two CPU samples.
    pub cpu_wall_s: f64,
}

/// Runs the writers of `peers` at `rates` (messages/s each) for `plan`, and
/// returns once everything measured has arrived or the drain time passed.
pub async fn run(
    shared: &Arc<Shared>,
    peers: &mut [Peer],
    rates: &[f64],
    plan: Plan,
    server: Probe,
) -> anyhow::Result<Outcome> {
    let t0 = Instant::now();
    let measure_at = t0 + plan.warmup;
    let stop_at = measure_at + plan.duration;
    shared
        .measure_from_us
        .store(shared.clock.at(measure_at), Ordering::Relaxed);
    let total: f64 = rates.iter().sum();
    let pad = Arc::new("x".repeat(plan.pad));
    for (peer, &rate) in peers.iter_mut().zip(rates) {
        let quota = plan.count.map(|c| {
            let share = if total > 0.0 { rate / total } else { 0.0 };
            (c as f64 * share).ceil() as u64 + (plan.warmup.as_secs_f64() * rate).ceil() as u64
        });
        let go = Go {
            rate,
            quota,
            stop_at,
            pad: pad.clone(),
        };
        if let Some(tx) = peer.go.take() {
            let _ = tx.send(go);
        }
    }
    tokio::time::sleep_until(measure_at.into()).await;
    let gen = Probe::me();
    let (server0, gen0) = (server.cpu_ms()?, gen.cpu_ms()?);
    let sampled_at = Instant::now();
    let c = &shared.counters;
    // Senders stop at stop_at, or earlier once their quota is spent.
    while Instant::now() < stop_at {
        let quota_done = plan.count.is_some_and(|n| Counters::get(&c.sent) >= n);
        if quota_done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain_until = Instant::now() + plan.drain;
    while Instant::now() < drain_until {
        // Writers may still be finishing their last batch: compare after.
        tokio::time::sleep(Duration::from_millis(10)).await;
        if Instant::now() >= stop_at && Counters::get(&c.received) >= Counters::get(&c.sent) {
            break;
        }
    }
    let (server1, gen1) = (server.cpu_ms()?, gen.cpu_ms()?);
    let cpu_wall_s = sampled_at.elapsed().as_secs_f64();
    let from = shared.measure_from_us.load(Ordering::Relaxed);
    let last = Counters::get(&c.last_receive_us).max(from);
    let window_s = ((last - from) as f64 / 1e6).max(1e-3);
    shared.cancel.cancel();
    for p in peers.iter_mut() {
        p.join().await;
    }
    Ok(Outcome {
        sent: Counters::get(&c.sent),
        received: Counters::get(&c.received),
        window_s,
        server_cpu_ms: delta(server0, server1),
        gen_cpu_ms: delta(gen0, gen1),
        cpu_wall_s,
    })
}

struct Writer {
    out: WriteHalf<Transport>,
    queued: mpsc::UnboundedReceiver<Vec<u8>>,
    dests: Dests,
    shared: Arc<Shared>,
}

impl Writer {
    async fn run(mut self, go: oneshot::Receiver<Go>) {
        let cancel = self.shared.cancel.clone();
        let mut go = std::pin::pin!(go);
        let go = loop {
            tokio::select! {
                _ = cancel.cancelled() => return self.close().await,
                q = self.queued.recv() => {
                    if let Some(q) = q {
                        if self.write(&q).await.is_err() {
                            return;
                        }
                    }
                }
                g = &mut go => match g {
                    Ok(g) => break g,
                    Err(_) => return self.close().await,
                },
            }
        };
        let period = if go.rate > 0.0 {
            Duration::from_secs_f64((1.0 / go.rate).clamp(0.002, 0.1))
        } else {
            Duration::from_millis(100)
        };
        // A random phase, so peers do not all send in the same millisecond.
        let phase = rand::thread_rng().gen_range(0..period.as_micros() as u64);
        let start = Instant::now() + Duration::from_micros(phase);
        let mut ticker = tokio::time::interval_at(start.into(), period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut sent = 0u64;
        let mut next_dest = 0usize;
        let mut buf = Vec::with_capacity(8192);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                q = self.queued.recv() => {
                    if let Some(q) = q {
                        if self.write(&q).await.is_err() {
                            break;
                        }
                    }
                    continue;
                }
                _ = ticker.tick() => {}
            }
            let until = Instant::now().min(go.stop_at);
            let mut due = (until.saturating_duration_since(start).as_secs_f64() * go.rate) as u64;
            if let Some(q) = go.quota {
                due = due.min(q);
            }
            if sent >= due {
                continue;
            }
            buf.clear();
            {
                let dests = self.dests.lock().expect("dests");
                if dests.is_empty() {
                    continue;
                }
                let from = self.shared.measure_from_us.load(Ordering::Relaxed);
                let c = &self.shared.counters;
                while sent < due {
                    let dest = &dests[next_dest % dests.len()];
                    next_dest = next_dest.wrapping_add(1);
                    let t = self.shared.clock.now_us();
                    let _ = write!(
                        buf,
                        "<message to='{}' type='chat' id='m{sent}'><body>bench {t} {sent} {}</body></message>",
                        escape_attr(dest),
                        go.pad
                    );
                    Counters::add(if t >= from { &c.sent } else { &c.warm_sent }, 1);
                    sent += 1;
                }
            }
            if self.write(&buf).await.is_err() {
                self.shared.counters.error("write failed".into());
                break;
            }
        }
        self.close().await
    }

    async fn close(&mut self) {
        let _ = self.out.write_all(b"</stream:stream>").await;
        let _ = self.out.shutdown().await;
    }

    async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.out.write_all(data).await?;
        self.out.flush().await
    }
}

/// `(timestamp µs, sequence)` from a bench message's body.
fn bench_stamp(raw: &[u8]) -> Option<u64> {
    const MARK: &[u8] = b">bench ";
    let at = raw.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let digits = raw[at..].iter().take_while(|b| b.is_ascii_digit());
    let mut t = 0u64;
    let mut n = 0;
    for d in digits {
        t = t * 10 + u64::from(d - b'0');
        n += 1;
    }
    (n > 0).then_some(t)
}

async fn read_loop(
    mut read: ReadHalf<Transport>,
    mut framer: Framer,
    shared: Arc<Shared>,
    replies: mpsc::UnboundedSender<Vec<u8>>,
    hook: Option<Hook>,
) {
    let mut latencies = Vec::new();
    let c = &shared.counters;
    loop {
        let frame = tokio::select! {
            f = read_frame(&mut read, &mut framer) => f,
            _ = shared.cancel.cancelled() => break,
        };
        let s = match frame {
            Ok(Frame::Element(s)) => s,
            Ok(other) => {
                // Our own close is answered with the server's.
                if !shared.cancel.is_cancelled() {
                    c.error(format!("stream ended: {other:?}"));
                }
                break;
            }
            Err(e) => {
                if !shared.cancel.is_cancelled() {
                    c.error(format!("connection lost: {e:?}"));
                }
                break;
            }
        };
        match (s.name(), s.type_()) {
            ("message", Some("error")) => c.error(text(&s)),
            ("message", _) => match bench_stamp(s.bytes()) {
                Some(t) => {
                    let now = shared.clock.now_us();
                    if t >= shared.measure_from_us.load(Ordering::Relaxed) {
                        Counters::add(&c.received, 1);
                        c.last_receive_us.fetch_max(now, Ordering::Relaxed);
                        latencies.push(now.saturating_sub(t).min(u32::MAX as u64) as u32);
                    } else {
                        Counters::add(&c.warm_received, 1);
                    }
                }
                None => {
                    if let Some(h) = &hook {
                        h(&s)
                    }
                }
            },
            ("iq", Some("get" | "set")) => {
                // A polite client: roster pushes and pings get a result.
                let to = s.from().map(|f| format!(" to='{}'", escape_attr(f)));
                let reply = format!(
                    "<iq type='result' id='{}'{}/>",
                    escape_attr(s.id().unwrap_or("")),
                    to.unwrap_or_default()
                );
                let _ = replies.send(reply.into_bytes());
            }
            ("iq" | "presence", Some("error")) => c.error(text(&s)),
            _ => {
                if let Some(h) = &hook {
                    h(&s)
                }
            }
        }
    }
    c.merge_latencies(latencies);
}
