//! Printing a run's figures: a table for people, `--json` for scripts.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// The figures of one run.
#[derive(Debug, Serialize)]
pub struct Figures {
    pub scenario: &'static str,
    pub operations: u64,
    pub errors: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub mb_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Figures {
    /// Builds the figures from a latency histogram (microseconds).
    pub fn new(scenario: &'static str, hist: &Histogram<u64>, errors: u64, bytes: u64, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        Figures {
            scenario,
            operations: hist.len(),
            errors,
            seconds: secs,
            per_second: hist.len() as f64 / secs,
            mb_per_second: bytes as f64 / 1e6 / secs,
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            max_ms: hist.max() as f64 / 1000.0,
        }
    }

    /// Prints as a table or as one JSON object.
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string(self).unwrap_or_default());
            return;
        }
        println!("scenario      {}", self.scenario);
        println!("operations    {}", self.operations);
        println!("errors        {}", self.errors);
        println!("seconds       {:.2}", self.seconds);
        println!("ops/s         {:.1}", self.per_second);
        println!("MB/s          {:.2}", self.mb_per_second);
        println!("p50 latency   {:.2} ms", self.p50_ms);
        println!("p99 latency   {:.2} ms", self.p99_ms);
        println!("max latency   {:.2} ms", self.max_ms);
    }
}
