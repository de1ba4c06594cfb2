//! Keeps `events` and `history` replies bounded in bytes as well as rows:
//! rows are read in small pages and added while the reply stays under the
//! cap (at least one, so a cursor always moves), and the reply's cursor
//! continues where the bytes ran out.

/// Rows read per database page while filling a reply.
pub const PAGE_ROWS: u32 = 100;

/// The rows of one reply and their size so far.
pub struct Budget<T> {
    cap: usize,
    used: usize,
    pub rows: Vec<T>,
    /// Set once a row did not fit.
    pub full: bool,
}

impl<T: serde::Serialize> Budget<T> {
    /// An empty reply that may hold `cap` bytes of rows.
    pub fn new(cap: usize) -> Self {
        Budget {
            cap,
            used: 0,
            rows: Vec::new(),
            full: false,
        }
    }

    /// Adds `row` if it fits (the first row always does); false when full.
    pub fn push(&mut self, row: T) -> bool {
        let size = serde_json::to_string(&row).map_or(0, |text| text.len() + 1);
        if !self.rows.is_empty() && self.used + size > self.cap {
            self.full = true;
            return false;
        }
        self.used += size;
        self.rows.push(row);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_budget_takes_rows_until_the_cap_but_always_one() {
        let mut budget = Budget::new(10);
        assert!(
            budget.push(Value::String("x".repeat(50))),
            "the first row always fits"
        );
        assert!(!budget.push(Value::String("y".into())));
        assert!(budget.full);
        assert_eq!(budget.rows.len(), 1);
    }
}
