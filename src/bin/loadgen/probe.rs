//! What the server process costs, read from /proc: CPU time (all threads)
//! and resident memory. The generator reads its own CPU too, so a report
//! shows when the generator rather than the server was the limit.

use anyhow::{Context, Result};

/// Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on
/// Linux, a kernel ABI constant whatever CONFIG_HZ is).
const TICKS_PER_SEC: f64 = 100.0;

/// A process whose cost is measured; `None` measures nothing (a server
/// started elsewhere, whose PID we were not told).
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pid: Option<u32>,
}

impl Probe {
    pub fn new(pid: Option<u32>) -> Probe {
        Probe { pid }
    }

    pub fn me() -> Probe {
        Probe {
            pid: Some(std::process::id()),
        }
    }

    /// User + system CPU time so far, in milliseconds.
    pub fn cpu_ms(&self) -> Result<Option<f64>> {
        let Some(pid) = self.pid else { return Ok(None) };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        // The command name is in parentheses and may contain spaces.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .context("malformed /proc stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After ")": state is field 3 of stat(5), so utime (14) and stime
        // (15) are at 11 and 12 here.
        let utime: f64 = fields.get(11).context("no utime")?.parse()?;
        let stime: f64 = fields.get(12).context("no stime")?.parse()?;
        Ok(Some((utime + stime) * 1000.0 / TICKS_PER_SEC))
    }

    /// Resident set size in KiB.
    pub fn rss_kb(&self) -> Result<Option<u64>> {
        let Some(pid) = self.pid else { return Ok(None) };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .context("no VmRSS")?;
        let kb = line
            .split_whitespace()
            .nth(1)
            .context("malformed VmRSS")?
            .parse()?;
        Ok(Some(kb))
    }
}

/// CPU used between two samples, when both exist.
pub fn delta(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    Some(after? - before?)
}
