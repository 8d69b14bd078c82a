//! Auditor reports: one table model built from a loaded snapshot, rendered as a self-contained
//! HTML page ([`html`]), CSV files ([`csv`]); and flow diagrams ([`diagram`]).
//!
//! Everything here is sorted and free of hash-map order, so two runs on the same input give the
//! same bytes; only [`Provenance::generated`] changes, and the caller fixes it for reproducible
//! output (`--timestamp`, `SOURCE_DATE_EPOCH`).

pub mod csv;
pub mod diagram;
pub mod html;

use crate::analysis::bulk::Idle;
use crate::analysis::coverage::Coverage;
use crate::analysis::memberships::{ByClass, UserGroups};
use crate::analysis::paths::{Because, Member, Named, Reach};
use crate::analysis::views::{
    ANON, BEYOND_CUT_OFF, Decide, DefaultEntry, Live, OpenBinding, SuperuserSure, SuperuserUnknown,
    Tri, Visible,
};
use crate::analysis::{COVERAGE, Model};
use crate::audit::Finding;
use crate::snapshot::{Loaded, PolicyBinding, Snapshot};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A time stamp (seconds since 1970, UTC) in RFC 3339, as the report prints it.
pub use crate::time::rfc3339;

/// The analysis of every user at once. The one place the report asks for all-users data, so
/// that a faster bulk analysis can take its place.
pub fn all_users(snapshot: &Snapshot) -> Result<Model, String> {
    all_users_telling(snapshot, None)
}

/// [`all_users`], telling `idle` when the evaluation leaves a core idle.
fn all_users_telling(snapshot: &Snapshot, idle: Option<&Idle>) -> Result<Model, String> {
    Model::everyone_deciding(snapshot, &[COVERAGE], &RELATIONS, &BY_CLASS, &[], idle)
}

/// The relations the report reads per user (expanded from identity classes to every user):
/// the superusers for sure, and those whose right is left unknown (the ancestry cut-off).
pub const RELATIONS: [&str; 2] = ["superuser_sure", "superuser_unknown"];

/// The relations the report reads per identity class, under each user's representative.
pub const BY_CLASS: [&str; 3] = ["decide", "open_binding", "visible"];

/// Where the report's answers come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// The files read, in the order read, with their SHA-256 (lower-case hex).
    pub files: Vec<(String, String)>,
    /// The authentik version, or `unknown`.
    pub version: String,
    /// Defaults assumed while loading: endpoint, field, value, why, how many objects.
    pub defaults: Vec<(String, String, String, String, usize)>,
    /// Warnings while loading.
    pub warnings: Vec<String>,
    /// When the report was made (RFC 3339, UTC).
    pub generated: String,
    /// bindlog's version.
    pub bindlog: String,
}

/// The findings a report shows, or why it shows none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Findings {
    /// No finding engine ran; the text says why. The report says "not computed", never "none".
    NotComputed(String),
    /// The findings computed, in the order given.
    Computed(Vec<Finding>),
}

/// One user's access to one application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRow {
    /// The username.
    pub user: String,
    /// yes, no or unknown.
    pub access: String,
    /// What grants it (`ada -> sre -> admins`), or what denies it.
    pub because: String,
    /// Why it is unknown: the bindings decided only at run time, with their reasons.
    pub reason: String,
    /// `because` and `reason` with the user left out: rows that differ only in whom they are
    /// told for share it.
    pub way: String,
}

/// Users who share their access to one application and the way to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClass {
    /// How many users.
    pub users: usize,
    /// yes, no or unknown.
    pub access: String,
    /// One of them, whose `because` is shown.
    pub representative: String,
    /// What grants or denies it, told for the representative.
    pub because: String,
    /// Why it is unknown.
    pub reason: String,
}

/// How many members of one group may open one application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupAccess {
    /// The group's name (with the start of its pk where names repeat).
    pub label: String,
    /// The group's pk.
    pub group: String,
    /// Effective members (descendant groups included).
    pub members: usize,
    /// yes counted as `shown`, no as `skipped`, unknown as `unknown`.
    pub access: Cell,
}

/// Who may open one application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppAccess {
    /// The slug.
    pub slug: String,
    /// The display name.
    pub name: String,
    /// The engine mode, any or all.
    pub mode: String,
    /// How many bindings are in force.
    pub bindings: usize,
    /// Every user: yes counted as `shown`, no as `skipped`, unknown as `unknown`.
    pub access: Cell,
    /// The users by the answer and the way to it: yes first, then unknown, then no; the
    /// largest first.
    pub classes: Vec<AccessClass>,
    /// The groups the report shows (see [`Report::left_out`]), by name.
    pub groups: Vec<GroupAccess>,
    /// One row per user, by username; empty above the per-user limit.
    pub rows: Vec<AccessRow>,
}

/// How many identities of a row see a stage shown, skipped or unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    /// Certainly runs.
    pub shown: usize,
    /// Certainly does not run.
    pub skipped: usize,
    /// Decided at run time.
    pub unknown: usize,
}

impl Cell {
    fn add(&mut self, visibility: &str) {
        self.add_n(visibility, 1);
    }

    fn add_n(&mut self, visibility: &str, n: usize) {
        self.add_tri(Tri::read(visibility), n);
    }

    /// Counts `n` identities with this answer (yes as shown, no as skipped).
    fn add_tri(&mut self, answer: Tri, n: usize) {
        match answer {
            Tri::Yes => self.shown += n,
            Tri::No => self.skipped += n,
            Tri::Unknown => self.unknown += n,
        }
    }

    /// The single value when every identity agrees (`shown`), else the counts
    /// (`3 shown, 2 unknown`); `-` for nobody.
    pub fn text(&self) -> String {
        let parts: Vec<String> = [
            (self.shown, "shown"),
            (self.skipped, "skipped"),
            (self.unknown, "unknown"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        match parts.len() {
            0 => "-".into(),
            1 => parts[0]
                .split_once(' ')
                .map(|(_, w)| w)
                .unwrap_or("")
                .into(),
            _ => parts.join(", "),
        }
    }

    /// The one value every identity of the row agrees on, if any.
    pub fn uniform(&self) -> Option<&'static str> {
        match (self.shown > 0, self.skipped > 0, self.unknown > 0) {
            (true, false, false) => Some("shown"),
            (false, true, false) => Some("skipped"),
            (false, false, true) => Some("unknown"),
            _ => None,
        }
    }
}

/// One row of a stage matrix: a set of identities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixRow {
    /// `all users`, a group's name, `no group` or `anonymous`.
    pub label: String,
    /// The group's pk for a group row.
    pub group: Option<String>,
    /// How these identities enter the flow (the anonymous visitor always without a session).
    pub entry: String,
    /// How many identities the row counts.
    pub members: usize,
    /// One cell per stage, in plan order.
    pub cells: Vec<Cell>,
}

