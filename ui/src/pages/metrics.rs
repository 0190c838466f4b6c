//! Metrics: choose a metric, filter by attributes, split by service or an attribute, pick an
//! aggregation and a step, and see a line chart.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use periscope_query::{Aggregation, MAX_STEPS, MetricInfo, MetricQuery};

use super::charts::{LineChart, line_chart};
use super::filter_form::{Choice, FilterRow, filter_rows, parse_filters};
use super::layout::{Chrome, RangeChoice, range_choices};
use super::page_error::PageError;
use super::params::PageParams;
use super::time_range::TimeRange;
use crate::params::parse_duration_ns;
use crate::state::UiState;

/// Steps a chart aims for when the step is automatic.
const AUTO_STEPS: i64 = 60;
/// Steps offered, in seconds (0: automatic).
const STEPS: [(i64, &str); 8] = [
    (0, "auto"),
    (10, "10s"),
    (30, "30s"),
    (60, "1m"),
    (300, "5m"),
    (900, "15m"),
    (3600, "1h"),
    (86_400, "1d"),
];

#[derive(Template, WebTemplate)]
#[template(path = "metrics.html")]
pub(crate) struct MetricsPage {
    chrome: Chrome,
    range: TimeRange,
    range_choices: Vec<RangeChoice>,
    metrics: Vec<Choice>,
    selected: Option<MetricInfo>,
    filters: Vec<FilterRow>,
    any_filter: bool,
    group_by: String,
    aggregations: Vec<Choice>,
    steps: Vec<Choice>,
    step_label: String,
    chart: Option<LineChart>,
    no_metrics: bool,
}

/// A step that gives about [`AUTO_STEPS`] points, rounded to a step people use.
fn auto_step_ns(range_ns: i64) -> i64 {
    let wanted = range_ns / AUTO_STEPS;
    STEPS
        .iter()
        .map(|(secs, _)| secs * 1_000_000_000)
        .filter(|step| *step > 0)
        .find(|step| *step >= wanted)
        .unwrap_or(86_400_000_000_000)
}

fn value_label(value: f64, unit: &str) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = if magnitude >= 1e9 {
        (value / 1e9, "G")
    } else if magnitude >= 1e6 {
        (value / 1e6, "M")
    } else if magnitude >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let unit = if unit.starts_with('{') { "" } else { unit };
    let digits = if scaled.fract() == 0.0 { 0 } else { 2 };
    format!(
        "{scaled:.digits$}{suffix}{}{unit}",
        if unit.is_empty() { "" } else { " " }
    )
}

/// `GET /metrics/explore`.
pub(crate) async fn metrics_page(
    State(state): State<UiState>,
    raw: RawQuery,
) -> Result<MetricsPage, PageError> {
    let params = PageParams::parse(raw)?;
    let range = params.range()?;
    let known = state.engine.metric_names(range.window()).await?;
    let wanted = params.text("metric");
    let selected = known
        .iter()
        .find(|info| info.name == wanted)
        .or_else(|| known.first())
        .cloned();
    let filters = parse_filters(&params)?;
    let any_filter = params.get("match") == Some("any");
    let group_by = params.text("by");
    let aggregation_text = params.get("agg").unwrap_or("avg");
    let aggregation = Aggregation::parse(aggregation_text).ok_or_else(|| {
        PageError::bad_request(format!(
            "agg must be avg, sum, min, max or count, got {aggregation_text:?}"
        ))
    })?;
    let step_text = params.get("step").unwrap_or("auto").to_string();
    let step_ns = if step_text == "auto" {
        auto_step_ns(range.len_ns())
    } else {
        parse_duration_ns("step", &step_text)?.max(1_000_000_000)
    };
    if range.len_ns() / step_ns > MAX_STEPS {
        return Err(PageError::bad_request(format!(
            "step {step_text} gives more than {MAX_STEPS} points over this range; choose a larger step"
        )));
    }
    let chart = match &selected {
        Some(info) => {
            let series = state
                .engine
                .metric_series(&MetricQuery {
                    name: info.name.clone(),
                    filters: filters.clone(),
                    any_filter,
                    group_by: (!group_by.is_empty()).then(|| group_by.clone()),
                    aggregation,
                    window: range.window(),
                    step_ns,
                })
                .await?;
            let lines: Vec<(String, Vec<Option<f64>>)> = series
                .into_iter()
                .map(|series| {
                    let label = if group_by.is_empty() {
                        info.name.clone()
                    } else if series.label.is_empty() {
                        format!("({group_by} absent)")
                    } else {
                        series.label
                    };
                    (label, series.points)
                })
                .collect();
            let unit = if aggregation == Aggregation::Count {
                String::new()
            } else {
                info.unit.clone()
            };
            Some(line_chart(
                &lines,
                range.start_ns,
                range.end_ns,
                step_ns,
                |value| value_label(value, &unit),
            ))
        }
        None => None,
    };
    let selected_name = selected
        .as_ref()
        .map(|info| info.name.clone())
        .unwrap_or_default();
    Ok(MetricsPage {
        chrome: Chrome::new("metrics", "").with_range(&range),
        range_choices: range_choices(&range),
        metrics: known
            .iter()
            .map(|info| Choice {
                value: info.name.clone(),
                label: format!("{} ({})", info.name, info.metric_type),
                selected: info.name == selected_name,
            })
            .collect(),
        no_metrics: known.is_empty(),
        selected,
        filters: filter_rows(&filters),
        any_filter,
        aggregations: Aggregation::ALL
            .iter()
            .map(|candidate| Choice {
                value: candidate.as_str().to_string(),
                label: candidate.as_str().to_string(),
                selected: *candidate == aggregation,
            })
            .collect(),
        steps: STEPS
            .iter()
            .map(|(_, label)| Choice {
                value: (*label).to_string(),
                label: (*label).to_string(),
                selected: *label == step_text,
            })
            .collect(),
        step_label: super::format::duration(step_ns as f64),
        group_by,
        chart,
        range,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_steps_are_round() {
        assert_eq!(auto_step_ns(3_600_000_000_000), 60_000_000_000);
        assert_eq!(auto_step_ns(300_000_000_000), 10_000_000_000);
    }

    #[test]
    fn values_are_scaled_with_units() {
        assert_eq!(value_label(180e6, "By"), "180M By");
        assert_eq!(value_label(12.0, "{request}"), "12");
        assert_eq!(value_label(1.5, "s"), "1.50 s");
    }
}
