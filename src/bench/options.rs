//! What `periscope bench run` is asked to do: which scenarios, at which sizes.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

/// A scenario of shared/PERFORMANCE.md (plus the UI page times), in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scenario {
    /// Span ingest over OTLP/gRPC.
    S1,
    /// Freshness probes during S1.
    S9,
    /// Trace by id.
    S5,
    /// Trace search.
    S6,
    /// Span ingest over OTLP/HTTP (protobuf + gzip, JSON).
    S2,
    /// Log ingest.
    S3,
    /// Log needle.
    S7,
    /// Log aggregate (count + histogram).
    S8,
    /// Metrics ingest.
    S4,
    /// UI page server time.
    Ui,
    /// Steady state, on a server of its own.
    S10,
}

impl Scenario {
    /// Every scenario, in run order.
    pub(crate) const ALL: [Scenario; 11] = [
        Scenario::S1,
        Scenario::S9,
        Scenario::S5,
        Scenario::S6,
        Scenario::S2,
        Scenario::S3,
        Scenario::S7,
        Scenario::S8,
        Scenario::S4,
        Scenario::Ui,
        Scenario::S10,
    ];

    /// The id on the command line and in results.json.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Scenario::S1 => "S1",
            Scenario::S2 => "S2",
            Scenario::S3 => "S3",
            Scenario::S4 => "S4",
            Scenario::S5 => "S5",
            Scenario::S6 => "S6",
            Scenario::S7 => "S7",
            Scenario::S8 => "S8",
            Scenario::S9 => "S9",
            Scenario::S10 => "S10",
            Scenario::Ui => "UI",
        }
    }

    fn parse(text: &str) -> anyhow::Result<Scenario> {
        Scenario::ALL
            .into_iter()
            .find(|scenario| scenario.id().eq_ignore_ascii_case(text))
            .with_context(|| {
                let known: Vec<&str> = Scenario::ALL.iter().map(|s| s.id()).collect();
                format!("unknown scenario {text:?}; known: {}", known.join(" "))
            })
    }
}

/// Sizes and options of one run.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// Selected scenarios, sorted in run order, no duplicates.
    pub(crate) scenarios: Vec<Scenario>,
    /// Spans to ingest (S1).
    pub(crate) spans: u64,
    /// Spans per encoding over OTLP/HTTP (S2).
    pub(crate) http_spans: u64,
    /// Log records to ingest (S3).
    pub(crate) logs: u64,
    /// Metric data points to ingest (S4).
    pub(crate) metric_points: u64,
    /// Lookups by trace id (S5), per checkpoint and per kind (found, missing).
    pub(crate) lookups: usize,
    /// S5 is also measured after this many S1 spans, when more are sent (1M: the brief's
    /// "at 1M and 10M spans").
    pub(crate) s5_also_at: u64,
    /// Freshness probes during S1 (S9).
    pub(crate) probes: usize,
    /// Requests per UI page.
    pub(crate) page_requests: usize,
    /// Measured seconds of S10.
    pub(crate) steady_seconds: u64,
    /// S10 spans per second (log lines: a fifth of it).
    pub(crate) steady_rate: u64,
    /// Where results go.
    pub(crate) out_dir: PathBuf,
    /// Log corpus (e.g. shared/data/loghub-2k); built-in lines otherwise.
    pub(crate) corpus: Option<PathBuf>,
    /// Workload seed.
    pub(crate) seed: u64,
}

impl RunOptions {
    /// Whether `scenario` was asked for.
    pub(crate) fn selected(&self, scenario: Scenario) -> bool {
        self.scenarios.contains(&scenario)
    }

    /// Whether the run needs the S1 spans stored (to report them or to query them).
    pub(crate) fn needs_spans(&self) -> bool {
        [
            Scenario::S1,
            Scenario::S9,
            Scenario::S5,
            Scenario::S6,
            Scenario::Ui,
        ]
        .iter()
        .any(|scenario| self.selected(*scenario))
    }

    /// Whether the run needs the S3 log records stored.
    pub(crate) fn needs_logs(&self) -> bool {
        [Scenario::S3, Scenario::S7, Scenario::S8, Scenario::Ui]
            .iter()
            .any(|scenario| self.selected(*scenario))
    }

    /// Whether the run needs the S4 metric points stored.
    pub(crate) fn needs_metrics(&self) -> bool {
        self.selected(Scenario::S4) || self.selected(Scenario::Ui)
    }

    fn scale(&mut self, name: &str) -> anyhow::Result<()> {
        match name {
            "smoke" => {
                (self.spans, self.http_spans, self.logs, self.metric_points) =
                    (2_000, 1_000, 2_000, 3_000);
                (
                    self.lookups,
                    self.probes,
                    self.page_requests,
                    self.steady_seconds,
                ) = (20, 20, 3, 3);
                // A tenth of the steady rate, so a debug build (the e2e test) keeps up.
                self.steady_rate = 1_000;
            }
            "standard" => {
                (self.spans, self.http_spans, self.logs, self.metric_points) =
                    (1_000_000, 200_000, 1_000_000, 1_000_000);
                (
                    self.lookups,
                    self.probes,
                    self.page_requests,
                    self.steady_seconds,
                ) = (1000, 200, 20, 60);
                self.steady_rate = 10_000;
            }
            "full" => {
                (self.spans, self.http_spans, self.logs, self.metric_points) =
                    (10_000_000, 2_000_000, 20_000_000, 10_000_000);
                (
                    self.lookups,
                    self.probes,
                    self.page_requests,
                    self.steady_seconds,
                ) = (1000, 1000, 50, 600);
                self.steady_rate = 10_000;
            }
            other => bail!("--scale takes smoke, standard or full, got {other:?}"),
        }
        Ok(())
    }
}