/// One flow's stages by group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowMatrix {
    /// The slug.
    pub slug: String,
    /// The designation.
    pub designation: String,
    /// How users enter it (the flow's default way).
    pub entry: String,
    /// The flow-stage bindings in plan order: order, stage name.
    pub stages: Vec<(i64, String)>,
    /// All users, each group the report shows (by name), users in no group, the anonymous
    /// visitor.
    pub rows: Vec<MatrixRow>,
    /// The ways through the flow: users who see the same value at every stage; the largest
    /// first.
    pub classes: Vec<StageClass>,
}

/// Users who see the same value at every stage of one flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageClass {
    /// How many users.
    pub users: usize,
    /// One of them.
    pub representative: String,
    /// shown, skipped or unknown per stage, in plan order.
    pub values: Vec<String>,
}

/// How much per-user and per-group detail a report holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detail {
    /// Per-user rows and a row for every group only up to this many users; above it, the
    /// summaries by class and the largest groups.
    pub per_user_limit: usize,
    /// How many groups (the largest) the tables show above the limit.
    pub largest_groups: usize,
    /// The HTML page lists at most this many superusers, this many objects per finding
    /// (`page_objects`), and holds proofs up to this many bytes in all (`page_proof_bytes`);
    /// the CSV files hold everything.
    pub page_rows: usize,
    /// See `page_rows`.
    pub page_objects: usize,
    /// See `page_rows`.
    pub page_proof_bytes: usize,
    /// The HTML page lists at most this many classes of users per application (the largest
    /// of each answer first); `app_classes.csv` holds them all.
    pub page_classes: usize,
}

impl Detail {
    /// The HTML report's default: a page a browser opens (about 20 MB at most).
    pub const HTML: Detail = Detail {
        per_user_limit: 5_000,
        largest_groups: 30,
        page_rows: 5_000,
        page_objects: 100,
        page_proof_bytes: 4 << 20,
        page_classes: 25,
    };
    /// The CSV files' default.
    pub const CSV: Detail = Detail {
        per_user_limit: 10_000,
        largest_groups: 30,
        page_rows: 5_000,
        page_objects: 100,
        page_proof_bytes: 4 << 20,
        page_classes: 25,
    };
}

/// What a report above its per-user limit leaves out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftOut {
    /// How many users the snapshot has.
    pub users: usize,
    /// The per-user limit.
    pub limit: usize,
    /// How many groups the tables show.
    pub groups_shown: usize,
    /// How many groups there are.
    pub groups: usize,
}

/// Why the superusers [`Report::privileged_unknown`] lists are left unknown.
pub const UNKNOWN_WHY: &str = BEYOND_CUT_OFF;

/// One superuser, or one user who may be one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Privileged {
    /// The username.
    pub user: String,
    /// Whether the account may log in.
    pub active: bool,
    /// The account type (internal, external, service_account, internal_service_account).
    pub kind: String,
    /// The group path that makes it a superuser.
    pub via: String,
}

impl Privileged {
    /// A service account: no person behind it.
    pub fn service_account(&self) -> bool {
        self.kind.contains("service_account")
    }
}

/// Everything a report shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Inputs, version, defaults, time.
    pub provenance: Provenance,
    /// Counts, as label and value.
    pub summary: Vec<(String, String)>,
    /// Per application, who may open it.
    pub apps: Vec<AppAccess>,
    /// Per flow, the stage matrix by group.
    pub flows: Vec<FlowMatrix>,
    /// Superusers, directly or through group ancestry (the rules' `superuser_sure`).
    pub privileged: Vec<Privileged>,
    /// Users who are superusers only through an ancestor beyond the ancestry authentik up to
    /// 2025.10 follows, so whether they are is left unknown (`superuser_unknown`; why:
    /// [`UNKNOWN_WHY`]).
    pub privileged_unknown: Vec<Privileged>,
    /// Groups with `is_superuser`: name and effective members (descendant groups included).
    pub superuser_groups: Vec<(String, usize)>,
    /// Findings, or why there are none.
    pub findings: Findings,
    /// What was left out above the per-user limit; `None` when every row is in.
    pub left_out: Option<LeftOut>,
    /// Devices, sources, RAC endpoints, notifications and login paths, for every user.
    pub targets: Coverage,
    /// The detail it was built with.
    pub detail: Detail,
}

/// The SHA-256 of input files, hashed on a thread of its own while the snapshot loads (its
/// JSON is parsed on one core: the other is free): [`Digests::ahead`] before loading, then
/// given to [`build_from`], which hashes any file the loader read that was not hashed ahead.
#[derive(Default)]
pub struct Digests {
    ahead: Option<std::thread::JoinHandle<Vec<HashedAhead>>>,
}

/// A file hashed ahead: its name, and its digest in hex or why it could not be read.
type HashedAhead = (String, Result<String, String>);

impl Digests {
    /// Starts hashing these files (as the loader names them: their paths as given); one that
    /// cannot be read is left to be hashed after loading, which says why.
    pub fn ahead(files: Vec<String>) -> Digests {
        let handle = std::thread::spawn(move || {
            files
                .into_iter()
                .map(|f| {
                    let hex = digests(std::slice::from_ref(&f)).map(|mut d| d.remove(0).1);
                    (f, hex)
                })
                .collect()
        });
        Digests {
            ahead: Some(handle),
        }
    }

    /// The digest of each of `files`, in order: those hashed ahead taken, the others hashed now.
    fn of(self, files: &[String]) -> Result<Vec<(String, String)>, String> {
        let mut early: HashMap<String, String> = HashMap::new();
        if let Some(handle) = self.ahead {
            let done = handle
                .join()
                .map_err(|_| "hashing the input files failed".to_string())?;
            early.extend(done.into_iter().filter_map(|(f, h)| Some((f, h.ok()?))));
        }
        files
            .iter()
            .map(|f| match early.get(f) {
                Some(hex) => Ok((f.clone(), hex.clone())),
                None => digests(std::slice::from_ref(f)).map(|mut d| d.remove(0)),
            })
            .collect()
    }
}

/// Reads each file and returns its SHA-256 in hex; a file that cannot be read is an error.
fn digests(files: &[String]) -> Result<Vec<(String, String)>, String> {
    files
        .iter()
        .map(|f| {
            // Streamed: a snapshot of a million users is not held twice.
            let again = |e: std::io::Error| format!("cannot read `{f}` again: {e}");
            let mut file = std::fs::File::open(f).map_err(again)?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match std::io::Read::read(&mut file, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => hasher.update(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(again(e)),
                }
            }
            let hash = hasher.finalize();
            let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            Ok((f.clone(), hex))
        })
        .collect()
}

