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

/// For `bindlog eval`, has the allocator commit memory as it is used rather than a whole
/// arena chunk at once (`arena_eager_commit`): eagerly committed, the start of a run holds
/// 3.5 MB more than it uses, a tenth of the peak of a small evaluation (`eval` on the README's
/// same-generation workload: 36 MB against 32.7 MB). The first arena exists before `main`
/// runs, so this runs earlier, as an ELF initialiser, which glibc calls with the arguments.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static COMMIT_LAZILY_FOR_EVAL: unsafe extern "C" fn(libc::c_int, *const *const libc::c_char) =
    commit_lazily_for_eval;

/// See [`COMMIT_LAZILY_FOR_EVAL`].
#[cfg(target_os = "linux")]
unsafe extern "C" fn commit_lazily_for_eval(argc: libc::c_int, argv: *const *const libc::c_char) {
    /// `mi_option_arena_eager_commit` in mimalloc 3's `mi_option_e`.
    const ARENA_EAGER_COMMIT: libc::c_int = 4;
    if argc < 2 || argv.is_null() {
        return;
    }
    // SAFETY: glibc passes `argc` valid NUL-terminated strings in `argv`; `argv[1]` exists
    // since `argc >= 2`.
    let first = unsafe { std::ffi::CStr::from_ptr(*argv.add(1)) };
    if first == c"eval" {
        // SAFETY: sets a plain integer option, before any thread exists.
        unsafe { mi_option_set(ARENA_EAGER_COMMIT, 0) }
    }
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
