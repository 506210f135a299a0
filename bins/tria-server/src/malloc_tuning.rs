//! glibc malloc settings for a server that loads an ONNX model. Building the embedding
//! session folds the int8 model's weights into ~90 MB float copies twice and frees the
//! intermediate one; with glibc's default *dynamic* mmap threshold those multi-megabyte
//! buffers come from the main heap and stay there after they are freed, so the server idled at
//! ~250 MB RSS instead of ~155 MB. A fixed 128 KiB threshold serves every large buffer by
//! mmap, so freeing it gives it back (docs/PERFORMANCE.md). glibc reads its tunables only at
//! process start, hence the re-exec: the binary starts itself once more with
//! `GLIBC_TUNABLES` set, same pid (exec), same arguments. A caller who sets `GLIBC_TUNABLES`
//! themselves is left alone.
//!
//! Rust's own allocations go to mimalloc (`main.rs`), glibc keeps ONNX Runtime's and SQLite's.
//! mimalloc serves the cached path's many small allocations with a fifth less CPU, but by
//! default it keeps freed pages committed for a while and commits its arenas eagerly: the
//! server idled at ~208 MB instead of ~160 MB and passed the 250 MB goal under load. Purging
//! freed pages at once and committing arenas on demand brought it back to glibc's figures at
//! the same throughput (docs/PERFORMANCE.md). mimalloc reads its options from the environment
//! when it starts, so they ride on the same re-exec; each one a caller sets is theirs.

use std::ffi::{OsStr, OsString};

/// Large allocations above this are mmapped and returned to the OS when freed.
const MMAP_THRESHOLD: usize = 128 * 1024;
/// Two arenas: enough for two cores; each extra arena is memory glibc keeps.
const ARENA_MAX: usize = 2;

/// The `GLIBC_TUNABLES` value to start with, or `None` to leave the process as it is (the
/// caller already set tunables: theirs win, and it is what stops the re-exec repeating).
pub fn tunables_for(existing_tunables: Option<&OsStr>, arena_max_set: bool) -> Option<String> {
    if existing_tunables.is_some() {
        return None;
    }
    let mut tunables = format!("glibc.malloc.mmap_threshold={MMAP_THRESHOLD}");
    // MALLOC_ARENA_MAX is the older spelling of the same setting: keep the caller's.
    if !arena_max_set {
        tunables.push_str(&format!(":glibc.malloc.arena_max={ARENA_MAX}"));
    }
    Some(tunables)
}

/// mimalloc's options: freed pages go back to the OS at once (its default waits 10 ms and then
/// some), and arenas are committed as they are used, not when they are reserved.
const MIMALLOC_OPTIONS: [(&str, &str); 2] = [("MIMALLOC_PURGE_DELAY", "0"), ("MIMALLOC_ARENA_EAGER_COMMIT", "0")];

/// The variables to add to the environment before the server starts for real: glibc's tunables
/// (see [`tunables_for`]) and each mimalloc option the caller has not set. Empty: nothing to
/// add, which is also what the re-executed process sees, so it does not restart again.
pub fn environment_for(var: impl Fn(&str) -> Option<OsString>) -> Vec<(&'static str, String)> {
    let mut env = Vec::new();
    if let Some(tunables) = tunables_for(var("GLIBC_TUNABLES").as_deref(), var("MALLOC_ARENA_MAX").is_some()) {
        env.push(("GLIBC_TUNABLES", tunables));
    }
    for (name, value) in MIMALLOC_OPTIONS {
        if var(name).is_none() {
            env.push((name, value.to_owned()));
        }
    }
    env
}

/// Re-executes the running binary with the allocator settings when they are not set yet.
/// Returns only when no re-exec is needed or it failed (the server then runs with the
/// allocators' defaults).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn reexec_with_tunables() -> Option<std::io::Error> {
    use std::os::unix::process::CommandExt;
    let env = environment_for(|name| std::env::var_os(name));
    if env.is_empty() {
        return None;
    }
    let mut args = std::env::args_os();
    let arg0 = args.next()?;
    // The binary's own path keeps the process name (`ps`, `pkill tria-server`); /proc/self/exe
    // still reaches the binary when its file was replaced since (e.g. by a rebuild).
    let exe = std::env::current_exe().ok().filter(|p| p.exists()).unwrap_or_else(|| "/proc/self/exe".into());
    Some(std::process::Command::new(exe).arg0(arg0).args(args).envs(env).exec())
}

/// Other platforms have other allocators: nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn reexec_with_tunables() -> Option<std::io::Error> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_a_fixed_mmap_threshold_and_two_arenas_when_nothing_is_set() {
        assert_eq!(tunables_for(None, false).as_deref(), Some("glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2"));
    }

    #[test]
    fn keeps_the_callers_settings() {
        assert_eq!(tunables_for(Some(OsStr::new("glibc.malloc.tcache_count=0")), false), None);
        // An empty value is still the caller's choice, and is what a second start sees.
        assert_eq!(tunables_for(Some(OsStr::new("")), false), None);
        assert_eq!(tunables_for(None, true).as_deref(), Some("glibc.malloc.mmap_threshold=131072"));
    }

    fn env_of(set: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let set: Vec<(String, OsString)> = set.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        move |name| set.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_bare_start_gets_glibc_tunables_and_mimallocs_purge_settings() {
        let env = environment_for(env_of(&[]));
        let names: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["GLIBC_TUNABLES", "MIMALLOC_PURGE_DELAY", "MIMALLOC_ARENA_EAGER_COMMIT"]);
        assert!(env.iter().all(|(k, v)| k.starts_with("GLIBC") || v == "0"), "{env:?}");
    }

    #[test]
    fn the_restarted_process_and_a_callers_own_settings_add_nothing() {
        // What the re-executed process sees: everything set, so it does not restart again.
        let after = env_of(&[("GLIBC_TUNABLES", "x"), ("MIMALLOC_PURGE_DELAY", "0"), ("MIMALLOC_ARENA_EAGER_COMMIT", "0")]);
        assert!(environment_for(after).is_empty());
        // A caller's mimalloc option is theirs; only the missing ones are added.
        let env = environment_for(env_of(&[("GLIBC_TUNABLES", ""), ("MIMALLOC_PURGE_DELAY", "100")]));
        assert_eq!(env, vec![("MIMALLOC_ARENA_EAGER_COMMIT", "0".to_owned())]);
    }
}
