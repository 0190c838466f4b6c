//! The server under test: a fresh `periscope serve` child process on a temp data directory,
//! and what /proc says about it (CPU seconds, RSS) and what its data takes on disk.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::cpu::{CpuSample, process_seconds};

/// A running server.
pub(crate) struct BenchServer {
    child: Child,
    /// OTLP/gRPC address.
    pub(crate) grpc: SocketAddr,
    /// OTLP/HTTP address.
    pub(crate) otlp_http: SocketAddr,
    /// API address.
    pub(crate) http: SocketAddr,
}

impl BenchServer {
    /// Starts `periscope serve` (this same binary) with extra `PERISCOPE_…` settings.
    pub(crate) fn start(data_dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<BenchServer> {
        std::fs::create_dir_all(data_dir)?;
        let listen_file = data_dir.join("listen.json");
        let _ = std::fs::remove_file(&listen_file);
        let binary = std::env::current_exe()?;
        let log = std::fs::File::create(data_dir.with_extension("log"))?;
        let mut command = Command::new(binary);
        command
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .args([
                "--otlp-grpc-addr",
                "127.0.0.1:0",
                "--otlp-http-addr",
                "127.0.0.1:0",
                "--http-addr",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().context("cannot start periscope serve")?;
        let deadline = Instant::now() + Duration::from_secs(120);
        let addresses: serde_json::Value = loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "server exited with {status} during start; see {}",
                    data_dir.with_extension("log").display()
                );
            }
            if let Ok(text) = std::fs::read_to_string(&listen_file)
                && let Ok(value) = serde_json::from_str(&text)
            {
                break value;
            }
            if Instant::now() > deadline {
                bail!("server did not start listening within 120 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let address = |key: &str| -> anyhow::Result<SocketAddr> {
            addresses[key]
                .as_str()
                .context("listen.json lacks an address")?
                .parse()
                .context("bad address")
        };
        Ok(BenchServer {
            grpc: address("otlp_grpc")?,
            otlp_http: address("otlp_http")?,
            http: address("http")?,
            child,
        })
    }

    /// User + system CPU seconds the server has used so far.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        process_seconds(self.child.id())
    }

    /// The server's CPU seconds so far, in all and by thread name.
    pub(crate) fn cpu_sample(&self) -> anyhow::Result<CpuSample> {
        CpuSample::of(self.child.id())
    }

    /// (current RSS, peak RSS) in bytes.
    pub(crate) fn rss_bytes(&self) -> anyhow::Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let read = |key: &str| -> u64 {
            status
                .lines()
                .find(|line| line.starts_with(key))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
                .map_or(0, |kib| kib * 1024)
        };
        Ok((read("VmRSS:"), read("VmHWM:")))
    }

    /// Graceful stop (SIGTERM) and wait: the server flushes everything to its files.
    pub(crate) fn stop(mut self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let exit = self.child.wait()?;
        if !exit.success() {
            bail!("server exited with {exit}");
        }
        Ok(())
    }

    /// Bytes per store under a (stopped) server's data directory.
    pub(crate) fn disk_usage(data_dir: &Path) -> DiskUsage {
        DiskUsage {
            spans: walk(&data_dir.join("spans")),
            logs: walk(&data_dir.join("logs")),
            metrics: walk(&data_dir.join("metrics")),
            wal: walk(&data_dir.join("wal")),
        }
    }

    /// Bytes under a data directory, everything included (a running server's too).
    pub(crate) fn total_bytes(data_dir: &Path) -> u64 {
        walk(data_dir)
    }
}

/// Bytes on disk by store.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct DiskUsage {
    /// Span Parquet files.
    pub(crate) spans: u64,
    /// The log index.
    pub(crate) logs: u64,
    /// Metric Parquet files.
    pub(crate) metrics: u64,
    /// WAL segments.
    pub(crate) wal: u64,
}

fn walk(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => walk(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