/// Builds the report of a loaded snapshot, with the findings given, the time stamp to print and
/// the detail to hold.
pub fn build(
    loaded: &Loaded,
    findings: Findings,
    generated: String,
    detail: &Detail,
    ahead: Digests,
) -> Result<Report, String> {
    let (early, model) = Early::beside(&loaded.snapshot, |idle| {
        all_users_telling(&loaded.snapshot, Some(idle))
    });
    build_with(
        loaded,
        &model?,
        || Ok(findings),
        generated,
        detail,
        ahead,
        early?,
    )
}

/// Builds the report from a model already evaluated for every user (the audit's, say, so that
/// the rules run once for findings and tables alike), with [`COVERAGE`] among its rules. The
/// input files' digests are those hashed `ahead`, and the others' (see [`Digests`]).
pub fn build_from(
    loaded: &Loaded,
    model: &Model,
    findings: Findings,
    generated: String,
    detail: &Detail,
    ahead: Digests,
) -> Result<Report, String> {
    build_with(
        loaded,
        model,
        || Ok(findings),
        generated,
        detail,
        ahead,
        Early::default(),
    )
}

/// [`build_from`] with the findings computed by `findings` while the tables are built: finding
/// them reads the model on one core, and the tables' work fills the other. `early` holds what
/// the caller computed from the snapshot already (while the model was evaluated).
pub fn build_with<'s>(
    loaded: &'s Loaded,
    model: &Model,
    findings: impl FnOnce() -> Result<Findings, String> + Send,
    generated: String,
    detail: &Detail,
    ahead: Digests,
    early: Early<'s>,
) -> Result<Report, String> {
    let snapshot = &loaded.snapshot;
    // The files not hashed ahead are read again and hashed while the tables are built.
    let files = loaded.report.files.clone();
    let hashing = std::thread::spawn(move || ahead.of(&files));
    let mut provenance = Provenance {
        files: Vec::new(),
        version: snapshot
            .version
            .as_ref()
            .map_or("unknown".to_string(), |v| v.to_string()),
        defaults: loaded
            .report
            .defaults
            .iter()
            .map(|((e, f, v, w), n)| (e.clone(), f.clone(), v.clone(), w.clone(), *n))
            .collect(),
        warnings: loaded
            .report
            .warnings
            .iter()
            .map(|w| w.to_string())
            .collect(),
        generated,
        bindlog: env!("CARGO_PKG_VERSION").to_string(),
    };
    let (findings, tables) = rayon::join(findings, || tables(snapshot, model, detail, early));
    let (findings, tables) = (findings?, tables?);
    let summary = summary(
        snapshot,
        &tables.apps,
        &tables.flows,
        [&tables.privileged, &tables.privileged_unknown],
        &findings,
        &tables.left_out,
    );
    provenance.files = hashing
        .join()
        .map_err(|_| "hashing the input files failed".to_string())??;
    Ok(Report {
        provenance,
        summary,
        apps: tables.apps,
        flows: tables.flows,
        privileged: tables.privileged,
        privileged_unknown: tables.privileged_unknown,
        superuser_groups: tables.superuser_groups,
        findings,
        left_out: tables.left_out,
        targets: tables.targets,
        detail: *detail,
    })
}

/// What the report reads from the snapshot alone: the words for each access's reason, and every
/// user's effective groups. [`Early::beside`] computes them while the model is evaluated; a
/// part left out is computed when the tables need it.
#[derive(Default)]
pub struct Early<'s> {
    /// The snapshot's [`Because`].
    pub because: Option<Because<'s>>,
    /// Every user's effective groups.
    pub groups: Option<UserGroups>,
}

impl<'s> Early<'s> {
    /// Runs `evaluate`, and beside it computes the snapshot's [`Early`] parts on a thread of its
    /// own. That thread starts when the evaluation tells the [`Idle`] it is given that its
    /// mostly sequential steps begin (or when it ends, if it never does): the work then takes a
    /// core those steps leave idle, rather than slowing the parallel steps before them.
    pub fn beside<T: Send>(
        snapshot: &'s Snapshot,
        evaluate: impl FnOnce(&Idle) -> T + Send,
    ) -> (Result<Early<'s>, String>, T) {
        let idle = Idle::default();
        std::thread::scope(|s| {
            let early = s.spawn(|| {
                idle.wait();
                let groups = crate::analysis::memberships::user_groups(snapshot)?;
                Ok(Early {
                    because: Some(Because::new(snapshot)?),
                    groups: Some(groups),
                })
            });
            // Told however `evaluate` ends (a panic included): the thread must not wait on.
            struct TellWhenDone<'i>(&'i Idle);
            impl Drop for TellWhenDone<'_> {
                fn drop(&mut self) {
                    self.0.now();
                }
            }
            let value = {
                let _done = TellWhenDone(&idle);
                evaluate(&idle)
            };
            let early = early.join().unwrap_or_else(|_| {
                Err("internal error: reading the snapshot's groups failed".into())
            });
            (early, value)
        })
    }
}

/// The report's tables, read from the model.
struct Tables {
    apps: Vec<AppAccess>,
    flows: Vec<FlowMatrix>,
    privileged: Vec<Privileged>,
    privileged_unknown: Vec<Privileged>,
    superuser_groups: Vec<(String, usize)>,
    left_out: Option<LeftOut>,
    targets: Coverage,
}

fn tables<'s>(
    snapshot: &'s Snapshot,
    model: &Model,
    detail: &Detail,
    Early { because, groups }: Early<'s>,
) -> Result<Tables, String> {
    let timing = crate::analysis::bulk::timing;
    // The tables are independent of each other: each is built while the others are, so that
    // one table's sequential reading overlaps another's parallel work.
    let start = std::time::Instant::now();
    let (because_of, everyone) = rayon::join(
        || because.map_or_else(|| Because::new(snapshot), Ok),
        || Everyone::new(snapshot, model, groups),
    );
    let (because_of, everyone) = (because_of?, everyone?);
    timing("report: members by class", start);
    let all = snapshot.users.len() <= detail.per_user_limit;
    let groups = everyone.groups(detail, all);
    let left_out = (!all).then_some(LeftOut {
        users: snapshot.users.len(),
        limit: detail.per_user_limit,
        groups_shown: groups.len(),
        groups: snapshot.groups.len(),
    });
    // The flow matrices begin with a long sequential read: it starts first, and the
    // applications, many small parallel tasks, fill the cores around it.
    let ((flows, apps), (privileged, privileged_unknown)) = rayon::join(
        || {
            rayon::join(
                || {
                    let start = std::time::Instant::now();
                    let flows = flow_matrices(&everyone, &groups);
                    timing("report: flow matrices", start);
                    flows
                },
                || {
                    let start = std::time::Instant::now();
                    let apps = app_access(&everyone, &because_of, detail, &groups);
                    timing("report: application access", start);
                    apps
                },
            )
        },
        || {
            let start = std::time::Instant::now();
            let sure: BTreeSet<String> = model
                .view::<SuperuserSure>()
                .into_iter()
                .map(|r| r.user)
                .collect();
            let unknown: BTreeSet<String> = model
                .view::<SuperuserUnknown>()
                .into_iter()
                .map(|r| r.user)
                .collect();
            let privileged = superusers_of(snapshot, &sure, &because_of);
            let privileged_unknown = superusers_of(snapshot, &unknown, &because_of);
            timing("report: privileged", start);
            (privileged, privileged_unknown)
        },
    );
    let apps = apps?;
    let mut superuser_groups: Vec<(String, usize)> = snapshot
        .groups
        .iter()
        .filter(|g| g.is_superuser)
        .map(|g| (g.name.to_string(), everyone.size(&g.pk)))
        .collect();
    superuser_groups.sort();
    let start = std::time::Instant::now();
    let targets = Coverage::read(model, snapshot)?;
    timing("report: other binding targets", start);
    Ok(Tables {
        targets,
        apps,
        flows,
        privileged,
        privileged_unknown,
        superuser_groups,
        left_out,
    })
}

