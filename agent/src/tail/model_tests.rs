//! RELIABILITY A3: the tailer against a model, under random writes, reads, pauses,
//! rotations, truncations, deletions and restarts (after Vector's file watcher tests).

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::time::Duration;

use proptest::prelude::*;

use super::tests::{Harness, append, test_config};

#[derive(Debug, Clone)]
enum Action {
    WriteLine(usize),
    Read,
    Pause(u64),
    Rotate,
    Truncate,
    Delete,
    Restart,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        51 => (1usize..200).prop_map(Action::WriteLine),
        19 => Just(Action::Read),
        6 => (1u64..3000).prop_map(Action::Pause),
        10 => Just(Action::Rotate),
        5 => Just(Action::Truncate),
        5 => Just(Action::Delete),
        4 => Just(Action::Restart),
    ]
}

fn run_model(actions: &[Action]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut config = test_config(dir.path(), "app.log");
    // Small fingerprints so every file is identified at the first poll that sees it.
    config.fingerprint_size = 16;
    let mut harness = Harness::new(config);
    let mut seq = 0u64;
    let mut written: Vec<String> = Vec::new();
    // Lines of the current app.log not yet covered by a Read, and whether the tailer has
    // seen this generation of the file (then it holds it open through rotation or deletion).
    let mut current_unread: Vec<String> = Vec::new();
    let mut current_seen = false;
    // Lines of rotated-away or deleted generations the tailer holds open but has not read.
    let mut old_unread: Vec<String> = Vec::new();
    let mut may_lose: HashSet<String> = HashSet::new();
    for action in actions {
        match action {
            Action::WriteLine(len) => {
                if !path.try_exists().unwrap() {
                    current_seen = false;
                }
                let line = format!("line-{seq:08}-{}", "x".repeat(*len));
                seq += 1;
                append(&path, &format!("{line}\n"));
                written.push(line.clone());
                current_unread.push(line);
            }
            Action::Read => {
                harness.poll();
                // An empty file has no identity yet, so the tailer cannot hold it.
                current_seen = fs::metadata(&path).is_ok_and(|m| m.len() > 0);
                current_unread.clear();
                old_unread.clear();
            }
            Action::Pause(ms) => harness.now += Duration::from_millis(*ms),
            Action::Rotate | Action::Delete => {
                if path.try_exists().unwrap() {
                    if matches!(action, Action::Rotate) {
                        fs::rename(&path, dir.path().join("app.log.1")).unwrap();
                    } else {
                        fs::remove_file(&path).unwrap();
                    }
                    // Gone before the tailer ever saw it: the documented gap.
                    if current_seen {
                        old_unread.append(&mut current_unread);
                    } else {
                        may_lose.extend(current_unread.drain(..));
                    }
                    current_seen = false;
                }
            }
            Action::Truncate => {
                may_lose.extend(current_unread.drain(..));
                if path.try_exists().unwrap() {
                    OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .unwrap()
                        .set_len(0)
                        .unwrap();
                }
            }
            Action::Restart => {
                // A rotated-away file nobody read since its last lines is the known
                // "moved while down" gap.
                may_lose.extend(old_unread.drain(..));
                // The new process has not seen app.log yet either.
                current_seen = false;
                harness.restart();
            }
        }
    }
    harness.poll_for(Duration::from_secs(5));
    let mut seen = HashSet::new();
    for line in &harness.lines {
        prop_assert!(seen.insert(line.clone()), "duplicate {line}");
    }
    let written_set: HashSet<&String> = written.iter().collect();
    for line in &harness.lines {
        prop_assert!(written_set.contains(line), "never written: {line}");
    }
    for line in &written {
        if !may_lose.contains(line) {
            prop_assert!(seen.contains(line), "lost {line}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if std::env::var("PERISCOPE_TEST_SCALE").as_deref() == Ok("full") { 10_000 } else { 1_000 },
        ..ProptestConfig::default()
    })]
    #[test]
    fn file_watcher_model(actions in prop::collection::vec(action(), 1..60)) {
        run_model(&actions)?;
    }
}
