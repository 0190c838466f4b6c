//! SVG charts drawn on the server: geometry only, as numbers the templates put into `x`,
//! `y`, `width` and `points` attributes (no inline styles under our CSP).

use super::format;

/// Charts use a 1000-wide view box and scale to their container; the plot spans these x.
pub(crate) const PLOT_LEFT: f64 = 60.0;
pub(crate) const PLOT_RIGHT: f64 = 990.0;

/// A point of the duration-over-time scatter.
pub(crate) struct ScatterPoint {
    pub(crate) cx: String,
    pub(crate) cy: String,
    pub(crate) r: String,
    pub(crate) href: String,
    pub(crate) title: String,
    pub(crate) error: bool,
}

/// An axis label.
pub(crate) struct Tick {
    pub(crate) x: String,
    pub(crate) y: String,
    pub(crate) label: String,
    /// `text-anchor`: the last time label ends at its tick so it stays inside the chart.
    pub(crate) anchor: &'static str,
}

/// The trace search scatter.
pub(crate) struct Scatter {
    pub(crate) height: u32,
    pub(crate) points: Vec<ScatterPoint>,
    pub(crate) x_ticks: Vec<Tick>,
    pub(crate) y_ticks: Vec<Tick>,
}

/// One input point: start ns, duration ns, link, tooltip, error.
pub(crate) struct Sample {
    pub(crate) start_ns: i64,
    pub(crate) duration_ns: i64,
    pub(crate) href: String,
    pub(crate) title: String,
    pub(crate) error: bool,
    pub(crate) spans: usize,
}

fn fmt(value: f64) -> String {
    format!("{value:.1}")
}

fn x_of(ns: i64, start_ns: i64, end_ns: i64) -> f64 {
    let span = (end_ns - start_ns).max(1) as f64;
    PLOT_LEFT + (ns - start_ns) as f64 / span * (PLOT_RIGHT - PLOT_LEFT)
}

fn time_ticks(start_ns: i64, end_ns: i64, y: f64, count: usize) -> Vec<Tick> {
    let same_day = format::time(start_ns)[..10] == format::time(end_ns)[..10];
    (0..=count)
        .map(|index| {
            let ns = start_ns + (end_ns - start_ns) / count as i64 * index as i64;
            let label = if same_day {
                format::clock(ns)[..8].to_string()
            } else {
                format::time(ns)[5..16].to_string()
            };
            Tick {
                x: fmt(x_of(ns, start_ns, end_ns)),
                y: fmt(y),
                label,
                anchor: if index == count { "end" } else { "middle" },
            }
        })
        .collect()
}

/// Duration (linear, from 0) over start time.
pub(crate) fn scatter(samples: &[Sample], start_ns: i64, end_ns: i64) -> Scatter {
    let height = 220u32;
    let (top, bottom) = (10.0, f64::from(height) - 25.0);
    let max_duration = samples
        .iter()
        .map(|sample| sample.duration_ns)
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.1;
    let points = samples
        .iter()
        .map(|sample| {
            let y = bottom - sample.duration_ns as f64 / max_duration * (bottom - top);
            let r = 3.0 + (sample.spans as f64).sqrt().min(6.0);
            ScatterPoint {
                cx: fmt(x_of(
                    sample.start_ns.clamp(start_ns, end_ns),
                    start_ns,
                    end_ns,
                )),
                cy: fmt(y),
                r: fmt(r),
                href: sample.href.clone(),
                title: sample.title.clone(),
                error: sample.error,
            }
        })
        .collect();
    let y_ticks = (0..=3)
        .map(|index| {
            let value = max_duration / 3.0 * f64::from(index);
            Tick {
                x: fmt(PLOT_LEFT - 6.0),
                y: fmt(bottom - value / max_duration * (bottom - top) + 4.0),
                label: format::duration(value),
                anchor: "end",
            }
        })
        .collect();
    Scatter {
        height,
        points,
        x_ticks: time_ticks(start_ns, end_ns, f64::from(height) - 6.0, 6),
        y_ticks,
    }
}

/// A bar of the hits histogram, linking to the zoomed-in range.
pub(crate) struct HistogramBar {
    pub(crate) x: String,
    pub(crate) y: String,
    pub(crate) width: String,
    pub(crate) height: String,
    pub(crate) href: String,
    pub(crate) title: String,
}

/// The log hits histogram.
pub(crate) struct Histogram {
    pub(crate) height: u32,
    pub(crate) bars: Vec<HistogramBar>,
    pub(crate) x_ticks: Vec<Tick>,
    pub(crate) max_label: String,
}

/// Bars over equal buckets of `[start_ns, end_ns]`; `href(bucket_start, bucket_end)`.
pub(crate) fn histogram(
    counts: &[u64],
    start_ns: i64,
    end_ns: i64,
    href: impl Fn(i64, i64) -> String,
) -> Histogram {
    let height = 120u32;
    let (top, bottom) = (8.0, f64::from(height) - 22.0);
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let buckets = counts.len().max(1);
    let bucket_ns = ((end_ns - start_ns) / buckets as i64).max(1);
    let slot = (PLOT_RIGHT - PLOT_LEFT) / buckets as f64;
    let bars = counts
        .iter()
        .enumerate()
        .map(|(index, count)| {
            let bucket_start = start_ns + bucket_ns * index as i64;
            let bucket_end = bucket_start + bucket_ns;
            let bar_height =
                (*count as f64 / max * (bottom - top)).max(if *count > 0 { 1.5 } else { 0.0 });
            HistogramBar {
                x: fmt(PLOT_LEFT + slot * index as f64 + 0.5),
                y: fmt(bottom - bar_height),
                width: fmt((slot - 1.0).max(0.5)),
                height: fmt(bar_height),
                href: href(bucket_start, bucket_end),
                title: format!(
                    "{count} records, {} – {}",
                    format::time(bucket_start),
                    format::clock(bucket_end)
                ),
            }
        })
        .collect();
    Histogram {
        height,
        bars,
        x_ticks: time_ticks(start_ns, end_ns, f64::from(height) - 6.0, 6),
        max_label: format!("{}", max as u64),
    }
}

