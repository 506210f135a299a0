//! Fault hooks: `--fault-cmd NAME=COMMAND` names a shell command (kill Redis, restart it, switch
//! the mock LLM to errors…) that a scenario's `faults` schedule runs at a point of the run. The
//! tool never decides how to break things itself: the operator says, per deployment.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::report::FaultRecord;
use crate::scenario::FaultAt;

/// A hook that has not finished after this long is abandoned (and killed) so the run stays bounded.
const HOOK_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultHooks(BTreeMap<String, String>);

#[derive(Debug, thiserror::Error)]
#[error("--fault-cmd wants NAME=COMMAND, got `{0}`")]
pub struct BadHook(String);

impl FaultHooks {
    pub fn parse(specs: &[String]) -> Result<Self, BadHook> {
        let mut hooks = BTreeMap::new();
        for spec in specs {
            let (name, command) = spec.split_once('=').ok_or_else(|| BadHook(spec.clone()))?;
            let (name, command) = (name.trim(), command.trim());
            if name.is_empty() || command.is_empty() {
                return Err(BadHook(spec.clone()));
            }
            hooks.insert(name.to_owned(), command.to_owned());
        }
        Ok(Self(hooks))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Runs the hook `fault.hook` now (through `sh -c`) and says what happened.
    pub async fn run(&self, fault: &FaultAt, started: Instant) -> FaultRecord {
        let at_s = crate::stats::round3(started.elapsed().as_secs_f64());
        let Some(command) = self.get(&fault.hook) else {
            return FaultRecord {
                at_s,
                hook: fault.hook.clone(),
                command: None,
                exit_code: None,
                note: "skipped: no --fault-cmd for this hook".into(),
            };
        };
        let child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let (exit_code, note) = match child {
            Err(e) => (None, format!("could not start: {e}")),
            Ok(child) => match tokio::time::timeout(HOOK_TIMEOUT, child.wait_with_output()).await {
                Err(_) => (None, format!("killed after {} s", HOOK_TIMEOUT.as_secs())),
                Ok(Err(e)) => (None, format!("failed: {e}")),
                Ok(Ok(out)) => {
                    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
                    (out.status.code(), tail(&text, 300))
                }
            },
        };
        FaultRecord { at_s, hook: fault.hook.clone(), command: Some(command.to_owned()), exit_code, note }
    }
}

/// The last `max` characters of `text`, trimmed.
fn tail(text: &str, max: usize) -> String {
    let text = text.trim();
    let start = text.char_indices().rev().nth(max.saturating_sub(1)).map_or(0, |(i, _)| i);
    text[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_parse_from_name_equals_command_and_bad_ones_are_refused() {
        let hooks = FaultHooks::parse(&["kill-redis=redis-cli -p 7001 shutdown nosave".into(), "x = a=b".into()]).expect("valid");
        assert_eq!(hooks.get("kill-redis"), Some("redis-cli -p 7001 shutdown nosave"));
        assert_eq!(hooks.get("x"), Some("a=b"), "the first = splits");
        for bad in ["no-equals", "=cmd", "name="] {
            assert!(FaultHooks::parse(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_hook_runs_and_reports_its_exit_code_and_output_and_a_missing_one_is_skipped() {
        let hooks = FaultHooks::parse(&["ok=echo hello; exit 3".into()]).expect("valid");
        let started = Instant::now();
        let ran = hooks.run(&FaultAt { at_s: 0.0, hook: "ok".into() }, started).await;
        assert_eq!(ran.exit_code, Some(3));
        assert_eq!(ran.note, "hello");
        let skipped = hooks.run(&FaultAt { at_s: 0.0, hook: "missing".into() }, started).await;
        assert_eq!(skipped.exit_code, None);
        assert!(skipped.note.starts_with("skipped"));
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("  abcdef \n", 3), "def");
        assert_eq!(tail("ab", 10), "ab");
    }
}
