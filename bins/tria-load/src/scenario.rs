//! What a scenario is (load model, users or arrival rate, stages, think time, mix, targets,
//! faults), the built-in ones with the seeds' targets as defaults, custom ones from TOML, and
//! `--quick`, which shrinks any scenario to seconds.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::grade::Targets;

/// Closed: a fixed number of users, each waiting for its answer and thinking before the next
/// message. Open: requests arrive at a constant rate whatever the server does (latency is then
/// measured from the intended send time, so a stalled server cannot hide its queue).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadModel {
    #[default]
    Closed,
    Open,
}

/// Which endpoint the users talk to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// `POST /api/chat`.
    #[default]
    Chat,
    /// `POST /api/v1/chat/stream` (SSE): also time to first token and tokens/s.
    Stream,
    /// Each request picks one; `stream_pct` of them stream.
    Mixed,
}

/// A part of the run with its own user count (closed) or arrival rate (open).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub duration_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

/// A fault hook to run at a point of the scenario (the hook's command comes from `--fault-cmd`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultAt {
    pub at_s: f64,
    pub hook: String,
}

/// One scenario. In a TOML file: `[[scenario]]` tables with these keys; `name` is required and
/// everything else has the default shown by `tria-load list`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub model: LoadModel,
    /// Closed: concurrent users. Open: the most requests in flight (arrivals beyond it wait, and
    /// that wait counts in their latency).
    pub users: u32,
    /// Closed: each user stops after this many requests (the seed scenarios: users × requests).
    pub requests_per_user: Option<u32>,
    /// How long the run lasts when it is not counted in requests (closed) or always (open).
    pub duration_s: Option<f64>,
    /// Open model: arrivals per second.
    pub rate: Option<f64>,
    /// Replaces users/rate/duration by a sequence (spike: 5 → 100 → 5 users).
    pub stages: Vec<Stage>,
    /// Users start spread over this many seconds.
    pub ramp_up_s: f64,
    /// Mean pause between one user's messages (uniform in 0.5×..1.5×).
    pub think_time_ms: u64,
    pub timeout_ms: u64,
    pub endpoint: Endpoint,
    pub stream_pct: f64,
    /// Share of messages sent in a paraphrased wording, and in a never-seen wording.
    pub paraphrase_pct: f64,
    pub novel_pct: f64,
    /// Tenant slug → weight; unset: the weights given with `--tenant`.
    pub tenant_mix: BTreeMap<String, f64>,
    /// Only these conversation names (empty: all of the tenant's).
    pub conversations: Vec<String>,
    /// Ask every canonical wording once before measuring, so the cache is as warm as in
    /// production (the seeds' hit-rate targets assume it).
    pub warmup: bool,
    pub targets: Targets,
    pub faults: Vec<FaultAt>,
    /// Hard stop: whatever happens, the scenario ends after this many seconds.
    pub max_duration_s: f64,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            name: String::new(),
            description: String::new(),
            model: LoadModel::Closed,
            users: 1,
            requests_per_user: None,
            duration_s: None,
            rate: None,
            stages: Vec::new(),
            ramp_up_s: 0.0,
            think_time_ms: 1000,
            timeout_ms: 30_000,
            endpoint: Endpoint::Chat,
            stream_pct: 30.0,
            paraphrase_pct: 20.0,
            novel_pct: 5.0,
            tenant_mix: BTreeMap::new(),
            conversations: Vec::new(),
            warmup: true,
            targets: Targets::default(),
            faults: Vec::new(),
            max_duration_s: 3600.0,
        }
    }
}

/// A scenario file or value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("unknown scenario `{0}` (known: {known})", known = PRESET_NAMES.join(", "))]
    Unknown(String),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: String, source: Box<toml::de::Error> },
    #[error("scenario `{name}`: {problem}")]
    Invalid { name: String, problem: String },
}

/// The built-in scenarios, in the order `all` runs them.
pub const PRESET_NAMES: &[&str] =
    &["baseline", "light", "medium", "heavy", "stress", "sustained", "burst", "spike", "soak", "chaos", "cached"];

