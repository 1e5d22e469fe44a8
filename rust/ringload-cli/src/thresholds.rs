//! `--fail-on EXPR`: conditions that make the run exit non-zero (k6's thresholds idea).
//! An expression names the failing condition: `p99>200ms` fails when p99 exceeds 200 ms.

use ringload_engine::report::format_us;
use ringload_engine::Report;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    /// A latency statistic in microseconds: min, mean, max or a percentile.
    Latency(LatencyStat),
    Rps,
    /// Failed requests (any kind).
    Errors,
    /// Responses with status 400 or above.
    HttpErrors,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LatencyStat {
    Min,
    Mean,
    Max,
    Percentile(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Greater,
    GreaterEq,
    Less,
    LessEq,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Limit {
    /// Latency limit in microseconds, rps, or a count.
    Number(f64),
    /// A share of all requests, in percent.
    Percent(f64),
}

/// One parsed `--fail-on` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    text: String,
    metric: Metric,
    op: Op,
    limit: Limit,
}

/// The outcome of checking one threshold against a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub expression: String,
    /// The observed value, in the threshold's terms (human readable).
    pub observed: String,
    pub crossed: bool,
}

impl Verdict {
    pub fn to_json(&self) -> serde_json::Value {
        json!({"expr": self.expression, "observed": self.observed, "crossed": self.crossed})
    }
}

impl Threshold {
    pub fn parse(raw: &str) -> Result<Threshold, String> {
        let text: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        let bad = |why: &str| format!("invalid --fail-on {raw:?}: {why}");
        let op_at = text
            .find(['<', '>'])
            .ok_or_else(|| bad("expected METRIC<VALUE or METRIC>VALUE, e.g. p99>200ms"))?;
        let (name, rest) = text.split_at(op_at);
        let (op, value) = if let Some(v) = rest.strip_prefix(">=") {
            (Op::GreaterEq, v)
        } else if let Some(v) = rest.strip_prefix("<=") {
            (Op::LessEq, v)
        } else if let Some(v) = rest.strip_prefix('>') {
            (Op::Greater, v)
        } else {
            (Op::Less, &rest[1..])
        };
        let metric =
            match name {
                "min" => Metric::Latency(LatencyStat::Min),
                "mean" => Metric::Latency(LatencyStat::Mean),
                "max" => Metric::Latency(LatencyStat::Max),
                "rps" => Metric::Rps,
                "errors" => Metric::Errors,
                "http_errors" => Metric::HttpErrors,
                p if p.starts_with('p') => Metric::Latency(LatencyStat::Percentile(
                    parse_percentile(&p[1..]).ok_or_else(|| bad("unknown percentile"))?,
                )),
                _ => return Err(bad(
                    "unknown metric; use min, mean, max, p50..p9999, rps, errors or http_errors",
                )),
            };
        let limit = match metric {
            Metric::Latency(_) => Limit::Number(
                parse_latency_us(value)
                    .ok_or_else(|| bad("latency needs a unit: us, ms or s (e.g. 200ms)"))?,
            ),
            Metric::Rps => Limit::Number(value.parse().map_err(|_| bad("rps needs a number"))?),
            Metric::Errors | Metric::HttpErrors => match value.strip_suffix('%') {
                Some(p) => Limit::Percent(p.parse().map_err(|_| bad("invalid percentage"))?),
                None => Limit::Number(value.parse().map_err(|_| bad("invalid count"))?),
            },
        };
        Ok(Threshold {
            text,
            metric,
            op,
            limit,
        })
    }

    /// Checks the threshold. A latency threshold with no completed request counts as crossed:
    /// there is no evidence the target met it.
    pub fn check(&self, report: &Report) -> Verdict {
        let (observed, shown) = match self.metric {
            Metric::Latency(stat) => {
                let value = match stat {
                    LatencyStat::Min => report.outcomes.latency_us.min.map(|v| v as f64),
                    LatencyStat::Mean => report.outcomes.latency_us.mean,
                    LatencyStat::Max => report.outcomes.latency_us.max.map(|v| v as f64),
                    LatencyStat::Percentile(p) => report.percentile(p).map(|v| v as f64),
                };
                match value {
                    Some(v) => (v, format_us(v)),
                    None => {
                        return Verdict {
                            expression: self.text.clone(),
                            observed: "no completed request".into(),
                            crossed: true,
                        }
                    }
                }
            }
            Metric::Rps => (report.outcomes.rps, format!("{:.1}", report.outcomes.rps)),
            Metric::Errors => self.count_or_share(report.failed_total(), report.outcomes.requests),
            Metric::HttpErrors => {
                let count = report
                    .outcomes
                    .status
                    .iter()
                    .filter(|(code, _)| **code >= 400)
                    .map(|(_, n)| n)
                    .sum();
                self.count_or_share(count, report.outcomes.requests)
            }
        };
        let limit = match self.limit {
            Limit::Number(v) | Limit::Percent(v) => v,
        };
        let crossed = match self.op {
            Op::Greater => observed > limit,
            Op::GreaterEq => observed >= limit,
            Op::Less => observed < limit,
            Op::LessEq => observed <= limit,
        };
        Verdict {
            expression: self.text.clone(),
            observed: shown,
            crossed,
        }
    }

    fn count_or_share(&self, count: u64, requests: u64) -> (f64, String) {
        match self.limit {
            Limit::Percent(_) => {
                let share = if requests == 0 {
                    0.0
                } else {
                    100.0 * count as f64 / requests as f64
                };
                (share, format!("{share:.3}% ({count} of {requests})"))
            }
            Limit::Number(_) => (count as f64, count.to_string()),
        }
    }
}

/// `99` -> 99.0, `999` -> 99.9, `9999` -> 99.99, `50` -> 50.0.
fn parse_percentile(digits: &str) -> Option<f64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: f64 = if digits.len() <= 2 {
        digits.parse().ok()?
    } else {
        format!("{}.{}", &digits[..2], &digits[2..]).parse().ok()?
    };
    (value > 0.0 && value <= 100.0).then_some(value)
}

fn parse_latency_us(value: &str) -> Option<f64> {
    let (number, scale) = if let Some(v) = value.strip_suffix("us") {
        (v, 1.0)
    } else if let Some(v) = value.strip_suffix("ms") {
        (v, 1e3)
    } else if let Some(v) = value.strip_suffix('s') {
        (v, 1e6)
    } else {
        return None;
    };
    let v: f64 = number.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_expressions() {
        let t = Threshold::parse("p99 > 200ms").unwrap();
        assert_eq!(t.metric, Metric::Latency(LatencyStat::Percentile(99.0)));
        assert_eq!(t.op, Op::Greater);
        assert_eq!(t.limit, Limit::Number(200_000.0));
        let t = Threshold::parse("p999>=1s").unwrap();
        assert_eq!(t.metric, Metric::Latency(LatencyStat::Percentile(99.9)));
        assert_eq!(t.limit, Limit::Number(1_000_000.0));
        assert_eq!(
            Threshold::parse("errors>1%").unwrap().limit,
            Limit::Percent(1.0)
        );
        assert_eq!(
            Threshold::parse("errors>10").unwrap().limit,
            Limit::Number(10.0)
        );
        assert_eq!(Threshold::parse("rps<5000").unwrap().op, Op::Less);
        for bad in [
            "p99",
            "p99>200",
            "latency>1ms",
            "rps<fast",
            "errors>x%",
            "p0>1ms",
            "p>1ms",
        ] {
            assert!(Threshold::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