fn summary(
    snapshot: &Snapshot,
    apps: &[AppAccess],
    flows: &[FlowMatrix],
    [privileged, privileged_unknown]: [&[Privileged]; 2],
    findings: &Findings,
    left_out: &Option<LeftOut>,
) -> Vec<(String, String)> {
    let active = snapshot.users.iter().filter(|u| u.is_active).count();
    let service = snapshot
        .users
        .iter()
        .filter(|u| u.kind.contains("service_account"))
        .count();
    let mut access = Cell::default();
    for a in apps {
        access.shown += a.access.shown;
        access.skipped += a.access.skipped;
        access.unknown += a.access.unknown;
    }
    let mut stages = Cell::default();
    for f in flows {
        if let Some(all) = f.rows.first() {
            for c in &all.cells {
                stages.shown += c.shown;
                stages.skipped += c.skipped;
                stages.unknown += c.unknown;
            }
        }
    }
    let findings = match findings {
        Findings::NotComputed(_) => "not computed".to_string(),
        Findings::Computed(f) => f.len().to_string(),
    };
    let detail = match left_out {
        None => "every user and every group".to_string(),
        Some(l) => format!(
            "left out above {} users: per-user rows, and all but the {} largest of {} groups",
            l.limit, l.groups_shown, l.groups
        ),
    };
    vec![
        ("users".into(), snapshot.users.len().to_string()),
        ("active users".into(), active.to_string()),
        (
            "inactive users".into(),
            (snapshot.users.len() - active).to_string(),
        ),
        ("service accounts".into(), service.to_string()),
        ("groups".into(), snapshot.groups.len().to_string()),
        ("flows".into(), snapshot.flows.len().to_string()),
        (
            "flow-stage bindings".into(),
            snapshot.flow_bindings.len().to_string(),
        ),
        (
            "applications".into(),
            snapshot.applications.len().to_string(),
        ),
        ("superusers".into(), privileged.len().to_string()),
        (
            "superusers left unknown".into(),
            privileged_unknown.len().to_string(),
        ),
        (
            "user-application pairs: yes".into(),
            access.shown.to_string(),
        ),
        (
            "user-application pairs: no".into(),
            access.skipped.to_string(),
        ),
        (
            "user-application pairs: unknown".into(),
            access.unknown.to_string(),
        ),
        ("user-stage pairs: shown".into(), stages.shown.to_string()),
        (
            "user-stage pairs: skipped".into(),
            stages.skipped.to_string(),
        ),
        (
            "user-stage pairs: unknown".into(),
            stages.unknown.to_string(),
        ),
        ("findings".into(), findings),
        ("detail".into(), detail),
    ]
}

/// Every user by identity class, with the groups' members counted per class: what the
/// application and flow tables are computed from, so that their cost grows with the classes and
/// the groups, not with users times objects.
struct Everyone<'a> {
    snapshot: &'a Snapshot,
    model: &'a Model,
    /// Each identity class's members (indices into `snapshot.users`).
    classes: std::borrow::Cow<'a, [Vec<u32>]>,
    /// Each identity class's size: what the tables walk once per application or flow.
    sizes: Vec<u32>,
    /// Each user's identity class.
    class_of_user: Vec<u32>,
    /// Each group's members per identity class, and per class the users in no group.
    by_class: ByClass,
}

