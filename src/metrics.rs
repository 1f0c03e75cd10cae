//! Prometheus metrics: request counts and latencies by route, and database pool use, in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum_secs: f64,
}

#[derive(Default)]
struct Registry {
    /// (route, method, status) -> requests
    requests: BTreeMap<(String, String, u16), u64>,
    /// (route, method) -> latency
    latency: BTreeMap<(String, String), Histogram>,
    /// (platform, outcome) -> confirmed payments processed
    settlements: BTreeMap<(&'static str, &'static str), u64>,
    /// platform -> notifies refused by verification
    notify_rejected: BTreeMap<&'static str, u64>,
}

#[derive(Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

impl Metrics {
    /// Records one request. `route` is the matched route pattern (never the raw path, which would carry ids).
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        *registry.requests.entry((route.to_string(), method.to_string(), status)).or_default() += 1;
        let histogram = registry.latency.entry((route.to_string(), method.to_string())).or_default();
        histogram.count += 1;
        histogram.sum_secs += secs;
        for (bucket, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
    }

    /// Counts a confirmed payment by its outcome (`settled`, `duplicate`, `already_recorded`, ...).
    pub fn count_settlement(&self, platform: &'static str, outcome: &'static str) {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        *registry.settlements.entry((platform, outcome)).or_default() += 1;
    }

    /// Counts a notify refused because it failed verification.
    pub fn count_notify_rejected(&self, platform: &'static str) {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        *registry.notify_rejected.entry(platform).or_default() += 1;
    }

    /// The text exposition, with the pool gauges given by the caller.
    pub fn render(&self, pool_size: u32, pool_idle: usize, info: &[(&str, &str)]) -> String {
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let labels: Vec<String> = info.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        let _ = writeln!(out, "# HELP ebill_build_info The running build and mode.");
        let _ = writeln!(out, "# TYPE ebill_build_info gauge");
        let _ = writeln!(out, "ebill_build_info{{{}}} 1", labels.join(","));

        let _ = writeln!(out, "# HELP ebill_http_requests_total HTTP requests by route, method and status.");
        let _ = writeln!(out, "# TYPE ebill_http_requests_total counter");
        for ((route, method, status), n) in &registry.requests {
            let _ = writeln!(
                out,
                "ebill_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }

        let _ = writeln!(out, "# HELP ebill_http_request_duration_seconds HTTP request latency by route and method.");
        let _ = writeln!(out, "# TYPE ebill_http_request_duration_seconds histogram");
        for ((route, method), h) in &registry.latency {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "ebill_http_request_duration_seconds_bucket{{route=\"{route}\",method=\"{method}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "ebill_http_request_duration_seconds_bucket{{route=\"{route}\",method=\"{method}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "ebill_http_request_duration_seconds_sum{{route=\"{route}\",method=\"{method}\"}} {}",
                h.sum_secs
            );
            let _ = writeln!(
                out,
                "ebill_http_request_duration_seconds_count{{route=\"{route}\",method=\"{method}\"}} {}",
                h.count
            );
        }

        let _ = writeln!(out, "# HELP ebill_payment_notifications_total Confirmed payments by platform and outcome.");
        let _ = writeln!(out, "# TYPE ebill_payment_notifications_total counter");
        for ((platform, outcome), n) in &registry.settlements {
            let _ =
                writeln!(out, "ebill_payment_notifications_total{{platform=\"{platform}\",outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP ebill_notify_rejected_total Notifies refused because they failed verification.");
        let _ = writeln!(out, "# TYPE ebill_notify_rejected_total counter");
        for (platform, n) in &registry.notify_rejected {
            let _ = writeln!(out, "ebill_notify_rejected_total{{platform=\"{platform}\"}} {n}");
        }

        let _ = writeln!(out, "# HELP ebill_db_pool_connections Database pool connections by state.");
        let _ = writeln!(out, "# TYPE ebill_db_pool_connections gauge");
        let idle = pool_idle as u64;
        let busy = (pool_size as u64).saturating_sub(idle);
        let _ = writeln!(out, "ebill_db_pool_connections{{state=\"idle\"}} {idle}");
        let _ = writeln!(out, "ebill_db_pool_connections{{state=\"busy\"}} {busy}");
        out
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let metrics = Metrics::default();
        metrics.observe_request("/healthz", "GET", 200, Duration::from_millis(2));
        metrics.observe_request("/healthz", "GET", 200, Duration::from_millis(30));
        let text = metrics.render(4, 3, &[("version", "0.1.0")]);
        assert!(text.contains("ebill_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.0025\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("ebill_db_pool_connections{state=\"busy\"} 1"));
    }
}
