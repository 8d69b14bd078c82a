//! Tells the tests whether authentik's own blueprints are beside the repository
//! (`../shared/corpus/authentik-blueprints`, or the directory in `BINDLOG_CORPUS`). A fresh
//! clone has none: the tests that read them are then listed as ignored, with the reason.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(corpus)");
    println!("cargo::rerun-if-env-changed=BINDLOG_CORPUS");
    let dir = std::env::var("BINDLOG_CORPUS").map_or_else(
        |_| {
            let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
            std::path::Path::new(&root).join("../shared/corpus/authentik-blueprints")
        },
        std::path::PathBuf::from,
    );
    println!("cargo::rerun-if-changed={}", dir.display());
    if dir.join("default").is_dir() {
        println!("cargo::rustc-cfg=corpus");
        println!("cargo::rustc-env=BINDLOG_CORPUS_DIR={}", dir.display());
    }
}
