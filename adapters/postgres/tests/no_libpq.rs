//! Nothing in the workspace links libpq: `cargo tree -i pq-sys` finds no such package.

use std::process::Command;

#[test]
fn no_package_depends_on_pq_sys() {
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--workspace", "--target", "all", "--offline", "-i", "pq-sys"])
        .current_dir(workspace)
        .output()
        .expect("cargo tree runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "pq-sys is in the tree:\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains("did not match any packages"), "cargo tree failed otherwise: {stderr}");
}
