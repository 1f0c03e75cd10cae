//! A one-line progress display on a terminal: rows, share of the file, rate. Silent when not on a terminal.

use std::io::Write;
use std::time::{Duration, Instant};

pub struct Progress {
    enabled: bool,
    file_len: u64,
    last_drawn: Option<Instant>,
    drawn: bool,
}

impl Progress {
    pub fn new(enabled: bool, file_len: u64) -> Progress {
        Progress { enabled, file_len, last_drawn: None, drawn: false }
    }

    pub fn update(&mut self, rows: u64, bytes_read: u64, elapsed: Duration) {
        if !self.enabled || self.last_drawn.is_some_and(|t| t.elapsed() < Duration::from_millis(200)) {
            return;
        }
        self.last_drawn = Some(Instant::now());
        let share = if self.file_len > 0 { bytes_read as f64 * 100.0 / self.file_len as f64 } else { 0.0 };
        let rate = rows as f64 / elapsed.as_secs_f64().max(1e-9);
        let width = 30;
        let filled = ((share / 100.0) * width as f64).round().clamp(0.0, width as f64) as usize;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {share:5.1}%  {rows} rows  {rate:.0} rows/s ",
            "#".repeat(filled),
            "-".repeat(width - filled)
        );
        let _ = err.flush();
        self.drawn = true;
    }

    /// Clears the line so that a message can be printed cleanly.
    pub fn clear(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}\r", " ".repeat(80));
            let _ = err.flush();
            self.drawn = false;
            self.last_drawn = None;
        }
    }

    pub fn finish(&mut self) {
        self.clear();
    }
}
