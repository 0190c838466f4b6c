//! The agent's configuration: TOML with Vector / OTel filelog key names, parsed strictly
//! (`deny_unknown_fields`, so a misspelt key fails at startup), defaulted by named functions
//! and validated once. Every part of the agent receives its section by value.

mod sink;
pub(crate) mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use sink::{
    BatchConfig, BufferConfig, Compression, MetricsConfig, OtlpReceiverConfig, Protocol,
    SinkConfig, WhenFull,
};
pub use source::{
    FileSourceConfig, MultilineConfig, ParserConfig, ParserKind, StartAt, TimestampFormat,
};

use crate::error::AgentError;

/// The whole agent configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Holds the disk buffer (`buffer/`), the checkpoints and `listen.json`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Resource `host.name` of every record; default: the kernel's hostname.
    #[serde(default)]
    pub host_name: Option<String>,
    /// How often file checkpoints are written to disk (they are also written at shutdown).
    /// A crash resends at most about this much already-acknowledged data.
    #[serde(default = "default_checkpoint_interval_ms")]
    pub checkpoint_interval_ms: u64,
    /// File sources by name; the name appears in metrics.
    #[serde(default)]
    pub sources: BTreeMap<String, FileSourceConfig>,
    /// The local OTLP receiver applications can export to.
    #[serde(default)]
    pub otlp: OtlpReceiverConfig,
    /// Where everything is sent.
    pub sink: SinkConfig,
    /// The disk buffer between the inputs and the sink.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// The agent's own metrics endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/periscope-agent")
}

fn default_checkpoint_interval_ms() -> u64 {
    1000
}

impl Config {
    /// Reads, parses and validates a config file.
    ///
    /// # Errors
    /// [`AgentError::Io`] when the file is unreadable, [`AgentError::Config`] naming the key or
    /// value that is wrong otherwise.
    pub fn load(path: &Path) -> Result<Self, AgentError> {
        let text = std::fs::read_to_string(path).map_err(AgentError::io("read config", path))?;
        Self::parse(&text)
    }

    /// Parses and validates config text.
    ///
    /// # Errors
    /// [`AgentError::Config`] naming the key or value that is wrong.
    pub fn parse(text: &str) -> Result<Self, AgentError> {
        let config: Config =
            toml::from_str(text).map_err(|err| AgentError::Config(err.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value once, so the rest of the agent can trust them.
    ///
    /// # Errors
    /// [`AgentError::Config`] naming the first invalid setting.
    pub fn validate(&self) -> Result<(), AgentError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir must not be empty"));
        }
        if !(10..=600_000).contains(&self.checkpoint_interval_ms) {
            return Err(invalid("checkpoint_interval_ms must be within 10..=600000"));
        }
        if self.sources.is_empty() && !self.otlp.is_enabled() {
            return Err(invalid(
                "nothing to do: configure a [sources.NAME] section or enable [otlp]",
            ));
        }
        for (name, source) in &self.sources {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(invalid(format!(
                    "source name {name:?} must be non-empty ASCII letters, digits, '_' or '-'"
                )));
            }
            source
                .validate()
                .map_err(|detail| invalid(format!("sources.{name}: {detail}")))?;
        }
        self.otlp
            .validate()
            .map_err(|d| invalid(format!("otlp: {d}")))?;
        self.sink
            .validate()
            .map_err(|d| invalid(format!("sink: {d}")))?;
        self.buffer
            .validate()
            .map_err(|d| invalid(format!("buffer: {d}")))?;
        Ok(())
    }

    /// The config with every default filled in, as TOML (`--print-config`). The bearer token is
    /// redacted so the output can be pasted into a ticket.
    pub fn to_toml_redacted(&self) -> String {
        let mut copy = self.clone();
        if copy.sink.bearer_token.is_some() {
            copy.sink.bearer_token = Some("<redacted>".to_string());
        }
        toml::to_string_pretty(&copy)
            .unwrap_or_else(|err| format!("# cannot print config: {err}\n"))
    }
}

fn invalid(detail: impl Into<String>) -> AgentError {
    AgentError::Config(detail.into())
}

#[cfg(test)]
mod tests;