/// The five seed scenarios (the default run).
pub const SEED_NAMES: &[&str] = &["baseline", "light", "medium", "heavy", "stress"];

fn seed(name: &str, users: u32, requests: u32, success: f64, avg_s: f64, cache: f64) -> Scenario {
    Scenario {
        name: name.into(),
        description: format!("seed scenario: {users} users x {requests} requests"),
        users,
        requests_per_user: Some(requests),
        ramp_up_s: f64::from(users.min(10)) * 0.2,
        think_time_ms: 500,
        targets: Targets {
            min_success_pct: Some(success),
            max_avg_ms: Some(avg_s * 1000.0),
            min_cache_hit_pct: Some(cache),
            ..Targets::default()
        },
        max_duration_s: 600.0,
        ..Scenario::default()
    }
}

/// A built-in scenario by name.
pub fn preset(name: &str) -> Result<Scenario, ScenarioError> {
    let s = match name {
        "baseline" => seed("baseline", 1, 5, 95.0, 3.0, 50.0),
        "light" => seed("light", 5, 4, 95.0, 4.0, 60.0),
        "medium" => seed("medium", 10, 3, 95.0, 5.0, 70.0),
        "heavy" => seed("heavy", 20, 3, 90.0, 10.0, 75.0),
        "stress" => seed("stress", 50, 2, 85.0, 30.0, 80.0),
        "sustained" => Scenario {
            name: name.into(),
            description: "N users for a long time: latency should stay flat and memory should not grow".into(),
            users: 10,
            duration_s: Some(3600.0),
            ramp_up_s: 10.0,
            think_time_ms: 2000,
            targets: Targets { min_success_pct: Some(99.0), max_avg_ms: Some(3000.0), ..Targets::default() },
            max_duration_s: 3.0 * 3600.0,
            ..Scenario::default()
        },
        "burst" => Scenario {
            name: name.into(),
            description: "50 users with short think time for 5 minutes".into(),
            users: 50,
            duration_s: Some(300.0),
            ramp_up_s: 5.0,
            think_time_ms: 1000,
            targets: Targets { min_success_pct: Some(95.0), max_avg_ms: Some(5000.0), ..Targets::default() },
            max_duration_s: 900.0,
            ..Scenario::default()
        },
        "spike" => Scenario {
            name: name.into(),
            description: "5 -> 100 -> 5 users (--users sets the peak): only 200/429/503, served requests stay fast".into(),
            users: 100,
            stages: vec![
                Stage { duration_s: 30.0, users: Some(5), rate: None },
                Stage { duration_s: 60.0, users: Some(100), rate: None },
                Stage { duration_s: 30.0, users: Some(5), rate: None },
            ],
            think_time_ms: 1000,
            timeout_ms: 15_000,
            targets: Targets { only_statuses: Some(vec![200, 429, 503]), max_p95_ms: Some(1500.0), ..Targets::default() },
            max_duration_s: 600.0,
            ..Scenario::default()
        },
        "soak" => Scenario {
            name: name.into(),
            description: "5 users for 24 hours".into(),
            users: 5,
            duration_s: Some(24.0 * 3600.0),
            ramp_up_s: 5.0,
            think_time_ms: 5000,
            targets: Targets { min_success_pct: Some(99.0), max_avg_ms: Some(3000.0), ..Targets::default() },
            max_duration_s: 25.0 * 3600.0,
            ..Scenario::default()
        },
        "chaos" => Scenario {
            name: name.into(),
            description: "20 users while faults are injected through --fault-cmd hooks".into(),
            users: 20,
            duration_s: Some(120.0),
            ramp_up_s: 4.0,
            think_time_ms: 500,
            targets: Targets { max_failed: Some(0), ..Targets::default() },
            faults: vec![
                FaultAt { at_s: 30.0, hook: "kill-redis".into() },
                FaultAt { at_s: 60.0, hook: "start-redis".into() },
                FaultAt { at_s: 75.0, hook: "llm-faults".into() },
                FaultAt { at_s: 95.0, hook: "llm-normal".into() },
            ],
            max_duration_s: 900.0,
            ..Scenario::default()
        },
        "cached" => Scenario {
            name: name.into(),
            description: "the cached path flat out: canonical wordings of FAQ visits, no think time".into(),
            users: 64,
            duration_s: Some(20.0),
            think_time_ms: 0,
            paraphrase_pct: 0.0,
            novel_pct: 0.0,
            conversations: ["northwind-faq", "northwind-payment", "velo-faq", "velo-payment"].map(String::from).to_vec(),
            timeout_ms: 5000,
            targets: Targets { min_success_pct: Some(99.0), min_cache_hit_pct: Some(99.0), ..Targets::default() },
            max_duration_s: 600.0,
            ..Scenario::default()
        },
        other => return Err(ScenarioError::Unknown(other.to_owned())),
    };
    Ok(s)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    scenario: Vec<Scenario>,
}