impl<'a> Everyone<'a> {
    /// `groups` is every user's effective groups where the caller has them already.
    fn new(
        snapshot: &'a Snapshot,
        model: &'a Model,
        groups: Option<UserGroups>,
    ) -> Result<Everyone<'a>, String> {
        use crate::analysis::memberships;
        let classes = model.identity_classes(snapshot);
        let class_of_user = model.user_classes(snapshot);
        let groups = match groups {
            Some(g) => g,
            None => memberships::user_groups(snapshot)?,
        };
        let by_class = memberships::by_class(snapshot, &groups, &class_of_user, classes.len())?;
        let sizes = classes.iter().map(|m| m.len() as u32).collect();
        Ok(Everyone {
            snapshot,
            model,
            classes,
            sizes,
            class_of_user,
            by_class,
        })
    }

    /// A group's effective members (descendant groups included).
    fn size(&self, group: &str) -> usize {
        self.by_class
            .members
            .get(group)
            .map_or(0, |l| l.iter().map(|(_, n)| *n as usize).sum())
    }

    /// The groups the tables show, by name: every group, or above the per-user limit the
    /// largest ones. Each with its label (names may repeat before 2025.12: the pk's first 8
    /// characters then tell them apart).
    fn groups(&self, detail: &Detail, all: bool) -> Vec<(String, &'a crate::snapshot::Group)> {
        let mut groups: Vec<&crate::snapshot::Group> = self.snapshot.groups.iter().collect();
        if !all {
            groups.sort_by(|a, b| {
                self.size(&b.pk)
                    .cmp(&self.size(&a.pk))
                    .then_with(|| a.name.cmp(&b.name))
                    .then_with(|| a.pk.cmp(&b.pk))
            });
            groups.truncate(detail.largest_groups);
        }
        groups.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.pk.cmp(&b.pk)));
        let mut named: HashMap<&str, usize> = HashMap::new();
        for g in &self.snapshot.groups {
            *named.entry(&g.name).or_default() += 1;
        }
        let repeated = |name: &str| named[name] > 1;
        groups
            .into_iter()
            .map(|g| {
                let label = if repeated(&g.name) {
                    format!("{} ({})", g.name, g.pk.chars().take(8).collect::<String>())
                } else {
                    g.name.to_string()
                };
                (label, g)
            })
            .collect()
    }

    /// The user whose rows answer for identity class `k`.
    fn user(&self, k: u32) -> &'a crate::snapshot::User {
        &self.snapshot.users[self.model.class_user(k)]
    }

    /// Counts a per-class value (by identity class) over a group, over everyone (`None`) or
    /// over the users in no group (`Some("")`).
    fn count<T: Copy>(
        &self,
        who: Option<&str>,
        value: &dyn Fn(u32) -> T,
        add: &mut dyn FnMut(T, usize),
    ) {
        match who {
            None => {
                for (k, m) in self.sizes.iter().enumerate() {
                    if *m > 0 {
                        add(value(k as u32), *m as usize);
                    }
                }
            }
            Some("") => {
                for (k, n) in self.by_class.ungrouped.iter().enumerate() {
                    if *n > 0 {
                        add(value(k as u32), *n as usize);
                    }
                }
            }
            Some(g) => {
                for (k, n) in self.by_class.members.get(g).into_iter().flatten() {
                    add(value(*k), *n as usize);
                }
            }
        }
    }

    /// The members of the groups the tables show, turned around for [`Everyone::tally`].
    fn shown(&self, groups: &[(String, &crate::snapshot::Group)]) -> Shown {
        let n = self.classes.len();
        let lists: Vec<&[(u32, u32)]> = groups
            .iter()
            .map(|(_, g)| {
                self.by_class
                    .members
                    .get(&*g.pk)
                    .map_or(&[][..], Vec::as_slice)
            })
            .collect();
        // Laid out class by class, each class's groups in a run of one vector.
        let mut start = vec![0usize; n + 1];
        for list in &lists {
            for (k, _) in *list {
                start[*k as usize + 1] += 1;
            }
        }
        for k in 0..n {
            start[k + 1] += start[k];
        }
        let mut next = start.clone();
        let mut groups_of = vec![(0u32, 0u32); start[n]];
        let mut sizes = Vec::with_capacity(lists.len());
        for (i, list) in lists.iter().enumerate() {
            let mut size = 0;
            for (k, m) in *list {
                let at = &mut next[*k as usize];
                groups_of[*at] = (i as u32, *m);
                *at += 1;
                size += *m as usize;
            }
            sizes.push(size);
        }
        Shown {
            start,
            groups_of,
            sizes,
        }
    }

    /// Per group shown, its members counted by a per-class answer (`answer[k]` for identity
    /// class `k`). The answer most classes give is counted as the rest of each group: only the
    /// classes with another answer are walked, which at a million users is most often a few.
    /// (Which answer that is changes the work, not the counts.)
    fn tally(&self, shown: &Shown, answer: &[Tri]) -> Vec<Cell> {
        let mut classes = [0usize; 3];
        for t in answer {
            classes[*t as usize] += 1;
        }
        let most = (0..3).max_by_key(|t| (classes[*t], 3 - *t)).unwrap_or(0);
        let mut counts = vec![[0usize; 3]; shown.sizes.len()];
        for (k, t) in answer.iter().enumerate() {
            if *t as usize != most {
                for (g, n) in shown.of(k) {
                    counts[*g as usize][*t as usize] += *n as usize;
                }
            }
        }
        counts
            .into_iter()
            .zip(&shown.sizes)
            .map(|(mut c, size)| {
                c[most] = size - c.iter().sum::<usize>();
                Cell {
                    shown: c[Tri::Yes as usize],
                    skipped: c[Tri::No as usize],
                    unknown: c[Tri::Unknown as usize],
                }
            })
            .collect()
    }

    /// Every user counted by a per-class answer (`answer[k]` for identity class `k`).
    fn tally_all(&self, answer: &[Tri]) -> Cell {
        let mut c = [0usize; 3];
        for (t, m) in answer.iter().zip(&self.sizes) {
            c[*t as usize] += *m as usize;
        }
        Cell {
            shown: c[Tri::Yes as usize],
            skipped: c[Tri::No as usize],
            unknown: c[Tri::Unknown as usize],
        }
    }
}

/// The groups the tables show, by identity class ([`Everyone::shown`]).
struct Shown {
    /// Where each identity class's run in `groups_of` starts (and, one further, ends).
    start: Vec<usize>,
    /// Class by class: (group's place among those shown, how many of the class's users are its
    /// effective members).
    groups_of: Vec<(u32, u32)>,
    /// Per group shown: its effective members.
    sizes: Vec<usize>,
}

impl Shown {
    /// The groups shown that identity class `k`'s users are in, with how many of them.
    fn of(&self, k: usize) -> &[(u32, u32)] {
        &self.groups_of[self.start[k]..self.start[k + 1]]
    }
}

/// The identity classes whose answers stand for the others in one scope (a flow's or an
/// application's): each distinct answering class once, and each identity class's index among
/// them, so that a table reads each answer once and then indexes a vector per class.
struct Answering {
    /// The answering classes, in the order of the first identity class each answers for.
    reps: Vec<u32>,
    /// Per identity class, its answering class's index in `reps`.
    of: Vec<u32>,
}

impl Answering {
    /// From [`Model::answering_in`]'s list: per identity class, the class that answers for it.
    fn new(answering: Vec<u32>) -> Answering {
        let mut index = vec![u32::MAX; answering.len()];
        let mut reps = Vec::new();
        let of = answering
            .into_iter()
            .map(|a| {
                let slot = &mut index[a as usize];
                if *slot == u32::MAX {
                    *slot = reps.len() as u32;
                    reps.push(a);
                }
                *slot
            })
            .collect();
        Answering { reps, of }
    }
}

/// One application's answer for the users one identity class answers for.
#[derive(Clone)]
struct Answer {
    access: &'static str,
    /// When unknown: the bindings left to run time; `None` if the rules name none.
    open: Option<Open>,
}

/// Bindings left to run time, each as (pk, why).
type Open = BTreeSet<(String, String)>;

