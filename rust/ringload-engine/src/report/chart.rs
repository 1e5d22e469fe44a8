//! Line charts as inline SVG, drawn here so the HTML report needs no script or library and
//! makes no network fetch.

use std::fmt::Write;

use super::summary::format_us;

/// What the y values are, for the axis labels and tooltips.
#[derive(Clone, Copy)]
pub(super) enum Unit {
    /// Microseconds, shown as `812us`, `12.40ms`, on a log scale: a p50 of 200 us and a max
    /// of 15 ms stay readable on one chart.
    Micros,
    /// Plain counts or rates, on a linear scale from 0.
    Count,
}

/// What the x values are.
#[derive(Clone, Copy)]
pub(super) enum XAxis {
    /// Seconds since the start of the run.
    Seconds,
    /// `log10(1 / (1 - q))` of a quantile `q`: 0 is 0%, 1 is 90%, 2 is 99%, ...
    Nines,
}

pub(super) struct Series {
    pub name: String,
    pub color: &'static str,
    pub dashed: bool,
    /// `(x, y)` in x order; `None` where nothing was measured (a second in which no request
    /// completed has no latency): the line breaks there instead of joining its neighbours.
    pub points: Vec<Option<(f64, f64)>>,
}

impl Series {
    /// A series measured at every point.
    pub fn unbroken(
        name: String,
        color: &'static str,
        dashed: bool,
        points: impl IntoIterator<Item = (f64, f64)>,
    ) -> Series {
        Series {
            name,
            color,
            dashed,
            points: points.into_iter().map(Some).collect(),
        }
    }
}

pub(super) struct LineChart {
    /// The element id (tests and anchors find charts by it).
    pub id: &'static str,
    pub title: String,
    pub unit: Unit,
    pub x_axis: XAxis,
    pub series: Vec<Series>,
}

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 36.0;
/// Points get a marker with a tooltip up to this many per series; beyond, only the line.
const MAX_MARKERS: usize = 400;

/// Colors that stay apart for the usual handful of series.
pub(super) const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

impl LineChart {
    /// The chart as a `<figure>`: title, SVG, legend.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<figure class=\"chart\" id=\"{}\"><figcaption>{}</figcaption>",
            self.id,
            escape(&self.title)
        );
        let points = self.series.iter().flat_map(|s| s.points.iter().flatten());
        let (mut x_max, mut y_min, mut y_max) = (0f64, f64::INFINITY, 0f64);
        let mut any = false;
        for &(x, y) in points {
            x_max = x_max.max(x);
            y_min = y_min.min(y);
            y_max = y_max.max(y);
            any = true;
        }
        if !any {
            out.push_str("<p class=\"empty\">No data: nothing completed.</p></figure>");
            return out;
        }
        // Time ends where the run did (its last timeline entry), not at the next round tick:
        // rounding 10.01 s up to 15 s would leave a third of the chart empty.
        let (x_end, x_ticks) = match self.x_axis {
            XAxis::Seconds => {
                let end = if x_max > 0.0 { x_max } else { 1.0 };
                (end, ticks_within(end))
            }
            XAxis::Nines => {
                let ticks: Vec<f64> = (0..=x_max.ceil().max(1.0) as u32).map(f64::from).collect();
                (*ticks.last().unwrap_or(&1.0), ticks)
            }
        };
        let y_scale = match self.unit {
            Unit::Count => YScale::linear(y_max),
            Unit::Micros => YScale::log(y_min, y_max),
        };
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let sx = |x: f64| LEFT + x / x_end * plot_w;
        let sy = |y: f64| TOP + plot_h - y_scale.fraction(y) * plot_h;
        let y_ticks = &y_scale.ticks;

        let _ = write!(
            out,
            "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
            escape(&self.title)
        );
        for &y in y_ticks {
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                WIDTH - RIGHT,
                sy(y),
                sy(y),
                LEFT - 6.0,
                sy(y) + 4.0,
                escape(&self.format_y(y))
            );
        }
        for &x in &x_ticks {
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{TOP}\" y2=\"{:.1}\"/>\
                 <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                sx(x),
                sx(x),
                TOP + plot_h,
                sx(x),
                TOP + plot_h + 16.0,
                escape(&self.format_x(x))
            );
        }
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            LEFT + plot_w / 2.0,
            HEIGHT - 4.0,
            match self.x_axis {
                XAxis::Seconds => "seconds since start",
                XAxis::Nines => "percentile",
            }
        );
        for series in &self.series {
            let _ = write!(
                out,
                "<path class=\"series\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" \
                 stroke-linecap=\"round\"{} d=\"{}\"/>",
                series.color,
                if series.dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                },
                path_data(&series.points, sx, sy)
            );
            let measured: Vec<(f64, f64)> = series.points.iter().flatten().copied().collect();
            if measured.len() <= MAX_MARKERS {
                for &(x, y) in &measured {
                    let _ = write!(
                        out,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"><title>{}: {} at \
                         {}</title></circle>",
                        sx(x),
                        sy(y),
                        series.color,
                        escape(&series.name),
                        escape(&self.format_y(y)),
                        escape(&self.format_x(x))
                    );
                }
            }
        }
        out.push_str("</svg><ul class=\"legend\">");
        for series in &self.series {
            let _ = write!(
                out,
                "<li><span class=\"swatch{}\" style=\"border-color:{}\"></span>{}</li>",
                if series.dashed { " dashed" } else { "" },
                series.color,
                escape(&series.name)
            );
        }
        out.push_str("</ul></figure>");
        out
    }

    fn format_y(&self, y: f64) -> String {
        match self.unit {
            Unit::Micros => format_us(y),
            Unit::Count => format_count(y),
        }
    }

    fn format_x(&self, x: f64) -> String {
        match self.x_axis {
            XAxis::Seconds => format_count(x),
            XAxis::Nines => {
                let percentile = 100.0 * (1.0 - 10f64.powf(-x));
                let digits = (x.round() as usize).saturating_sub(2);
                format!("{percentile:.digits$}%")
            }
        }
    }
}

