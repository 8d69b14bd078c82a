//! `bindlog eval`: run a Datalog program the way `souffle -F -D` does.

use super::Outcome;
use bindlog::datalog::io::PathPolicy;
use bindlog::datalog::provenance::{self, ExplainFormat};
use bindlog::datalog::{Engine, Inputs, Rules};
use miette::miette;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `bindlog eval`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  bindlog eval examples/datalog/path.dl -F examples/datalog -D -
  bindlog eval examples/datalog/path.dl -F examples/datalog --explain 'path(\"a\",\"d\")'
  bindlog eval examples/datalog/path.dl -F examples/datalog --print-plan

Files: `.input r(filename=\"x.facts\")` reads only inside the -F directory and `.output
r(filename=\"x.csv\")` writes only inside the -D directory: `..`, absolute paths elsewhere and
symbolic links leading out are refused (Soufflé allows them; rules are shared, so bindlog does
not unless --allow-any-path is given). An error about a facts file gives its line and column,
never its text.

Fields: a symbol holding the delimiter, a line break or a leading `\"` is written quoted as RFC
4180 does (`\"a<TAB>b\"`, a quote doubled), and a field starting with `\"` is read back that way
(Soufflé's `rfc4180=true` quoting; Soufflé's default writes such symbols unquoted, breaking the
row). Every other symbol is written as is.

Arithmetic (32-bit, as Soufflé): `+`, `-`, `*`, unary `-` and `sum` wrap around on overflow
(two's complement, as Soufflé computes them), with a warning; `/` and `%` by zero have no value:
the rule derives nothing for that binding, with a warning (Soufflé stops the program);
-2147483648 / -1 wraps to -2147483648 (warning) and -2147483648 % -1 is 0. `strlen` and
`substr` count bytes, as Soufflé; a `substr` range that cuts a UTF-8 character leaves that
character out (warning), where Soufflé returns half of it. String escapes are Soufflé's: \\\"
\\' \\\\ \\a \\b \\f \\n \\r \\t \\v; any other (`\\u202e`) is an error.

Aggregates follow Soufflé's scoping: a body variable also bound outside the aggregate is read
from outside; one bound only inside it and used elsewhere in the rule is a witness of `min` or
`max` (`best(p, s) :- s = max x : { score(p, x) }` gives every `p` with the top score; a
witness of `count` or `sum` is an error); any other body variable is the aggregate's own, even
when it shares a name with one outside (`a = max a : r(a)`). Aggregates nest. `autoinc()`
numbers a rule's tuples from 0 (not in recursive rules). An invalid regular expression makes
both `match` and `!match` false, with a warning. A relation may have several `.output`
directives (`filename=` tells them apart): each is written.

Pragmas: `.pragma \"magic-transform\" \"*\"` (or a comma-separated list of relations) computes
the relations it names only where the outputs ask for them (the magic-set rewrite;
`magic-transform-exclude` lists relations to leave alone); outputs, `.printsize` relations and
inputs keep exactly their tuples, and relations under a negation or an aggregate are left as
written; the `magic` and `no_magic` qualifiers of `.decl` add or exclude a relation. --print-plan
shows the rewritten program. Other pragmas are ignored.

Bounds: --max-tuples and --timeout are checked as tuples are produced, inside a round; passing
one is an error (exit 2) and nothing is written.")]
pub struct Args {
    /// Datalog files (Soufflé syntax); several files form one program.
    #[arg(required = true, value_name = "PROGRAM.dl")]
    pub programs: Vec<PathBuf>,
    /// Directory of `.facts` files for `.input` relations (tab-separated).
    #[arg(
        short = 'F',
        long = "facts",
        default_value = ".",
        value_name = "FACT_DIR"
    )]
    pub facts: PathBuf,
    /// Directory for `.output` relations as `<name>.csv`; `-` prints them.
    #[arg(
        short = 'D',
        long = "output",
        default_value = ".",
        value_name = "OUTPUT_DIR"
    )]
    pub output: PathBuf,
    /// Print the compiled plan (every datafrog step under the rule it implements) and stop.
    #[arg(long)]
    pub print_plan: bool,
    /// Explain a tuple, e.g. 'path("a","d")': a proof if it holds, a why-not if it does not.
    #[arg(long, value_name = "ATOM")]
    pub explain: Option<String>,
    /// How deep a why-not answer follows missing tuples.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub depth: usize,
    /// Output form of --explain.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
    /// Evaluator: `fast` (datafrog), `naive` (the reference), `compare` (both, fail on a difference).
    #[arg(long, value_enum, default_value_t = EngineArg::Fast)]
    pub engine: EngineArg,
    /// Worker threads for independent strata and for formatting large outputs (1 = sequential;
    /// output is identical).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub limits: super::LimitArgs,
    /// Let `filename=` of `.input` and `.output` name any file. Without it a rules file may
    /// only read files inside the -F directory and write inside the -D directory (`..`,
    /// absolute paths and symbolic links leading out are refused), since rules are shared.
    #[arg(long)]
    pub allow_any_path: bool,
}