fn app_access<'s>(
    everyone: &Everyone,
    because_of: &Because<'s>,
    detail: &Detail,
    groups: &[(String, &crate::snapshot::Group)],
) -> Result<Vec<AppAccess>, String> {
    let (snapshot, model) = (everyone.snapshot, everyone.model);
    let start = std::time::Instant::now();
    // Read as borrowed text: at a million users this is the largest table the report reads.
    // A row repeated across scopes keeps its greatest value, as a sorted read would.
    use crate::analysis::bulk::DECIDE;
    let mut decide: rustc_hash::FxHashMap<(&str, &str), &str> = Default::default();
    model.each_symbol_row(
        <Decide as crate::analysis::views::View>::RELATIONS[0],
        |r| {
            let [t, i, c, v] = DECIDE.map(|k| r[k]);
            if c == "app" {
                let old = decide.entry((t, i)).or_insert(v);
                *old = (*old).max(v);
            }
        },
    );
    let live: BTreeSet<String> = model
        .view::<Live>()
        .into_iter()
        .map(|r| r.binding)
        .collect();
    // The bindings in force, by target: read once, not once per application.
    let mut in_force: rustc_hash::FxHashMap<&str, Vec<&PolicyBinding>> = Default::default();
    for b in &snapshot.policy_bindings {
        if live.contains(&*b.pk) {
            in_force.entry(&b.target).or_default().push(b);
        }
    }
    let mut open: BTreeMap<(String, String), BTreeSet<(String, String)>> = BTreeMap::new();
    for r in model.view::<OpenBinding>() {
        if r.context == "app" {
            open.entry((r.target, r.identity))
                .or_default()
                .insert((r.binding, r.why));
        }
    }
    crate::analysis::bulk::timing("report: access tables read", start);
    let per_user = snapshot.users.len() <= detail.per_user_limit;
    // The per-user rows' order, by username (only when they are written).
    let mut users: Vec<usize> = Vec::new();
    if per_user {
        let u = &snapshot.users;
        users = (0..u.len()).collect();
        users.sort_by(|a, b| {
            u[*a]
                .username
                .cmp(&u[*b].username)
                .then(u[*a].pk.cmp(&u[*b].pk))
        });
    }
    let shown = everyone.shown(groups);
    // Each identity class's representative's group reach, read by every application.
    use rayon::prelude::*;
    let reaches: Vec<_> = (0..everyone.classes.len() as u32)
        .into_par_iter()
        .map(|k| because_of.reach_of(everyone.user(k)))
        .collect();
    let mut apps: Vec<&crate::snapshot::Application> = snapshot.applications.iter().collect();
    apps.sort_by(|a, b| a.slug.cmp(&b.slug).then_with(|| a.pk.cmp(&b.pk)));
    // Applications are told apart: one per worker at a time.
    apps.par_iter()
        .map(|app| {
            let mut bindings: Vec<&PolicyBinding> =
                in_force.get(&*app.pk).cloned().unwrap_or_default();
            bindings.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.pk.cmp(&b.pk)));
            let all_mode = app.policy_engine_mode.as_str() == "all";
            // What the answer `ans` of the user at `u` names: the bindings the rules'
            // `named_by` names (told for a user with `Because::tell_in`).
            let deciding = model.app_deciders(&app.pk)?;
            let named = |ans: &Answer, u: usize| {
                let decided = deciding.of(snapshot, u);
                let denied_in_any = ans.access == "no" && !all_mode;
                if decided.is_empty() && !bindings.is_empty() && !denied_in_any {
                    return Named::NOTHING;
                }
                Named::of(&bindings, all_mode, decided, ans.access)
            };
            // Why the answer is unknown, told for a user whose group reach is `reach`.
            let reason = |ans: &Answer, reach: Option<&Reach<'s>>, label: &str| {
                if ans.access != "unknown" {
                    return String::new();
                }
                let Some(set) = &ans.open else {
                    return "decided at run time".into();
                };
                set.iter()
                    .map(|(b, why)| {
                        let who = bindings
                            .iter()
                            .find(|x| &*x.pk == b)
                            .map_or(b.clone(), |x| {
                                because_of.binding_in(x, reach, label, Member::Open)
                            });
                        format!("{who}: {why}")
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            // What the texts told with the user left out depend on: the answer, the bindings
            // named (see `Named`; the same for every class of one way), and the user's group
            // chains to them (see `Because::binding_key`). Equal keys, equal texts: each is told
            // once.
            let key_of =
                |kind: u32, named: &Named, open: &[&PolicyBinding], k: u32, key: &mut Vec<u32>| {
                    let reach = reaches[k as usize].as_ref();
                    key.clear();
                    key.push(kind);
                    named.key(key);
                    for b in named.bindings().chain(open.iter().copied()) {
                        because_of.binding_key(b, reach, key);
                    }
                };
            // One answer per class that answers for the application.
            let answering = Answering::new(model.answering_in(snapshot, &app.pk));
            let answers: Vec<Answer> = answering
                .reps
                .iter()
                .map(|a| {
                    let pk = model.class_pk(snapshot, *a).to_string();
                    let access = match decide.get(&(&*app.pk, pk.as_str())).copied() {
                        Some("pass") => "yes",
                        Some("fail") => "no",
                        _ => "unknown",
                    };
                    let key = (app.pk.to_string(), pk);
                    let open = if access == "unknown" {
                        open.get(&key).cloned()
                    } else {
                        None
                    };
                    Answer { access, open }
                })
                .collect();
            // The classes: users that share the answer and the way to it, with one of them. The
            // identity classes one class answers for may differ in the bindings that decide (a
            // group binding lets one in, another binding the other): each way is a class of its
            // own, told for its first identity class's representative (the answering class's own
            // where it is one of them).
            let mut ways: rustc_hash::FxHashMap<(u32, u32), (usize, u32)> =
                rustc_hash::FxHashMap::default();
            for (k, m) in everyone.sizes.iter().enumerate() {
                if *m == 0 {
                    continue;
                }
                let a = answering.of[k];
                // With no binding in force, no binding decides: one way.
                let way = if bindings.is_empty() {
                    0
                } else {
                    deciding.way_of_class(snapshot, k as u32)
                };
                let entry = ways.entry((a, way)).or_insert((0, k as u32));
                entry.0 += *m as usize;
                if k as u32 == answering.reps[a as usize] {
                    entry.1 = k as u32;
                }
            }
            // In the order of the answering class, then of the first class of each way.
            let mut ways: Vec<((u32, u32), (usize, u32))> = ways.into_iter().collect();
            ways.sort_unstable_by_key(|((a, _), (_, k))| (answering.reps[*a as usize], *k));
            // Answers told alike: the same access and the same bindings left to run time.
            let mut kinds: HashMap<(&str, Option<&Open>), u32> = HashMap::new();
            let kind: Vec<u32> = answers
                .iter()
                .map(|ans| {
                    let next = kinds.len() as u32;
                    *kinds.entry((ans.access, ans.open.as_ref())).or_insert(next)
                })
                .collect();
            // Per answer, the bindings in force among those it leaves to run time.
            let open_of: Vec<Vec<&PolicyBinding>> = answers
                .iter()
                .map(|ans| match (ans.access, &ans.open) {
                    ("unknown", Some(open)) => open
                        .iter()
                        .filter_map(|(b, _)| bindings.iter().find(|x| &*x.pk == b).copied())
                        .collect(),
                    _ => Vec::new(),
                })
                .collect();
            // What each (access, way) names: the same for every class of the way.
            let mut named_of: rustc_hash::FxHashMap<(&str, u32), Named> = Default::default();
            // Each key's class (an index into `found`), and each class by its way told with
            // the user left out: classes that differ only in whom they stand for are one row.
            let mut told: rustc_hash::FxHashMap<Vec<u32>, usize> = Default::default();
            let mut by_way: rustc_hash::FxHashMap<(&str, String, String), usize> =
                Default::default();
            let mut found: Vec<AccessClass> = Vec::new();
            let mut key = Vec::new();
            for ((a, way), (n, k)) in ways {
                let ans = &answers[a as usize];
                let u = model.class_user(k);
                let named = named_of
                    .entry((ans.access, way))
                    .or_insert_with(|| named(ans, u));
                key_of(kind[a as usize], named, &open_of[a as usize], k, &mut key);
                let i = match told.get(&key) {
                    Some(i) => *i,
                    None => {
                        let user = &snapshot.users[u];
                        let reach = reaches[k as usize].as_ref();
                        let way = (
                            ans.access,
                            because_of.tell_in(named, reach, "\u{0}"),
                            reason(ans, reach, "\u{0}"),
                        );
                        // The first user of a way, in the order above, tells it.
                        let i = *by_way.entry(way).or_insert_with(|| {
                            found.push(AccessClass {
                                users: 0,
                                access: ans.access.to_string(),
                                representative: user.username.to_string(),
                                because: because_of.tell_in(named, reach, &user.username),
                                reason: reason(ans, reach, &user.username),
                            });
                            found.len() - 1
                        });
                        told.insert(key.clone(), i);
                        i
                    }
                };
                found[i].users += n;
            }
            // Rows of different ways have different representatives (each is the user of the
            // first class of its way), so the order below is total.
            let mut classes: Vec<AccessClass> = found;
            classes.sort_by(|a, b| {
                let order = |x: &str| ["yes", "unknown", "no"].iter().position(|v| *v == x);
                order(&a.access)
                    .cmp(&order(&b.access))
                    .then(b.users.cmp(&a.users))
                    .then_with(|| a.representative.cmp(&b.representative))
            });
            // Read once per class: the tables below count over every class many times.
            let per_answer: Vec<Tri> = answers.iter().map(|a| Tri::read(a.access)).collect();
            let per_class: Vec<Tri> = answering
                .of
                .iter()
                .map(|a| per_answer[*a as usize])
                .collect();
            let counts = everyone.tally_all(&per_class);
            let mut by_group = Vec::new();
            for ((label, g), cell) in groups.iter().zip(everyone.tally(&shown, &per_class)) {
                by_group.push(GroupAccess {
                    label: label.clone(),
                    group: g.pk.to_string(),
                    members: cell.shown + cell.skipped + cell.unknown,
                    access: cell,
                });
            }
            let mut rows = Vec::new();
            for u in &users {
                let user = &snapshot.users[*u];
                let k = everyone.class_of_user[*u];
                let ans = &answers[answering.of[k as usize] as usize];
                // The user's own group reach and named bindings, read once for both texts.
                let reach = because_of.reach_of(user);
                let named = named(ans, *u);
                rows.push(AccessRow {
                    user: user.username.to_string(),
                    access: ans.access.to_string(),
                    because: because_of.tell_in(&named, reach.as_ref(), &user.username),
                    reason: reason(ans, reach.as_ref(), &user.username),
                    way: format!(
                        "{}\u{1}{}",
                        because_of.tell_in(&named, reach.as_ref(), "\u{0}"),
                        reason(ans, reach.as_ref(), "\u{0}")
                    ),
                });
            }
            Ok(AppAccess {
                slug: app.slug.to_string(),
                name: app.name.to_string(),
                mode: app.policy_engine_mode.as_str().to_string(),
                bindings: bindings.len(),
                access: counts,
                classes,
                groups: by_group,
                rows,
            })
        })
        .collect()
}

