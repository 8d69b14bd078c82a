//! Flags parsed into plain data first (clap derive), then each subcommand runs in its own file.

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

mod access;
mod analyze;
mod audit;
mod check;
mod completions;
mod deferred;
mod diagram;
mod diff;
mod eval;
mod explain;
mod facts;
mod fetch;
mod generate;
mod plan;
mod progress;
mod query;
mod report;
mod who;

/// bindlog: reason about a whole authentik configuration at once, with Datalog.
#[derive(Parser, Debug)]
#[command(
    name = "bindlog",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Examples:
  bindlog plan examples/acme/snapshot.json --flow default-authentication-flow --user ada.nguyen
  bindlog analyze examples/acme/snapshot.json
  export BINDLOG_SNAPSHOT=examples/acme/snapshot.json   # then leave the SNAPSHOT argument out
  bindlog audit --fail-on high

Exit status: 0 done; 1 `audit`/`diff` found what --fail-on asks to fail on; 2 bad usage or bad
input (the message names the file, the place and what was expected); 3 `eval --engine compare`
found the two evaluators disagree.
Reference: docs/README.md in bindlog's repository (input, outputs, semantics, audit catalogue,
rules reference, command line)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One identity through one flow: every stage shown, skipped or unknown, and why unknown.
    Plan(plan::Args),
    /// Whether a user may open an application: yes, no or unknown.
    Access(access::Args),
    /// Why a stage is shown, skipped or unknown (or an app open or not), as a proof tree.
    Explain(explain::Args),
    /// Every user (and the anonymous visitor) through every flow and application at once.
    Analyze(analyze::Args),
    /// The users behind one answer: a stage skipped, an app opened (and through which group).
    Who(who::Args),
    /// Every binding decided only at run time, with the reason and whom it concerns.
    Deferred(deferred::Args),
    /// An auditor's report of the whole snapshot: one self-contained HTML file, or CSV files.
    Report(report::Args),
    /// A flow's stages and bindings as a Mermaid or Graphviz diagram, styled for one user.
    Diagram(diagram::Args),
    /// Misconfigurations: findings with objects, fixes and proofs (text, JSON, SARIF, Markdown).
    Audit(audit::Args),
    /// What a change does: stages and applications each user gains or loses, findings that appear or disappear.
    Diff(diff::Args),
    /// Run your own Datalog rules over a snapshot and the built-in derived relations.
    Query(query::Args),
    /// Load and validate a snapshot: counts, assumed defaults, warnings.
    Check(check::Args),
    /// Write a snapshot's input relations as Soufflé `.facts` files.
    Facts(facts::Args),
    /// Download a snapshot from a running authentik instance.
    Fetch(fetch::Args),
    /// Write a synthetic snapshot (deterministic from a seed) for tests and benchmarks.
    Generate(generate::Args),
    /// Evaluate a Datalog program (Soufflé conventions: -F facts in, -D csv out).
    Eval(eval::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::Args),
    /// Print bindlog's man page (roff), or write one page per subcommand with -o DIR.
    Man(completions::ManArgs),
}

/// What a subcommand returns: its exit code, or a report for bad usage or bad input (exit 2).
pub type Outcome = Result<ExitCode, miette::Report>;

/// `--max-tuples` and `--timeout`: the bounds of every command that evaluates rules.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct LimitArgs {
    /// Stop with an error (exit 2) once an evaluation holds more tuples than this, counted as
    /// they are derived (intermediate join results included), never with a partial result.
    #[arg(long, default_value_t = 500_000_000, value_name = "N")]
    pub max_tuples: usize,
    /// Stop with an error (exit 2) once this many seconds have passed since the command
    /// started, checked while rules are evaluated (inside each round, not only between them).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
}

