//! `ebill import accounts|bills FILE.csv`: bulk import with the feed's validation and idempotency. The file is
//! streamed (memory does not grow with it): a reader thread parses and validates batches while the database writes
//! the previous one. Rejected lines are reported with their line numbers; a summary ends the run.

mod accounts_csv;
mod bills_csv;
mod progress;

use crate::db::Database;
use crate::domain::account::Account;
use crate::domain::bill::Bill;
use crate::domain::feed::{ItemOutcome, OutcomeTally, Rejection};
use crate::feed::{self, FeedItem};
use progress::Progress;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Accounts,
    Bills,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot open {0}: {1}")]
    Open(PathBuf, std::io::Error),
    #[error("{0}")]
    Header(String),
    #[error("the CSV file cannot be read at line {line}: {message}")]
    Csv { line: u64, message: String },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// What an import did.
#[derive(Debug, Clone, Copy)]
pub struct ImportSummary {
    pub tally: OutcomeTally,
    pub elapsed: Duration,
}

impl ImportSummary {
    pub fn rows_per_second(&self) -> f64 {
        self.tally.total() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Rows parsed and written together: one transaction each.
const BATCH_ROWS: usize = 2_000;

/// A parsed batch: (line number, item or why it was refused).
type LineBatch<T> = Vec<(u64, Result<T, Rejection>)>;

/// Imports `path` into the database. Rejected lines are written to `report` as `line N: CODE: reason`.
pub async fn run(
    db: &Database,
    kind: ImportKind,
    path: &Path,
    now_ms: impl Fn() -> i64,
    show_progress: bool,
    report: &mut (dyn Write + Send),
) -> Result<ImportSummary, ImportError> {
    match kind {
        ImportKind::Accounts => {
            run_kind::<Account>(db, path, accounts_csv::FORMAT, now_ms, show_progress, report).await
        }
        ImportKind::Bills => run_kind::<Bill>(db, path, bills_csv::FORMAT, now_ms, show_progress, report).await,
    }
}

/// Maps a CSV file's header to the columns an import needs, in their order.
pub(crate) struct Columns(Vec<usize>);

impl Columns {
    fn from_header(header: &csv::StringRecord, required: &[&str], optional: &[&str]) -> Result<Columns, ImportError> {
        let find = |name: &str| header.iter().position(|h| h.trim().trim_start_matches('\u{feff}') == name);
        let mut indexes = Vec::with_capacity(required.len() + optional.len());
        for name in required {
            indexes.push(find(name).ok_or_else(|| {
                ImportError::Header(format!("the header has no column {name:?}; expected {}", required.join(",")))
            })?);
        }
        for name in optional {
            indexes.push(find(name).unwrap_or(usize::MAX));
        }
        Ok(Columns(indexes))
    }

    /// The value of the `n`th named column (empty when an optional column is absent).
    pub(crate) fn get<'r>(&self, record: &'r csv::StringRecord, n: usize) -> &'r str {
        record.get(self.0[n]).unwrap_or("").trim()
    }
}

/// Turns one CSV record into an item, given the columns it asked for.
type ParseFn<T> = fn(&Columns, &csv::StringRecord) -> Result<T, Rejection>;

/// A CSV format: the parser, the required columns and the optional ones, in the order the parser reads them.
pub(crate) type CsvFormat<T> = (ParseFn<T>, &'static [&'static str], &'static [&'static str]);

async fn run_kind<T: FeedItem + 'static>(
    db: &Database,
    path: &Path,
    format: CsvFormat<T>,
    now_ms: impl Fn() -> i64,
    show_progress: bool,
    report: &mut (dyn Write + Send),
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let file = std::fs::File::open(path).map_err(|e| ImportError::Open(path.to_path_buf(), e))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(std::io::BufReader::new(file));
    let header = reader.headers().map_err(|e| ImportError::Csv { line: 1, message: e.to_string() })?.clone();
    let (parse_one, required, optional) = format;
    let columns = Columns::from_header(&header, required, optional)?;

    // The reader thread parses ahead by at most two batches, so memory stays flat whatever the file's size.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<(LineBatch<T>, u64), ImportError>>(2);
    let reader_thread = std::thread::spawn(move || {
        let mut batch: LineBatch<T> = Vec::with_capacity(BATCH_ROWS);
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {
                    let line = record.position().map(|p| p.line()).unwrap_or(0);
                    batch.push((line, parse_one(&columns, &record)));
                    if batch.len() == BATCH_ROWS {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                        if sender.blocking_send(Ok((full, reader.position().byte()))).is_err() {
                            return;
                        }
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    let _ = sender.blocking_send(Err(ImportError::Csv { line, message: e.to_string() }));
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = sender.blocking_send(Ok((batch, reader.position().byte())));
        }
    });

    let mut tally = OutcomeTally::default();
    let mut progress = Progress::new(show_progress, file_len);
    let mut failure = None;
    while let Some(message) = receiver.recv().await {
        let (batch, bytes_read) = match message {
            Ok(batch) => batch,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let (lines, items): (Vec<u64>, Vec<Result<T, Rejection>>) = batch.into_iter().unzip();
        let outcomes = match feed::apply(db, items, now_ms(), None).await {
            Ok(outcomes) => outcomes,
            Err(feed::ApplyError::Database(e)) => {
                failure = Some(ImportError::Database(e));
                break;
            }
            Err(feed::ApplyError::Replayed) => unreachable!("imports carry no replay guard"),
        };
        for (line, outcome) in lines.into_iter().zip(outcomes) {
            if let ItemOutcome::Rejected(r) = &outcome {
                progress.clear();
                let _ = writeln!(report, "line {line}: {}: {}", r.code, r.reason);
            }
            tally.add(&outcome);
        }
        progress.update(tally.total(), bytes_read, started.elapsed());
    }
    drop(receiver);
    let _ = reader_thread.join();
    progress.finish();
    match failure {
        Some(e) => Err(e),
        None => Ok(ImportSummary { tally, elapsed: started.elapsed() }),
    }
}