fn flow_matrices(
    everyone: &Everyone,
    groups: &[(String, &crate::snapshot::Group)],
) -> Vec<FlowMatrix> {
    let (snapshot, model) = (everyone.snapshot, everyone.model);
    let entries: BTreeMap<String, String> = model
        .view::<DefaultEntry>()
        .into_iter()
        .map(|r| (r.flow, r.entry))
        .collect();
    // (fsb, entry, subject) -> visibility, read by the symbols' ids: at a million users the
    // largest relation the flows read, hashed as numbers, not as text. A row repeated across
    // scopes keeps its greatest value, as a sorted read would.
    use crate::analysis::bulk::VISIBLE;
    let mut visible: rustc_hash::FxHashMap<[u32; 3], u32> = Default::default();
    model.each_id_row(
        <Visible as crate::analysis::views::View>::RELATIONS[0],
        |r| {
            let [x, e, s, v] = VISIBLE.map(|k| r[k]);
            let old = visible.entry([x, e, s]).or_insert(v);
            if v != *old && model.symbol_text(v) > model.symbol_text(*old) {
                *old = v;
            }
        },
    );
    let stage_names: BTreeMap<&str, &str> =
        snapshot.stages.iter().map(|s| (&*s.pk, &*s.name)).collect();
    let mut flows: Vec<&crate::snapshot::Flow> = snapshot.flows.iter().collect();
    flows.sort_by(|a, b| a.slug.cmp(&b.slug).then_with(|| a.pk.cmp(&b.pk)));
    // Flows are told apart in parallel.
    use rayon::prelude::*;
    flows
        .par_iter()
        .map(|flow| {
            // Objects of one flow share its classes: computed once per scope.
            let mut answering_in: HashMap<Option<usize>, Answering> = HashMap::new();
            let entry = entries
                .get(&*flow.pk)
                .cloned()
                .unwrap_or_else(|| "authenticated".into());
            let mut fsbs: Vec<&crate::snapshot::FlowStageBinding> = snapshot
                .flow_bindings
                .iter()
                .filter(|x| x.target == flow.pk)
                .collect();
            fsbs.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.pk.cmp(&b.pk)));
            let look = |fsb: &str, e: &str, pk: &str| -> &'static str {
                let key = [fsb, e, pk].map(|t| model.symbol_id(t));
                let found = match key {
                    [Some(x), Some(e), Some(s)] => visible.get(&[x, e, s]).copied(),
                    _ => None,
                };
                match found.map(|v| model.symbol_text(v)) {
                    Some("shown") => "shown",
                    Some("skipped") => "skipped",
                    _ => "unknown",
                }
            };
            // Per identity class, its value at each stage (shown, skipped, unknown as 0, 1, 2),
            // read once per answering class: class k's values are `codes[k * width..][..width]`.
            const VALUES: [&str; 3] = ["shown", "skipped", "unknown"];
            let code = |v: &str| VALUES.iter().position(|x| *x == v).unwrap_or(2) as u8;
            let n = everyone.classes.len();
            let width = fsbs.len();
            let scopes: Vec<Option<usize>> = fsbs.iter().map(|x| model.scope_of(&x.pk)).collect();
            for (x, scope) in fsbs.iter().zip(&scopes) {
                answering_in
                    .entry(*scope)
                    .or_insert_with(|| Answering::new(model.answering_in(snapshot, &x.pk)));
            }
            // Identity classes one class answers for at every stage see the same stages: where
            // the stages are in one scope (a flow's always are, when evaluated per scope), their
            // values are read once per answering class; otherwise once per identity class.
            let one_scope = scopes.first().filter(|s| scopes.iter().all(|t| t == *s));
            let identity: Vec<u32>;
            let key_of: &[u32] = match one_scope {
                Some(s) => &answering_in[s].of,
                None => {
                    identity = (0..n as u32).collect();
                    &identity
                }
            };
            let keys = key_of.iter().max().map_or(0, |m| *m as usize + 1);
            // Each key's first identity class, whose values are the key's.
            let mut first = vec![u32::MAX; keys];
            for (k, key) in key_of.iter().enumerate() {
                if first[*key as usize] == u32::MAX {
                    first[*key as usize] = k as u32;
                }
            }
            let mut codes = vec![0u8; keys * width];
            for (j, (x, scope)) in fsbs.iter().zip(&scopes).enumerate() {
                let answering = &answering_in[scope];
                let per_answer: Vec<u8> = answering
                    .reps
                    .iter()
                    .map(|a| code(look(&x.pk, &entry, &model.class_pk(snapshot, *a))))
                    .collect();
                for (key, k) in first.iter().enumerate() {
                    codes[key * width + j] = per_answer[answering.of[*k as usize] as usize];
                }
            }
            // The ways through the flow: classes that see the same stages. A row adds up its users
            // per way, then each way's values once.
            let mut way_ids: rustc_hash::FxHashMap<&[u8], u32> = rustc_hash::FxHashMap::default();
            let mut way_values: Vec<&[u8]> = Vec::new();
            let way_of_key: Vec<u32> = (0..keys)
                .map(|key| {
                    let v = &codes[key * width..(key + 1) * width];
                    *way_ids.entry(v).or_insert_with(|| {
                        way_values.push(v);
                        way_values.len() as u32 - 1
                    })
                })
                .collect();
            let way_of: Vec<u32> = key_of.iter().map(|key| way_of_key[*key as usize]).collect();
            let row = |label: String, group: Option<String>, who: Option<&str>| {
                let mut cells = vec![Cell::default(); width];
                let mut members = 0;
                let mut per_way = vec![0usize; way_values.len()];
                let value = |k: u32| way_of[k as usize];
                everyone.count(who, &value, &mut |w, m| {
                    members += m;
                    per_way[w as usize] += m;
                });
                for (w, m) in per_way.into_iter().enumerate() {
                    if m > 0 {
                        for (c, v) in cells.iter_mut().zip(way_values[w]) {
                            c.add_n(VALUES[*v as usize], m);
                        }
                    }
                }
                MatrixRow {
                    label,
                    group,
                    entry: entry.clone(),
                    members,
                    cells,
                }
            };
            let mut rows = vec![row("all users".into(), None, None)];
            for (label, g) in groups {
                rows.push(row(label.clone(), Some(g.pk.to_string()), Some(&g.pk)));
            }
            rows.push(row("no group".into(), None, Some("")));
            rows.push(MatrixRow {
                label: "anonymous".into(),
                group: None,
                entry: "anonymous".into(),
                members: 1,
                cells: fsbs
                    .iter()
                    .map(|x| {
                        let mut c = Cell::default();
                        c.add(look(&x.pk, "anonymous", ANON));
                        c
                    })
                    .collect(),
            });
            // Each way with its users and its largest class's user.
            let mut ways: Vec<(usize, u32)> = vec![(0, u32::MAX); way_values.len()];
            for (k, m) in everyone.classes.iter().enumerate() {
                if m.is_empty() {
                    continue;
                }
                let way = &mut ways[way_of[k] as usize];
                way.0 += m.len();
                if way.1 == u32::MAX || everyone.classes[way.1 as usize].len() < m.len() {
                    way.1 = k as u32;
                }
            }
            let mut classes: Vec<StageClass> = ways
                .into_iter()
                .zip(&way_values)
                .filter(|((users, _), _)| *users > 0)
                .map(|((users, k), v)| StageClass {
                    users,
                    representative: everyone.user(k).username.to_string(),
                    values: v.iter().map(|c| VALUES[*c as usize].to_string()).collect(),
                })
                .collect();
            classes.sort_by(|a, b| {
                b.users
                    .cmp(&a.users)
                    .then_with(|| a.representative.cmp(&b.representative))
            });
            FlowMatrix {
                slug: flow.slug.to_string(),
                designation: flow.designation.as_str().to_string(),
                entry,
                stages: fsbs
                    .iter()
                    .map(|x| {
                        let name = stage_names.get(&*x.stage).copied().unwrap_or(&x.stage);
                        (i64::from(x.order), name.to_string())
                    })
                    .collect(),
                classes,
                rows,
            }
        })
        .collect()
}

