//! The units of the command line and the scenario file: durations and `DURATION:TARGET` stages.

use std::time::Duration;

use ringload_engine::Stage;

/// `DURATION:TARGET`, e.g. `30s:2000`.
pub fn parse_stage(raw: &str) -> Result<Stage, String> {
    let (duration, target) = raw
        .rsplit_once(':')
        .ok_or_else(|| format!("invalid stage {raw:?}: use DURATION:TARGET, e.g. 30s:2000"))?;
    let target: f64 = target
        .trim()
        .parse()
        .ok()
        .filter(|t: &f64| t.is_finite() && *t >= 0.0)
        .ok_or_else(|| format!("invalid stage {raw:?}: the target must be a number >= 0"))?;
    Ok(Stage {
        duration: parse_duration(duration)?,
        target,
    })
}

/// `10s`, `2m`, `500ms`, `1h`, `250us`, or a bare number of seconds (may be fractional).
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let s = raw.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {raw:?}: use e.g. 10s, 2m, 500ms"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" => value / 1e6,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {raw:?}: use us, ms, s, m or h"
            ))
        }
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("duration {raw:?} must be greater than zero"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("duration {raw:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "0s", "ten", "5x", "-1s", "1e3s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn stages() {
        let stage = parse_stage("30s:2000").unwrap();
        assert_eq!(stage.duration, Duration::from_secs(30));
        assert_eq!(stage.target, 2000.0);
        assert_eq!(parse_stage("1.5:0").unwrap().target, 0.0);
        for bad in ["30s", "30s:", ":5", "0s:5", "30s:-1", "30s:fast", "x:5"] {
            assert!(parse_stage(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
