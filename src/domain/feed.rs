//! What becomes of each item the marketing system feeds us, whether by the HTTP feed or by bulk import.

use serde::Serialize;

/// Why an item was refused: a stable code and a human reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub reason: String,
}

impl Rejection {
    pub fn new(code: &'static str, reason: impl Into<String>) -> Rejection {
        Rejection { code, reason: reason.into() }
    }
}

/// The result for one item of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    Created,
    Updated,
    Unchanged,
    Rejected(Rejection),
}

impl ItemOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            ItemOutcome::Created => "created",
            ItemOutcome::Updated => "updated",
            ItemOutcome::Unchanged => "unchanged",
            ItemOutcome::Rejected(_) => "rejected",
        }
    }
}

/// Counts of outcomes over a batch or a whole import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeTally {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl OutcomeTally {
    pub fn add(&mut self, outcome: &ItemOutcome) {
        match outcome {
            ItemOutcome::Created => self.created += 1,
            ItemOutcome::Updated => self.updated += 1,
            ItemOutcome::Unchanged => self.unchanged += 1,
            ItemOutcome::Rejected(_) => self.rejected += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.created + self.updated + self.unchanged + self.rejected
    }
}