/// The users whose pks are in `superusers`, by username, each with its shortest group path to a
/// superuser group.
fn superusers_of(
    snapshot: &Snapshot,
    superusers: &BTreeSet<String>,
    because: &Because,
) -> Vec<Privileged> {
    let mut groups: Vec<&str> = snapshot
        .groups
        .iter()
        .filter(|g| g.is_superuser)
        .map(|g| &*g.pk)
        .collect();
    groups.sort_unstable();
    let mut out: Vec<Privileged> = snapshot
        .users
        .iter()
        .filter(|u| superusers.contains(&u.pk.to_string()))
        .map(|u| {
            // The shortest chain told to any superuser group; ties by group pk.
            let via = groups
                .iter()
                .filter_map(|g| because.chain_len(u, g).map(|n| (n, *g)))
                .min()
                .and_then(|(_, g)| because.chain_text(u, &u.username, g))
                .unwrap_or_else(|| "superuser (no group path found)".into());
            Privileged {
                user: u.username.to_string(),
                active: u.is_active,
                kind: u.kind.to_string(),
                via,
            }
        })
        .collect();
    out.sort_by(|a, b| a.user.cmp(&b.user));
    out
}

/// HTML-escapes text for element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_820_400), "2026-11-27T23:00:00Z");
    }

    #[test]
    fn cell_text_is_the_value_when_uniform() {
        let c = Cell {
            shown: 3,
            ..Cell::default()
        };
        assert_eq!(c.text(), "shown");
        let c = Cell {
            shown: 3,
            unknown: 2,
            ..Cell::default()
        };
        assert_eq!(c.text(), "3 shown, 2 unknown");
        assert_eq!(Cell::default().text(), "-");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