/// A sparkline: a polyline and the area under it, in a 120 × 24 box.
pub(crate) struct Sparkline {
    pub(crate) line: String,
    pub(crate) area: String,
}

pub(crate) fn sparkline(values: &[u64]) -> Sparkline {
    let (width, height) = (120.0, 24.0);
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if values.len() > 1 {
        width / (values.len() - 1) as f64
    } else {
        width
    };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            format!(
                "{},{}",
                fmt(step * index as f64),
                fmt(height - 1.0 - *value as f64 / max * (height - 2.0))
            )
        })
        .collect();
    let line = points.join(" ");
    let area = if points.is_empty() {
        String::new()
    } else {
        format!("0,{height} {line} {},{height}", fmt(width))
    };
    Sparkline { line, area }
}

/// One line of a line chart: polyline segments (gaps where a step has no value).
pub(crate) struct ChartLine {
    pub(crate) label: String,
    pub(crate) class: String,
    pub(crate) segments: Vec<String>,
    pub(crate) last: String,
}

/// A line chart over time.
pub(crate) struct LineChart {
    pub(crate) height: u32,
    pub(crate) lines: Vec<ChartLine>,
    pub(crate) x_ticks: Vec<Tick>,
    pub(crate) y_ticks: Vec<Tick>,
}

/// Lines of `(label, value per step)`; step `i` is drawn at `start_ns + i × step_ns`.
pub(crate) fn line_chart(
    series: &[(String, Vec<Option<f64>>)],
    start_ns: i64,
    end_ns: i64,
    step_ns: i64,
    format_value: impl Fn(f64) -> String,
) -> LineChart {
    let height = 260u32;
    let (top, bottom) = (10.0, f64::from(height) - 25.0);
    let values = series
        .iter()
        .flat_map(|(_, points)| points.iter().flatten());
    let (mut low, mut high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(*v), hi.max(*v))
    });
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    low = low.min(0.0);
    if high <= low {
        high = low + 1.0;
    }
    let y_of = |value: f64| bottom - (value - low) / (high - low) * (bottom - top);
    let lines = series
        .iter()
        .enumerate()
        .map(|(index, (label, points))| {
            let mut segments = Vec::new();
            let mut current: Vec<String> = Vec::new();
            let mut last = String::new();
            for (step, value) in points.iter().enumerate() {
                match value {
                    Some(value) => {
                        let x = x_of(start_ns + step as i64 * step_ns, start_ns, end_ns);
                        let point = format!("{},{}", fmt(x), fmt(y_of(*value)));
                        if current.is_empty() {
                            // A lone point still shows, as a dot (round line caps).
                            current.push(point.clone());
                        }
                        current.push(point);
                        last = format_value(*value);
                    }
                    None if !current.is_empty() => {
                        segments.push(std::mem::take(&mut current).join(" "))
                    }
                    None => {}
                }
            }
            if !current.is_empty() {
                segments.push(current.join(" "));
            }
            ChartLine {
                label: label.clone(),
                class: format!("s{}", index % 10),
                segments,
                last,
            }
        })
        .collect();
    let y_ticks = (0..=4)
        .map(|index| {
            let value = low + (high - low) / 4.0 * f64::from(index);
            Tick {
                x: fmt(PLOT_LEFT - 6.0),
                y: fmt(y_of(value) + 4.0),
                label: format_value(value),
                anchor: "end",
            }
        })
        .collect();
    LineChart {
        height,
        lines,
        x_ticks: time_ticks(start_ns, end_ns, f64::from(height) - 6.0, 6),
        y_ticks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_maps_into_the_plot() {
        let samples = [Sample {
            start_ns: 50,
            duration_ns: 10,
            href: "/trace/x".to_string(),
            title: "t".to_string(),
            error: false,
            spans: 4,
        }];
        let chart = scatter(&samples, 0, 100);
        let x: f64 = chart.points[0].cx.parse().unwrap();
        assert!((x - (PLOT_LEFT + PLOT_RIGHT) / 2.0).abs() < 0.2, "{x}");
        assert_eq!(chart.x_ticks.len(), 7);
    }

    #[test]
    fn histogram_bars_link_to_their_bucket() {
        let chart = histogram(&[0, 5, 10], 0, 300, |start, end| format!("{start}-{end}"));
        assert_eq!(chart.bars.len(), 3);
        assert_eq!(chart.bars[1].href, "100-200");
        assert_eq!(chart.bars[0].height, "0.0");
        assert_eq!(chart.max_label, "10");
    }

    #[test]
    fn line_chart_breaks_at_gaps() {
        let series = vec![("a".to_string(), vec![Some(1.0), Some(2.0), None, Some(3.0)])];
        let chart = line_chart(&series, 0, 300, 100, |value| format!("{value}"));
        assert_eq!(chart.lines[0].segments.len(), 2);
        assert_eq!(chart.lines[0].last, "3");
    }

    #[test]
    fn sparkline_spans_the_box() {
        let line = sparkline(&[0, 2, 1]);
        assert!(line.line.starts_with("0.0,23.0 "), "{}", line.line);
        assert!(line.line.contains("120.0,"), "{}", line.line);
    }
}
