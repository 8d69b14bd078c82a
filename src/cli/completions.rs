//! `bindlog completions` and `bindlog man`: what shells and `man` need, generated from the same
//! clap definitions as `--help`, so they never disagree with it.

use super::Outcome;
use miette::miette;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `bindlog completions`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  bindlog completions bash > ~/.local/share/bash-completion/completions/bindlog
  bindlog completions zsh > ~/.zfunc/_bindlog        # with fpath+=~/.zfunc in ~/.zshrc
  bindlog completions fish > ~/.config/fish/completions/bindlog.fish")]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    shell: clap_complete::Shell,
}

/// Flags of `bindlog man`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  bindlog man | man -l -                        # read it now
  bindlog man -o /usr/local/share/man/man1/     # bindlog.1 and bindlog-SUBCOMMAND.1 for each")]
pub struct ManArgs {
    /// Write bindlog.1 and one bindlog-SUBCOMMAND.1 per subcommand into this directory
    /// (created if missing) instead of printing bindlog.1.
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
}

/// Runs `bindlog completions`.
pub fn run(args: Args, mut command: clap::Command) -> Outcome {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "bindlog", &mut out);
    out.flush()
        .map_err(|e| miette!("cannot write to stdout: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bindlog man`.
pub fn man(args: ManArgs, mut command: clap::Command) -> Outcome {
    let Some(dir) = args.output else {
        let mut out = std::io::stdout().lock();
        clap_mangen::Man::new(command)
            .render(&mut out)
            .and_then(|()| out.flush())
            .map_err(|e| miette!("cannot write to stdout: {e}"))?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&dir).map_err(|e| miette!("cannot create `{}`: {e}", dir.display()))?;
    // Once the tree is built each subcommand knows its full name (`bindlog-plan`), which
    // clap_mangen uses for the page's file and title.
    command.build();
    let write = |cmd: clap::Command| -> Result<(), miette::Report> {
        let man = clap_mangen::Man::new(cmd);
        let path = dir.join(man.get_filename());
        let mut buffer = Vec::new();
        man.render(&mut buffer)
            .and_then(|()| std::fs::write(&path, buffer))
            .map_err(|e| miette!("cannot write `{}`: {e}", path.display()))
    };
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        write(sub.clone())?;
    }
    write(command)?;
    Ok(ExitCode::SUCCESS)
}