/// SVG path data through the points: a new subpath (`M`) after each gap, so no line is drawn
/// across it. A point alone between gaps is a zero-length line (`h0`), which the round line
/// cap draws as a dot (a lone `M` would draw nothing).
fn path_data(
    points: &[Option<(f64, f64)>],
    sx: impl Fn(f64) -> f64,
    sy: impl Fn(f64) -> f64,
) -> String {
    let mut subpaths = Vec::new();
    for segment in points.split(Option::is_none).filter(|s| !s.is_empty()) {
        let mut subpath = String::new();
        for (index, (x, y)) in segment.iter().flatten().enumerate() {
            let command = if index == 0 { 'M' } else { 'L' };
            let _ = write!(subpath, "{command}{:.1},{:.1} ", sx(*x), sy(*y));
        }
        if segment.len() == 1 {
            subpath.push_str("h0");
        }
        subpaths.push(subpath.trim_end().to_string());
    }
    subpaths.join(" ")
}

/// Where y values go on the plot's height, and the tick values to label.
struct YScale {
    ticks: Vec<f64>,
    /// `log10` of the lowest and highest tick, for a log scale.
    log_range: Option<(f64, f64)>,
}

impl YScale {
    fn linear(max: f64) -> YScale {
        YScale {
            ticks: nice_ticks(max),
            log_range: None,
        }
    }

    /// Ticks at 1, 2 and 5 times each power of ten (only the powers over more than three
    /// decades) from below `min` to above `max`.
    fn log(min: f64, max: f64) -> YScale {
        let low = min.max(1.0).log10().floor();
        let high = (max.max(1.0).log10().ceil()).max(low + 1.0);
        let multiples: &[f64] = if high - low > 3.0 {
            &[1.0]
        } else {
            &[1.0, 2.0, 5.0]
        };
        let mut ticks = Vec::new();
        let mut decade = low;
        while decade < high {
            let power = 10f64.powf(decade);
            ticks.extend(multiples.iter().map(|m| m * power));
            decade += 1.0;
        }
        ticks.push(10f64.powf(high));
        YScale {
            ticks,
            log_range: Some((low, high)),
        }
    }

    /// `y` as a fraction of the plot's height from the bottom.
    fn fraction(&self, y: f64) -> f64 {
        match self.log_range {
            Some((low, high)) => (y.max(1.0).log10() - low) / (high - low),
            None => y / self.ticks.last().copied().unwrap_or(1.0),
        }
    }
}

