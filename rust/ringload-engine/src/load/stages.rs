//! Ramps: a target (requests per second, or connections) that moves linearly from one value
//! to the next over each stage, like k6's `stages`. After the last stage the target holds.

use std::time::Duration;

use crate::error::{ConfigError, StageProblem, StageRamp};

/// One stage: over `duration`, move to `target`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target: f64,
}

/// A piecewise-linear target over time: `start` at 0, then each stage in turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    start: f64,
    stages: Vec<Stage>,
}

impl Ramp {
    /// A ramp from `start`; `ramp` says which target it moves (for errors).
    pub fn new(start: f64, stages: Vec<Stage>, ramp: StageRamp) -> Result<Ramp, ConfigError> {
        let refuse = |problem: StageProblem| Err(ConfigError::Stage { ramp, problem });
        if stages.is_empty() {
            return refuse(StageProblem::Empty);
        }
        if !(start.is_finite() && start >= 0.0) {
            return refuse(StageProblem::Start(start));
        }
        for (index, stage) in stages.iter().enumerate() {
            // As the user counts them.
            let index = index + 1;
            if stage.duration.is_zero() || stage.duration > crate::load::limits::MAX_DURATION {
                return refuse(StageProblem::Duration { index });
            }
            if !(stage.target.is_finite() && stage.target >= 0.0) {
                return refuse(StageProblem::Target {
                    index,
                    target: stage.target,
                });
            }
        }
        Ok(Ramp { start, stages })
    }