/// The numeric value after `flag`.
pub(crate) fn number(args: &mut impl Iterator<Item = String>, flag: &str) -> anyhow::Result<u64> {
    let text = args
        .next()
        .with_context(|| format!("{flag} needs a value"))?;
    text.parse()
        .with_context(|| format!("{flag} takes a number, got {text:?}"))
}

/// The value after `flag`.
pub(crate) fn text(args: &mut impl Iterator<Item = String>, flag: &str) -> anyhow::Result<String> {
    args.next().with_context(|| format!("{flag} needs a value"))
}

/// Parses the arguments of `bench run`. Sizes given as flags win over `--scale`, whatever
/// their order.
pub(crate) fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<RunOptions> {
    let mut options = RunOptions {
        scenarios: Vec::new(),
        spans: 0,
        http_spans: 0,
        logs: 0,
        metric_points: 0,
        lookups: 0,
        s5_also_at: 1_000_000,
        probes: 0,
        page_requests: 0,
        steady_seconds: 0,
        steady_rate: 0,
        out_dir: PathBuf::from("target/bench"),
        corpus: None,
        seed: 42,
    };
    options.scale("smoke")?;
    let mut overrides: Vec<(String, u64)> = Vec::new();
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--scale" => options.scale(&text(&mut args, &flag)?)?,
            "--spans" | "--http-spans" | "--logs" | "--metric-points" | "--lookups"
            | "--probes" | "--page-requests" | "--steady-seconds" | "--steady-rate"
            | "--s5-also-at" | "--seed" => {
                let value = number(&mut args, &flag)?;
                overrides.push((flag, value));
            }
            "--corpus" => options.corpus = Some(PathBuf::from(text(&mut args, &flag)?)),
            "--out" => options.out_dir = PathBuf::from(text(&mut args, &flag)?),
            other if !other.starts_with('-') => options.scenarios.push(Scenario::parse(other)?),
            other => bail!("unknown option {other:?} for bench run"),
        }
    }
    for (flag, value) in overrides {
        match flag.as_str() {
            "--spans" => options.spans = value,
            "--http-spans" => options.http_spans = value,
            "--logs" => options.logs = value,
            "--metric-points" => options.metric_points = value,
            "--lookups" => options.lookups = value as usize,
            "--probes" => options.probes = value as usize,
            "--page-requests" => options.page_requests = value as usize,
            "--steady-seconds" => options.steady_seconds = value,
            "--steady-rate" => options.steady_rate = value,
            "--s5-also-at" => options.s5_also_at = value,
            _ => options.seed = value,
        }
    }
    if options.scenarios.is_empty() {
        options.scenarios = Scenario::ALL.to_vec();
    }
    options.scenarios.sort();
    options.scenarios.dedup();
    if options.lookups == 0 || options.page_requests == 0 {
        bail!("--lookups and --page-requests must be at least 1");
    }
    if options.selected(Scenario::S10) && (options.steady_seconds == 0 || options.steady_rate < 500)
    {
        bail!("S10 needs --steady-seconds of at least 1 and --steady-rate of at least 500");
    }
    if options.needs_spans() && options.spans == 0 {
        bail!("--spans must be at least 1 for S1, S5, S6, S9 and UI");
    }
    if options.needs_logs() && options.logs == 0 {
        bail!("--logs must be at least 1 for S3, S7, S8 and UI");
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &str) -> anyhow::Result<RunOptions> {
        parse(words.split_whitespace().map(str::to_string))
    }

    #[test]
    fn scenarios_are_selected_by_id_and_sorted_in_run_order() {
        let options = parse_words("s3 S1 S5 S1 ui").unwrap();
        assert_eq!(
            options.scenarios,
            [Scenario::S1, Scenario::S5, Scenario::S3, Scenario::Ui]
        );
        assert!(parse_words("").unwrap().scenarios.len() == Scenario::ALL.len());
        let error = parse_words("S12").unwrap_err().to_string();
        assert!(error.contains("unknown scenario \"S12\""), "{error}");
    }

    #[test]
    fn size_flags_win_over_the_scale_in_any_order() {
        let options = parse_words("--spans 5 --scale standard --steady-seconds 2").unwrap();
        assert_eq!(options.spans, 5);
        assert_eq!(options.logs, 1_000_000);
        assert_eq!(options.steady_seconds, 2);
    }

    #[test]
    fn dependencies_follow_the_selection() {
        let options = parse_words("S5").unwrap();
        assert!(options.needs_spans() && !options.needs_logs() && !options.needs_metrics());
        let options = parse_words("UI").unwrap();
        assert!(options.needs_spans() && options.needs_logs() && options.needs_metrics());
        assert!(parse_words("S7 --logs 0").is_err());
        assert!(parse_words("--lookups x").is_err());
    }
}