/// `1234` as `1.23k`, `12.5` as `12.5`.
fn format_count(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.2}M", v / 1_000_000.0)
    } else if v >= 10_000.0 {
        format!("{:.1}k", v / 1_000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// About five round tick values from 0 to at least `max` (steps of 1, 2 or 5 × 10^n).
fn nice_ticks(max: f64) -> Vec<f64> {
    if max <= 0.0 || !max.is_finite() {
        return vec![0.0, 1.0];
    }
    let step = nice_step(max);
    let count = (max / step).ceil() as usize;
    (0..=count).map(|i| i as f64 * step).collect()
}

/// Round tick values from 0 up to `end` (`end > 0`), none beyond it.
fn ticks_within(end: f64) -> Vec<f64> {
    let step = nice_step(end);
    // The tolerance keeps a tick that lands on `end` despite rounding (3 × 0.1 > 0.3).
    let count = (end / step + 1e-9).floor() as usize;
    (0..=count).map(|i| i as f64 * step).collect()
}

/// The 1, 2 or 5 × 10^n step that cuts `0..max` into about five.
fn nice_step(max: f64) -> f64 {
    let rough = max / 5.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * magnitude)
}

/// Text for HTML element content and attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(nice_ticks(9.0), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(nice_ticks(1_234.0), [0.0, 500.0, 1_000.0, 1_500.0]);
        assert_eq!(nice_ticks(0.0), [0.0, 1.0]);
    }

    #[test]
    fn the_time_axis_ends_where_the_run_did() {
        assert_eq!(ticks_within(10.01), [0.0, 5.0, 10.0]);
        assert_eq!(ticks_within(2.5), [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        assert_eq!(ticks_within(0.3).len(), 4, "0 to 0.3 by 0.1");
        let chart = LineChart {
            id: "t",
            title: String::new(),
            unit: Unit::Count,
            x_axis: XAxis::Seconds,
            series: vec![Series {
                name: "rps".to_string(),
                color: PALETTE[0],
                dashed: false,
                points: vec![Some((1.0, 5.0)), Some((10.01, 5.0))],
            }],
        };
        let svg = chart.render();
        // The last point is drawn at the plot's right edge, and no tick lies beyond it.
        let right_edge = format!("L{:.1},", WIDTH - RIGHT);
        assert!(svg.contains(&format!("d=\"M{:.1},", LEFT + plot_fraction(1.0, 10.01))));
        assert!(svg.contains(&right_edge), "{svg}");
        assert!(!svg.contains(">15<") && svg.contains(">10<"), "{svg}");
    }

    fn plot_fraction(x: f64, end: f64) -> f64 {
        x / end * (WIDTH - LEFT - RIGHT)
    }

    #[test]
    fn log_scale_spans_whole_decades() {
        let scale = YScale::log(150.0, 15_000.0);
        assert_eq!(scale.ticks.first(), Some(&100.0));
        assert_eq!(scale.ticks.last(), Some(&100_000.0));
        assert!(scale.ticks.contains(&2_000.0));
        assert_eq!(scale.fraction(100.0), 0.0);
        assert_eq!(scale.fraction(100_000.0), 1.0);
        assert!((scale.fraction(1_000.0) - 1.0 / 3.0).abs() < 1e-9);
        // Over more than three decades only the powers of ten are labelled.
        assert_eq!(
            YScale::log(5.0, 2e6).ticks,
            [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7]
        );
    }

    /// The `d` attribute of each series' path, in order.
    fn series_paths(svg: &str) -> Vec<&str> {
        svg.split("<path class=\"series\"")
            .skip(1)
            .map(|element| {
                let start = element.find(" d=\"").expect("a d attribute") + 4;
                &element[start..start + element[start..].find('"').expect("closing quote")]
            })
            .collect()
    }

    #[test]
    fn a_gap_breaks_the_line_instead_of_joining_its_neighbours() {
        let chart = LineChart {
            id: "latency",
            title: String::new(),
            unit: Unit::Count,
            x_axis: XAxis::Seconds,
            series: vec![Series {
                name: "p50".to_string(),
                color: PALETTE[0],
                dashed: false,
                // Nothing completed in the second second, nor in the fourth.
                points: vec![
                    Some((1.0, 10.0)),
                    None,
                    Some((3.0, 20.0)),
                    None,
                    Some((5.0, 30.0)),
                    Some((6.0, 40.0)),
                ],
            }],
        };
        let svg = chart.render();
        let [path] = series_paths(&svg)[..] else {
            panic!("one series path in {svg}");
        };
        let subpaths: Vec<&str> = path.split('M').skip(1).map(str::trim).collect();
        assert_eq!(subpaths.len(), 3, "{path}");
        // Points alone between gaps are dots; the last two are joined.
        assert!(
            subpaths[0].ends_with("h0") && subpaths[1].ends_with("h0"),
            "{path}"
        );
        assert_eq!(subpaths[2].matches('L').count(), 1, "{path}");
        // Every measured point still has its marker, the gaps none.
        assert_eq!(svg.matches("<circle").count(), 4);
    }

    #[test]
    fn percentile_axis_labels_count_nines() {
        let chart = LineChart {
            id: "x",
            title: String::new(),
            unit: Unit::Micros,
            x_axis: XAxis::Nines,
            series: Vec::new(),
        };
        let labels: Vec<String> = (0..5).map(|x| chart.format_x(f64::from(x))).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn names_are_escaped_and_empty_charts_say_so() {
        let chart = LineChart {
            id: "c",
            title: "a <b> & \"c\"".to_string(),
            unit: Unit::Count,
            x_axis: XAxis::Seconds,
            series: vec![Series {
                name: "<script>".to_string(),
                color: PALETTE[0],
                dashed: false,
                points: vec![Some((1.0, 5.0))],
            }],
        };
        let svg = chart.render();
        assert!(svg.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("<path class=\"series\""));
        let empty = LineChart {
            series: Vec::new(),
            ..chart
        };
        assert!(empty.render().contains("No data"));
    }
}