    /// The stages' total duration.
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The highest target anywhere on the ramp.
    pub fn peak(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| s.target)
            .fold(self.start, f64::max)
    }

    /// The segments as `(begin_s, length_s, from, to)`; the hold after the last stage is an
    /// endless segment.
    fn segments(&self) -> impl Iterator<Item = (f64, f64, f64, f64)> + '_ {
        let mut begin = 0.0;
        let mut from = self.start;
        self.stages
            .iter()
            .map(move |stage| {
                let segment = (begin, stage.duration.as_secs_f64(), from, stage.target);
                begin += stage.duration.as_secs_f64();
                from = stage.target;
                segment
            })
            .chain(std::iter::once((
                self.duration().as_secs_f64(),
                f64::INFINITY,
                self.last(),
                self.last(),
            )))
    }

    fn last(&self) -> f64 {
        self.stages.last().map_or(self.start, |s| s.target)
    }

    /// The target at `t` seconds.
    pub fn at(&self, t: f64) -> f64 {
        for (begin, length, from, to) in self.segments() {
            if t < begin + length {
                if length.is_infinite() {
                    return to;
                }
                return from + (to - from) * ((t - begin).max(0.0) / length);
            }
        }
        self.last()
    }

    /// The integral of the target from 0 to `t` seconds: requests due by then, for a rate.
    pub fn integral(&self, t: f64) -> f64 {
        let mut total = 0.0;
        for (begin, length, from, to) in self.segments() {
            if t <= begin {
                break;
            }
            let span = (t - begin).min(length);
            let slope = if length.is_infinite() {
                0.0
            } else {
                (to - from) / length
            };
            total += from * span + slope * span * span / 2.0;
        }
        total
    }

    /// The first time (seconds) at which the integral reaches `n`; `None` if it never does
    /// (the ramp ends at zero first).
    pub fn time_of_integral(&self, n: f64) -> Option<f64> {
        let mut before = 0.0;
        for (begin, length, from, to) in self.segments() {
            let slope = if length.is_infinite() {
                0.0
            } else {
                (to - from) / length
            };
            let here = if length.is_infinite() {
                f64::INFINITY
            } else {
                from * length + slope * length * length / 2.0
            };
            if before + here >= n {
                let wanted = (n - before).max(0.0);
                if wanted == 0.0 {
                    return Some(begin);
                }
                if from == 0.0 && slope == 0.0 {
                    return None;
                }
                // Solves from * s + slope * s^2 / 2 = wanted in the form that stays accurate
                // when slope is near zero (or negative).
                let root = (from * from + 2.0 * slope * wanted).max(0.0).sqrt();
                return Some(begin + 2.0 * wanted / (from + root));
            }
            before += here;
        }
        None
    }

    /// The first time (seconds) at or after `t` when the target is at least `level`; `None`
    /// if it never is again.
    pub fn next_time_at_least(&self, t: f64, level: f64) -> Option<f64> {
        for (begin, length, from, to) in self.segments() {
            let end = begin + length;
            if end <= t {
                continue;
            }
            let lo = t.max(begin);
            if self.at(lo) >= level {
                return Some(lo);
            }
            if to >= level && to > from {
                // Rising through `level` inside this segment.
                let crossing = begin + (level - from) / (to - from) * length;
                return Some(crossing.max(lo));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(start: f64, stages: &[(u64, f64)]) -> Ramp {
        let stages = stages
            .iter()
            .map(|&(secs, target)| Stage {
                duration: Duration::from_secs(secs),
                target,
            })
            .collect();
        Ramp::new(start, stages, StageRamp::Rate).unwrap()
    }

    #[test]
    fn a_ramp_is_linear_then_holds() {
        let r = ramp(0.0, &[(10, 100.0), (10, 100.0), (5, 0.0)]);
        assert_eq!(r.at(5.0), 50.0);
        assert_eq!(r.at(15.0), 100.0);
        assert_eq!(r.at(22.5), 50.0);
        assert_eq!(r.at(100.0), 0.0);
        assert_eq!(r.duration(), Duration::from_secs(25));
        assert_eq!(r.peak(), 100.0);
        // 500 in the ramp up, 1000 flat, 250 down.
        assert_eq!(r.integral(10.0), 500.0);
        assert_eq!(r.integral(25.0), 1750.0);
        assert_eq!(r.integral(1000.0), 1750.0);
    }

    #[test]
    fn time_of_integral_inverts_the_integral() {
        let r = ramp(20.0, &[(10, 100.0), (10, 0.0)]);
        for t in [0.0, 0.5, 3.0, 9.99, 10.0, 12.0, 19.0] {
            let back = r.time_of_integral(r.integral(t)).unwrap();
            assert!((back - t).abs() < 1e-9, "{t} -> {back}");
        }
        assert_eq!(r.time_of_integral(r.integral(20.0) + 1.0), None);
        // Holding a rate after the stages: requests keep coming.
        let flat = ramp(0.0, &[(2, 10.0)]);
        assert_eq!(flat.time_of_integral(20.0), Some(3.0));
    }

    #[test]
    fn next_time_at_least_finds_rising_crossings() {
        let r = ramp(0.0, &[(10, 10.0), (10, 0.0)]);
        assert_eq!(r.next_time_at_least(0.0, 5.0), Some(5.0));
        assert_eq!(r.next_time_at_least(7.0, 5.0), Some(7.0));
        assert_eq!(r.next_time_at_least(16.0, 5.0), None);
        let again = ramp(0.0, &[(10, 10.0), (10, 0.0), (10, 10.0)]);
        assert_eq!(again.next_time_at_least(16.0, 5.0), Some(25.0));
    }

    #[test]
    fn bad_stages_are_refused() {
        let stage = |secs: u64, target: f64| Stage {
            duration: Duration::from_secs(secs),
            target,
        };
        let refused = |start: f64, stages: Vec<Stage>, ramp: StageRamp| {
            let error = Ramp::new(start, stages, ramp).unwrap_err();
            (error.clone(), error.to_string())
        };
        assert_eq!(
            refused(0.0, vec![], StageRamp::Rate),
            (
                ConfigError::Stage {
                    ramp: StageRamp::Rate,
                    problem: StageProblem::Empty
                },
                "rate stages: give at least one".to_string()
            )
        );
        assert_eq!(
            refused(-1.0, vec![stage(1, 5.0)], StageRamp::Rate),
            (
                ConfigError::Stage {
                    ramp: StageRamp::Rate,
                    problem: StageProblem::Start(-1.0)
                },
                "rate stages start from -1: use a number of at least zero".to_string()
            )
        );
        // The index is the stage's as the user counts them, from 1.
        assert_eq!(
            refused(
                0.0,
                vec![stage(1, 5.0), stage(0, 5.0)],
                StageRamp::Connections
            ),
            (
                ConfigError::Stage {
                    ramp: StageRamp::Connections,
                    problem: StageProblem::Duration { index: 2 }
                },
                "connection stage 2: the duration must be more than zero and at most a year"
                    .to_string()
            )
        );
        assert_eq!(
            refused(0.0, vec![stage(1, -5.0)], StageRamp::Rate),
            (
                ConfigError::Stage {
                    ramp: StageRamp::Rate,
                    problem: StageProblem::Target {
                        index: 1,
                        target: -5.0
                    }
                },
                "rate stage 1: the target -5 must be a number of at least zero".to_string()
            )
        );
        let (nan, _) = refused(0.0, vec![stage(1, f64::NAN)], StageRamp::Rate);
        assert!(
            matches!(
                nan,
                ConfigError::Stage {
                    problem: StageProblem::Target { index: 1, .. },
                    ..
                }
            ),
            "{nan:?}"
        );
    }
}
