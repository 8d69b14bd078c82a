//! The `bindlog` command line: clap lives here and in `cli/`, everything else in the library.

mod cli;

// Evaluating many small components allocates and frees many small vectors from both threads;
// mimalloc does that markedly faster than the system allocator (see the README's figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's setter of one of its options (`mimalloc.h`).
    fn mi_option_set(option: libc::c_int, value: libc::c_long);
}

/// Makes the allocator return freed memory to the system at once. mimalloc keeps it for a
/// second by default (`purge_delay`), which a run of one large evaluation never outlives: its
/// peak resident memory was then the sum of every table it ever freed (`eval` on the README's
/// aggregate workload: 222 MB held against 135 MB returned at once, for about 1% more CPU).
pub(crate) fn free_memory_promptly() {
    /// `mi_option_purge_delay` in mimalloc 3's `mi_option_e`.
    const PURGE_DELAY: libc::c_int = 15;
    // SAFETY: sets a plain integer option; mimalloc reads its options atomically.
    unsafe { mi_option_set(PURGE_DELAY, 0) }
}

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`bindlog analyze | head`) would
    // panic; end quietly instead, as other command-line tools do.
    #[cfg(unix)]
    // SAFETY: called before any thread starts; SIG_DFL is a valid action for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // mimalloc asks for transparent huge pages, and each first touch of one zeroes 2 MiB: a
    // whole-snapshot run, which fills and frees many arenas, then spends up to a third of its
    // time in the kernel zeroing pages and holds a quarter more resident memory than it uses
    // (measured in the README). Small pages cost it less.
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    cli::run()
}
