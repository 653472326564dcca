// SPDX-License-Identifier: GPL-2.0
//! The exerciser's model checked against the host's own filesystem: a run
//! there must pass, so a failure in the guest is r2dax's, not the model's.

use std::process::Command;

fn run(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_r2dax-fsx"))
        .args(["-q", "-n", "4000", "-j", "2", "-s", "7", "-c", "500"])
        .args(extra)
        .arg(dir)
        .output()
        .expect("run r2dax-fsx")
}

#[test]
fn model_agrees_with_the_host_filesystem() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fsx-host");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut out = run(&dir, &[]);
    if String::from_utf8_lossy(&out.stderr).contains("open O_DIRECT") {
        // The host filesystem (tmpfs, overlayfs) has no O_DIRECT.
        out = run(&dir, &["--no-direct"]);
    }
    assert!(
        out.status.success(),
        "r2dax-fsx failed on the host:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_wrong_model_is_caught() {
    // Truncating the file behind the exerciser's back must be reported.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fsx-bad");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_r2dax-fsx"))
        .args([
            "-q",
            "-n",
            "200000",
            "-j",
            "1",
            "-s",
            "3",
            "-c",
            "10",
            "--no-direct",
            // A shared mapping past the new end of file would take SIGBUS
            // instead of reporting the mismatch.
            "--no-mmap",
        ])
        .arg(&dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run r2dax-fsx");
    // Let it get going, then cut the file.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("fsx.0"))
        .unwrap();
    f.set_len(1).unwrap();
    let out = out.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The cut shows as a wrong byte, a wrong size or a short read,
    // depending on which operation meets it first.
    assert!(err.contains("FAILED"), "{err}");
    assert!(
        ["mismatch", "size", "returned", "short file"]
            .iter()
            .any(|w| err.contains(w)),
        "{err}"
    );
}