/// Custom scenarios from a TOML file of `[[scenario]]` tables.
pub fn from_toml_file(path: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
    let scenarios = from_toml_str(&text).map_err(|e| match e {
        ScenarioError::Parse { source, .. } => ScenarioError::Parse { path: path.display().to_string(), source },
        other => other,
    })?;
    Ok(scenarios)
}

pub fn from_toml_str(text: &str) -> Result<Vec<Scenario>, ScenarioError> {
    let file: ScenarioFile =
        toml::from_str(text).map_err(|source| ScenarioError::Parse { path: "scenario file".into(), source: Box::new(source) })?;
    for s in &file.scenario {
        s.validate()?;
    }
    Ok(file.scenario)
}

/// Changes applied to every selected scenario from the command line.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub users: Option<u32>,
    pub requests_per_user: Option<u32>,
    pub duration_s: Option<f64>,
    pub rate: Option<f64>,
    pub model: Option<LoadModel>,
    pub think_time_ms: Option<u64>,
    pub ramp_up_s: Option<f64>,
    pub timeout_ms: Option<u64>,
    pub endpoint: Option<Endpoint>,
    pub warmup: Option<bool>,
}

impl Scenario {
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let invalid = |problem: &str| Err(ScenarioError::Invalid { name: self.name.clone(), problem: problem.to_owned() });
        if self.name.is_empty() {
            return invalid("a scenario needs a name");
        }
        for (what, pct) in [("stream_pct", self.stream_pct), ("paraphrase_pct", self.paraphrase_pct), ("novel_pct", self.novel_pct)] {
            if !(0.0..=100.0).contains(&pct) {
                return invalid(&format!("{what} must be between 0 and 100"));
            }
        }
        if self.paraphrase_pct + self.novel_pct > 100.0 {
            return invalid("paraphrase_pct + novel_pct must not exceed 100");
        }
        if self.timeout_ms == 0 || self.max_duration_s.is_nan() || self.max_duration_s <= 0.0 {
            return invalid("timeout_ms and max_duration_s must be positive");
        }
        if self.stages.iter().any(|s| s.duration_s.is_nan() || s.duration_s <= 0.0) {
            return invalid("every stage needs a positive duration_s");
        }
        if self.tenant_mix.values().any(|w| w.is_nan() || *w < 0.0) {
            return invalid("tenant weights must not be negative");
        }
        match self.model {
            LoadModel::Closed => {
                if self.stages.is_empty() && self.users == 0 {
                    return invalid("a closed scenario needs users > 0");
                }
                if self.stages.is_empty() && self.requests_per_user.is_none() && self.duration_s.is_none() {
                    return invalid("a closed scenario needs requests_per_user or duration_s");
                }
            }
            LoadModel::Open => {
                let has_rate = self.rate.is_some_and(|r| r > 0.0) || self.stages.iter().any(|s| s.rate.is_some_and(|r| r > 0.0));
                if !has_rate {
                    return invalid("an open scenario needs rate > 0 (or stages with rate)");
                }
                if self.stages.is_empty() && self.duration_s.is_none() {
                    return invalid("an open scenario needs duration_s");
                }
                if self.users == 0 {
                    return invalid("an open scenario needs users (the most requests in flight) > 0");
                }
            }
        }
        Ok(())
    }

    /// The stages the runner walks through: the explicit ones, or one built from the fields.
    pub fn effective_stages(&self) -> Vec<Stage> {
        if !self.stages.is_empty() {
            return self.stages.clone();
        }
        let duration_s = self.duration_s.unwrap_or(self.max_duration_s).min(self.max_duration_s);
        vec![Stage { duration_s, users: Some(self.users), rate: self.rate }]
    }

    /// Seconds the run is planned to take (requests-per-user runs: until done, at most the bound).
    pub fn planned_duration_s(&self) -> f64 {
        let stages: f64 = self.effective_stages().iter().map(|s| s.duration_s).sum();
        stages.min(self.max_duration_s)
    }

    /// The most users (closed) any stage has.
    pub fn peak_users(&self) -> u32 {
        self.effective_stages().iter().filter_map(|s| s.users).max().unwrap_or(self.users)
    }

    pub fn apply(&mut self, o: &Overrides) {
        if let Some(model) = o.model {
            self.model = model;
            if model == LoadModel::Open && self.duration_s.is_none() && self.stages.is_empty() {
                self.duration_s = Some(30.0);
            }
        }
        if let Some(users) = o.users {
            // A staged scenario: the override sets its peak and scales the other stages with it.
            let peak = self.stages.iter().filter_map(|s| s.users).max().unwrap_or(0);
            if peak > 0 {
                for stage in &mut self.stages {
                    if let Some(u) = stage.users.as_mut() {
                        *u = if *u == peak { users } else { (*u).min(users) };
                    }
                }
            }
            self.users = users;
        }
        if let Some(n) = o.requests_per_user {
            self.requests_per_user = Some(n);
        }
        if let Some(d) = o.duration_s {
            // Fault times keep their place in the run (chaos: a quarter in, half-way, …).
            let planned = self.planned_duration_s();
            if self.requests_per_user.is_none() && planned > 0.0 {
                for fault in &mut self.faults {
                    fault.at_s *= d / planned;
                }
            }
            self.duration_s = Some(d);
            self.requests_per_user = None;
            self.max_duration_s = self.max_duration_s.max(d + 60.0);
            if !self.stages.is_empty() {
                let total: f64 = self.stages.iter().map(|s| s.duration_s).sum();
                for stage in &mut self.stages {
                    stage.duration_s *= d / total;
                }
            }
        }
        if let Some(rate) = o.rate {
            self.rate = Some(rate);
            self.model = LoadModel::Open;
            if self.duration_s.is_none() && self.stages.is_empty() {
                self.duration_s = Some(30.0);
            }
        }
        if let Some(ms) = o.think_time_ms {
            self.think_time_ms = ms;
        }
        if let Some(s) = o.ramp_up_s {
            self.ramp_up_s = s;
        }
        if let Some(ms) = o.timeout_ms {
            self.timeout_ms = ms;
        }
        if let Some(e) = o.endpoint {
            self.endpoint = e;
        }
        if let Some(w) = o.warmup {
            self.warmup = w;
        }
    }

    /// `--quick`: the same shape in seconds (for CI). Request counts stay; durations shrink to a
    /// few seconds (stages and faults keep their proportions); think time and ramp-up shrink.
    pub fn quick(&mut self) {
        const QUICK_TOTAL_S: f64 = 4.0;
        let planned = self.planned_duration_s();
        let factor = if self.requests_per_user.is_some() && self.stages.is_empty() {
            1.0
        } else if planned > QUICK_TOTAL_S {
            QUICK_TOTAL_S / planned
        } else {
            1.0
        };
        if let Some(d) = self.duration_s.as_mut() {
            *d *= factor;
        }
        for stage in &mut self.stages {
            stage.duration_s *= factor;
        }
        for fault in &mut self.faults {
            fault.at_s *= factor;
        }
        self.think_time_ms = self.think_time_ms.min(50);
        self.ramp_up_s = self.ramp_up_s.min(0.5);
        self.timeout_ms = self.timeout_ms.min(10_000);
        self.max_duration_s = self.max_duration_s.min(60.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_scenarios_carry_the_seed_targets() {
        let stress = preset("stress").expect("preset");
        assert_eq!((stress.users, stress.requests_per_user), (50, Some(2)));
        assert_eq!(stress.targets.min_success_pct, Some(85.0));
        assert_eq!(stress.targets.max_avg_ms, Some(30_000.0));
        assert_eq!(stress.targets.min_cache_hit_pct, Some(80.0));
        for name in PRESET_NAMES {
            preset(name).expect("preset").validate().expect("valid");
        }
        assert!(matches!(preset("nope"), Err(ScenarioError::Unknown(_))));
    }

    #[test]
    fn quick_shrinks_durations_stages_and_faults_in_proportion() {
        let mut spike = preset("spike").expect("preset");
        spike.quick();
        let total: f64 = spike.stages.iter().map(|s| s.duration_s).sum();
        assert!((total - 4.0).abs() < 1e-9, "{total}");
        assert!((spike.stages[1].duration_s - 2.0).abs() < 1e-9);
        let mut chaos = preset("chaos").expect("preset");
        chaos.quick();
        assert_eq!(chaos.duration_s, Some(4.0));
        assert!((chaos.faults[0].at_s - 1.0).abs() < 1e-9, "30 s of 120 s is a quarter of the quick run");
        let mut baseline = preset("baseline").expect("preset");
        baseline.quick();
        assert_eq!(baseline.requests_per_user, Some(5), "request counts stay");
        assert!(baseline.think_time_ms <= 50);
    }

    #[test]
    fn a_users_override_sets_the_spike_peak_and_a_duration_override_scales_stages() {
        let mut spike = preset("spike").expect("preset");
        spike.apply(&Overrides { users: Some(1000), duration_s: Some(60.0), ..Overrides::default() });
        let users: Vec<_> = spike.stages.iter().map(|s| s.users).collect();
        assert_eq!(users, vec![Some(5), Some(1000), Some(5)]);
        assert!((spike.stages.iter().map(|s| s.duration_s).sum::<f64>() - 60.0).abs() < 1e-9);
        assert_eq!(spike.peak_users(), 1000);
        let mut chaos = preset("chaos").expect("preset");
        chaos.apply(&Overrides { duration_s: Some(60.0), ..Overrides::default() });
        assert_eq!(chaos.faults.iter().map(|f| f.at_s).collect::<Vec<_>>(), [15.0, 30.0, 37.5, 47.5]);
    }

    #[test]
    fn custom_scenarios_parse_from_toml_and_bad_ones_are_named() {
        let text = r#"
            [[scenario]]
            name = "open-20"
            model = "open"
            rate = 20.0
            users = 100
            duration_s = 30
            endpoint = "stream"
            tenant_mix = { northwind = 3.0, velo = 1.0 }
            targets = { min_success_pct = 99.0, max_p95_ms = 1500.0 }
        "#;
        let parsed = from_toml_str(text).expect("valid");
        assert_eq!(parsed[0].model, LoadModel::Open);
        assert_eq!(parsed[0].endpoint, Endpoint::Stream);
        assert_eq!(parsed[0].think_time_ms, 1000, "defaults fill the rest");
        let err = from_toml_str("[[scenario]]\nname = \"x\"\nmodel = \"open\"\nduration_s = 5").expect_err("no rate");
        assert!(err.to_string().contains("rate"), "{err}");
        let err = from_toml_str("[[scenario]]\nname = \"x\"\nusers = 2\nrequests_per_user = 1\nbogus = 1").expect_err("unknown key");
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}
