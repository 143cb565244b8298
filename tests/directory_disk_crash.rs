//! DirectoryDisk is crash-safe: a child process rewrites a file in a loop and
//! is killed (SIGKILL) at random moments, hundreds of times; the file must
//! always hold one whole version, never a torn or missing one.
//!
//! A custom harness (the same binary is the child when RACECHECK_CRASH_DIR
//! is set) that speaks libtest's protocol through libtest-mimic: `--list`,
//! filters and `--exact` work, so `cargo nextest` can list and split it.

use libtest_mimic::{Arguments, Failed, Trial};
use racecheck::storage::{DirectoryDisk, Disk};
use std::process::{Command, Stdio};
use std::time::Duration;

const FILE: &str = "state/plan.json";
const KILLS: usize = 300;

/// A version large enough that writing it takes a while.
fn version(n: u64) -> String {
    format!("{{\"version\":{n},\"pad\":\"{}\"}}", "x".repeat(256 * 1024))
}

fn is_whole(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| Some(v.get("version")?.is_u64() && v.get("pad")?.as_str()?.len() == 256 * 1024))
        .unwrap_or(false)
}

fn child(dir: &str) -> ! {
    let disk = DirectoryDisk::new(dir);
    for n in 1.. {
        disk.write(FILE, version(n).into()).expect("write");
    }
    unreachable!()
}

fn main() {
    if let Ok(dir) = std::env::var("RACECHECK_CRASH_DIR") {
        child(&dir);
    }
    let args = Arguments::from_args();
    libtest_mimic::run(&args, vec![Trial::test("crash_safety", crash_safety)]).exit();
}

/// Kills a writer mid-write again and again; the file is always whole.
fn crash_safety() -> Result<(), Failed> {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = DirectoryDisk::new(dir.path());
    disk.write(FILE, version(0).into()).expect("first version");
    let exe = std::env::current_exe().expect("test binary");
    let mut leftovers = 0;
    let mut versions = std::collections::BTreeSet::new();
    for i in 0..KILLS {
        let mut child = Command::new(&exe)
            .env("RACECHECK_CRASH_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn writer");
        // Vary the moment of death across the write's phases.
        std::thread::sleep(Duration::from_micros(300 + (i as u64 * 7919) % 9000));
        child.kill().expect("kill");
        child.wait().expect("reap");
        let text = disk.read(FILE).expect("read").expect("the file is never missing");
        if !is_whole(&text) {
            return Err(format!("kill {i}: torn file ({} bytes)", text.len()).into());
        }
        versions.insert(serde_json::from_str::<serde_json::Value>(&text).unwrap()["version"].as_u64().unwrap());
        let state = dir.path().join("state");
        for entry in std::fs::read_dir(&state).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                leftovers += 1;
                std::fs::remove_file(entry.path()).ok();
            }
        }
    }
    // Evidence that kills landed mid-write: temp files left behind.
    if leftovers == 0 {
        return Err("no kill interrupted a write; the test proved nothing".into());
    }
    eprintln!("crash_safety: {KILLS} kills, {leftovers} mid-write, {} distinct versions seen", versions.len());
    Ok(())
}