/// Which evaluator `bindlog eval` runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineArg {
    /// datafrog, semi-naive.
    Fast,
    /// The naive reference evaluator.
    Naive,
    /// Both; exit 3 on any difference.
    Compare,
}

/// Runs `bindlog eval`.
pub fn run(args: Args) -> Outcome {
    crate::free_memory_promptly();
    let limits = args.limits.bound_process()?;
    let mut rules = match Rules::from_files(&args.programs) {
        Ok(r) => r,
        Err(f) => return Ok(super::bad_input(&f.render(100))),
    };
    if args.print_plan {
        print!("{}", rules.render_plan());
        return Ok(ExitCode::SUCCESS);
    }
    let policy = if args.allow_any_path {
        PathPolicy::Any
    } else {
        PathPolicy::Confined
    };
    let inputs =
        match Inputs::from_dir_with(&mut rules, &args.facts, args.explain.is_some(), policy) {
            Ok(i) => i,
            Err(f) => return Ok(super::bad_input(&f.render(100))),
        };
    let jobs = args.jobs.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| miette!("cannot start worker threads: {e}"))?;
    let parallel = jobs != 1;
    if let Some(atom) = &args.explain {
        let text = match provenance::explain_text(
            &mut rules,
            &inputs,
            atom,
            limits,
            args.depth,
            args.format,
        ) {
            Ok(t) => t,
            Err(e) => return Ok(super::bad_input(&e)),
        };
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let result = match args.engine {
        EngineArg::Fast => {
            pool.install(|| rules.evaluate_owned(inputs, Engine::Fast { parallel }, limits))
        }
        EngineArg::Naive => rules.evaluate(&inputs, Engine::Naive, limits),
        EngineArg::Compare => {
            let fast = pool
                .install(|| rules.evaluate(&inputs, Engine::Fast { parallel }, limits))
                .map_err(|e| miette!("{e}"))?;
            let naive = rules
                .evaluate(&inputs, Engine::Naive, limits)
                .map_err(|e| miette!("{e}"))?;
            for r in &rules.program.relations {
                let (a, b) = (fast.rows(&rules, &r.name), naive.rows(&rules, &r.name));
                if a != b {
                    let (na, nb) = (a.map_or(0, |x| x.len()), b.map_or(0, |x| x.len()));
                    eprintln!(
                        "error: the evaluators disagree on `{}`: fast {na} tuples, naive {nb}",
                        r.name
                    );
                    return Ok(ExitCode::from(3));
                }
            }
            Ok(fast)
        }
    };
    let eval = result.map_err(|e| miette!("{e}"))?;
    for w in &eval.warnings {
        eprintln!("warning: {w}");
    }
    // Large tables are formatted by the pool's threads: `--jobs` bounds them too.
    pool.install(|| super::write_outputs(&rules, &eval, &args.output, policy))?;
    Ok(ExitCode::SUCCESS)
}
