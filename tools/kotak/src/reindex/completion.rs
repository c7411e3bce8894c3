//! When is a queued reindex finished? The node counts, per shard, the
//! accounts waiting for or in a rebuild, including requests its indexer has
//! not taken yet ([`IndexProgress::accounts_pending`]); a request is counted
//! before the node answers it. So the wait ends when nothing is pending;
//! the rebuild counter then tells whether every queued account was rebuilt
//! (an account deleted meanwhile, or whose rebuild failed, is not).

use kotak_engine::fts::IndexProgress;
use kotak_engine::ReindexPlan;

/// What the latest reading says about the queued rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Still working.
    Running,
    /// Every queued account is rebuilt.
    Done,
    /// The queue drained with fewer accounts rebuilt than queued.
    Incomplete {
        /// Accounts rebuilt since the request.
        rebuilt: u64,
    },
}

/// Follows the node's counters from the moment a rebuild was queued.
#[derive(Debug)]
pub struct Completion {
    start: IndexProgress,
    plan: ReindexPlan,
    last: IndexProgress,
}

impl Completion {
    /// Starts following a rebuild that queued `plan` when the counters
    /// read `start`.
    pub fn new(plan: ReindexPlan, start: IndexProgress) -> Completion {
        Completion { start, plan, last: start }
    }

    /// Takes one reading of the counters.
    pub fn observe(&mut self, p: IndexProgress) -> Verdict {
        self.last = p;
        if p.accounts_pending > 0 {
            return Verdict::Running;
        }
        let rebuilt = p.accounts_rebuilt.saturating_sub(self.start.accounts_rebuilt);
        if rebuilt >= self.plan.accounts {
            Verdict::Done
        } else {
            Verdict::Incomplete { rebuilt }
        }
    }

    /// Messages indexed since the request, at most the planned count: the
    /// progress bar's position.
    pub fn messages_done(&self) -> u64 {
        self.last.messages_indexed.saturating_sub(self.start.messages_indexed).min(self.plan.messages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(pending: u64, rebuilt: u64, indexed: u64) -> IndexProgress {
        IndexProgress { accounts_pending: pending, accounts_rebuilt: rebuilt, messages_indexed: indexed }
    }

    /// (pending, rebuilt, indexed) as the node reports them.
    type Counters = (u64, u64, u64);
    /// A case: its name, the counters at the request, then readings with
    /// the verdict each must give.
    type Case = (&'static str, Counters, &'static [(Counters, Verdict)]);

    #[test]
    fn verdicts() {
        let plan = ReindexPlan { accounts: 2, messages: 100, mail_bytes: 0 };
        let cases: &[Case] = &[
            ("drains", (2, 5, 0), &[((2, 5, 10), Verdict::Running), ((1, 6, 60), Verdict::Running), ((0, 7, 100), Verdict::Done)]),
            ("others ahead of ours", (3, 0, 0), &[((4, 1, 10), Verdict::Running), ((0, 5, 90), Verdict::Done)]),
            ("one deleted meanwhile", (2, 0, 0), &[((1, 1, 50), Verdict::Running), ((0, 1, 50), Verdict::Incomplete { rebuilt: 1 })]),
            ("counters reset by a restart", (2, 9, 900), &[((1, 0, 5), Verdict::Running)]),
        ];
        for (name, start, readings) in cases {
            let mut c = Completion::new(plan, progress(start.0, start.1, start.2));
            for &((pending, rebuilt, indexed), want) in *readings {
                assert_eq!(c.observe(progress(pending, rebuilt, indexed)), want, "{name}");
                assert!(c.messages_done() <= plan.messages, "{name}");
            }
        }
    }

    #[test]
    fn bar_position_counts_from_the_start_and_stops_at_the_plan() {
        let mut c = Completion::new(ReindexPlan { accounts: 1, messages: 100, mail_bytes: 0 }, progress(1, 0, 40));
        assert_eq!(c.messages_done(), 0);
        c.observe(progress(1, 0, 90));
        assert_eq!(c.messages_done(), 50);
        c.observe(progress(1, 0, 400));
        assert_eq!(c.messages_done(), 100);
    }
}