impl LimitArgs {
    /// The bounds as the engine takes them; a timeout that is not a number of seconds is bad usage.
    pub fn limits(&self) -> Result<bindlog::datalog::eval::Limits, miette::Report> {
        let timeout = match self.timeout {
            Some(t) => Some(std::time::Duration::try_from_secs_f64(t).map_err(|_| {
                miette::miette!("`--timeout {t}` is not a number of seconds of 0 or more")
            })?),
            None => None,
        };
        Ok(bindlog::datalog::eval::Limits {
            max_tuples: self.max_tuples,
            timeout,
        })
    }
    /// Bounds every evaluation the command runs (see [`bindlog::datalog::eval::bound_process`]).
    pub fn bound_process(&self) -> Result<bindlog::datalog::eval::Limits, miette::Report> {
        let limits = self.limits()?;
        bindlog::datalog::eval::bound_process(limits);
        Ok(limits)
    }
}

/// A message already written for the person reading it (several lines, each problem with its
/// help): printed as it is, without miette's frame or codes.
#[derive(Debug)]
pub struct Plain(pub String);

impl std::fmt::Display for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Plain {}

impl miette::Diagnostic for Plain {}

/// Prints diagnostics that are already rendered and gives exit status 2 (bad input).
pub fn bad_input(rendered: &str) -> ExitCode {
    eprint!("{rendered}");
    if !rendered.ends_with('\n') {
        eprintln!();
    }
    ExitCode::from(2)
}

/// Writes a program's `.output` relations to `dir` (`-`: stdout, in Soufflé's boxed form).
pub fn write_outputs(
    rules: &bindlog::datalog::Rules,
    eval: &bindlog::datalog::Evaluation,
    dir: &std::path::Path,
    policy: bindlog::datalog::io::PathPolicy,
) -> Result<(), miette::Report> {
    write_tables(&rules.program, &eval.tables, &eval.symbols, dir, policy)
}

/// [`write_outputs`] for the tables of a program's relations.
pub fn write_tables(
    program: &bindlog::datalog::ir::Program,
    tables: &[bindlog::datalog::eval::Table],
    symbols: &bindlog::datalog::value::Interner,
    dir: &std::path::Path,
    policy: bindlog::datalog::io::PathPolicy,
) -> Result<(), miette::Report> {
    use std::io::Write;
    if dir != std::path::Path::new("-") {
        std::fs::create_dir_all(dir)
            .map_err(|e| miette::miette!("cannot create `{}`: {e}", dir.display()))?;
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    bindlog::datalog::io::write_outputs(program, tables, symbols, dir, &mut out, policy)
        .map_err(|e| miette::miette!("cannot write the output to `{}`: {e}", dir.display()))?;
    out.flush()
        .map_err(|e| miette::miette!("cannot write to stdout: {e}"))
}

/// Parses the command line, runs the subcommand and maps failures to exit status 2.
pub fn run() -> ExitCode {
    // Unwrapped lines keep each file#pointer and message whole, for people and for grep.
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    // `eval` says its one evaluation's warnings itself.
    let evaluates_once = matches!(cli.command, Command::Eval(_));
    let outcome = match cli.command {
        Command::Eval(args) => eval::run(args),
        Command::Check(args) => check::run(args),
        Command::Facts(args) => facts::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Access(args) => access::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Deferred(args) => deferred::run(args),
        Command::Query(args) => query::run(args),
        Command::Report(args) => report::run(args),
        Command::Diagram(args) => diagram::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Who(args) => who::run(args),
        Command::Completions(args) => completions::run(args, Cli::command()),
        Command::Man(args) => completions::man(args, Cli::command()),
    };
    // Rules evaluated by `query`, `audit --rules`, `analyze` or `report` (arithmetic that wraps
    // or divides by zero, say) warn as `eval` does, once each.
    if !evaluates_once {
        for w in bindlog::datalog::eval::take_process_warnings() {
            eprintln!("warning: {w}");
        }
    }
    match outcome {
        Ok(code) => code,
        Err(report) => {
            match report.downcast_ref::<Plain>() {
                Some(plain) => eprint!("{plain}"),
                None => eprintln!("{report:?}"),
            }
            ExitCode::from(2)
        }
    }
}
