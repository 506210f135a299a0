//! glibc malloc settings for a server that loads an ONNX model. Building the embedding
//! session folds the int8 model's weights into ~90 MB float copies twice and frees the
//! intermediate one; with glibc's default *dynamic* mmap threshold those multi-megabyte
//! buffers come from the main heap and stay there after they are freed, so the server idled at
//! ~250 MB RSS instead of ~155 MB. A fixed 128 KiB threshold serves every large buffer by
//! mmap, so freeing it gives it back (docs/PERFORMANCE.md). glibc reads its tunables only at
//! process start, hence the re-exec: the binary starts itself once more with
//! `GLIBC_TUNABLES` set, same pid (exec), same arguments. A caller who sets `GLIBC_TUNABLES`
//! themselves is left alone.

use std::ffi::OsStr;

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

/// Re-executes the running binary with the tunables when they are not set yet. Returns only
/// when no re-exec is needed or it failed (the server then runs with glibc's defaults).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn reexec_with_tunables() -> Option<std::io::Error> {
    use std::os::unix::process::CommandExt;
    let tunables = tunables_for(std::env::var_os("GLIBC_TUNABLES").as_deref(), std::env::var_os("MALLOC_ARENA_MAX").is_some())?;
    let mut args = std::env::args_os();
    let arg0 = args.next()?;
    // The binary's own path keeps the process name (`ps`, `pkill tria-server`); /proc/self/exe
    // still reaches the binary when its file was replaced since (e.g. by a rebuild).
    let exe = std::env::current_exe().ok().filter(|p| p.exists()).unwrap_or_else(|| "/proc/self/exe".into());
    Some(std::process::Command::new(exe).arg0(arg0).args(args).env("GLIBC_TUNABLES", tunables).exec())
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
}
