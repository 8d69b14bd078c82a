//! Typed views of what the rules answer: the three-valued words, and the values the rules put
//! where a user's pk goes. Declared once, so that the code reading the rules' rows names them
//! instead of spelling them (see `rules/authentik/identity.dl` and `rules/authentik/flows.dl`);
//! and the rows of the relations Rust reads, one struct per relation with a field per column
//! ([`View`]), so that a row is read by column name, never by position.

use super::Model;
use crate::datalog::{Evaluation, Rules};

/// The anonymous visitor in a user column of the rules' rows (`subject("anon")`): a visitor who
/// never identifies.
pub const ANON: &str = "anon";

/// A question about nobody the snapshot holds (a username no user has): the rules get this as
/// the only subject, so that no user's rows are evaluated.
pub const NOBODY: &str = "<none>";

/// A flow entered without a session (`default_entry`, `applicable`, `visible`).
pub const ANONYMOUS_ENTRY: &str = "anonymous";

/// A flow entered by a logged-in user.
pub const AUTHENTICATED_ENTRY: &str = "authenticated";

/// Why a user who is a superuser only through an ancestor 20 or more levels up is left unknown
/// (`superuser_unknown` in `rules/authentik/membership.dl`), as `analyze` and the report say it.
pub const BEYOND_CUT_OFF: &str =
    "only through an ancestor 20 or more levels up, which authentik up to 2025.10 does not follow";

/// A three-valued answer. The rules spell it `pass`/`fail`/`unknown` for a decision and
/// `shown`/`skipped`/`unknown` for a stage; answers print it `yes`/`no`/`unknown` for a flow's
/// applicability and an application's access. Stored as its code ([`Tri::code`]) where a
/// million users' answers are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Tri {
    /// Passes, shown, yes.
    Yes = 0,
    /// Fails, skipped, no.
    No = 1,
    /// Left to run time.
    Unknown = 2,
}

impl Tri {
    /// Reads any of the rules' or the answers' spellings; anything else is unknown.
    pub fn read(word: &str) -> Tri {
        match word {
            "pass" | "shown" | "yes" => Tri::Yes,
            "fail" | "skipped" | "no" => Tri::No,
            _ => Tri::Unknown,
        }
    }

    /// The answer stored as `code` ([`Tri::code`]); an unknown code is unknown.
    pub fn from_code(code: u8) -> Tri {
        match code {
            0 => Tri::Yes,
            1 => Tri::No,
            _ => Tri::Unknown,
        }
    }

    /// The compact form a bulk run stores.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// `yes`, `no` or `unknown`: a flow's applicability, an application's access.
    pub fn yes_no(self) -> &'static str {
        ["yes", "no", "unknown"][self as usize]
    }

    /// `shown`, `skipped` or `unknown`: a stage's visibility.
    pub fn visibility(self) -> &'static str {
        ["shown", "skipped", "unknown"][self as usize]
    }

    /// `pass`, `fail` or `unknown`: a decision as the rules spell it.
    pub fn decision(self) -> &'static str {
        ["pass", "fail", "unknown"][self as usize]
    }

    /// How far the answer lets a user through: no, then unknown, then yes (of several answers
    /// for one user, the most open one is its answer where any of them suffices).
    pub const fn openness(self) -> u8 {
        match self {
            Tri::No => 0,
            Tri::Unknown => 1,
            Tri::Yes => 2,
        }
    }

    /// The answer of openness `o` ([`Tri::openness`]).
    pub const fn from_openness(o: u8) -> Tri {
        match o {
            0 => Tri::No,
            1 => Tri::Unknown,
            _ => Tri::Yes,
        }
    }
}

/// A typed row of one relation (or of several relations of one shape): a field per column, in
/// the order of the relation's `.decl`. Declared with [`views!`]; `tests/it/docs.rs` holds every
/// view to the `.decl` of its relations in `rules/`.
pub trait View: Sized {
    /// The relations the view reads (several only where they share a shape).
    const RELATIONS: &'static [&'static str];
    /// The columns as the `.decl` names them (`_`: named differently in each relation).
    const COLUMNS: &'static [&'static str];
    /// The struct's fields, one per column, in the same order.
    const FIELDS: &'static [&'static str];
    /// Reads a formatted row, its columns in `.decl` order.
    fn from_row(row: Vec<String>) -> Self;
    /// Reads a borrowed row (a proof's tuple, say).
    fn of(row: &[String]) -> Self {
        Self::from_row(row.to_vec())
    }
    /// The row again, its columns in `.decl` order (a tuple to prove, say).
    fn into_row(self) -> Vec<String>;
}

/// Declares views: `Name = relation(col field, ...);`, where `col` is the column's name in the
/// `.decl` and `field` the struct's; `Name = rel_a | rel_b (_ field, ...);` for relations of one
/// shape. Also lists every view in [`VIEWS`].
macro_rules! views {
    ($(
        $(#[$doc:meta])*
        $name:ident = $($rel:ident)|+ ( $($col:tt $field:ident),+ $(,)? );
    )+) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Debug, Default, PartialEq, Eq)]
            pub struct $name {
                $(
                    #[doc = concat!("Column `", stringify!($col), "`.")]
                    pub $field: String,
                )+
            }

            impl View for $name {
                const RELATIONS: &'static [&'static str] = &[$(stringify!($rel)),+];
                const COLUMNS: &'static [&'static str] = &[$(stringify!($col)),+];
                const FIELDS: &'static [&'static str] = &[$(stringify!($field)),+];
                fn from_row(row: Vec<String>) -> Self {
                    debug_assert_eq!(row.len(), Self::COLUMNS.len(), "a row of {:?}", Self::RELATIONS);
                    let mut values = row.into_iter();
                    $name { $($field: values.next().unwrap_or_default(),)+ }
                }
                fn into_row(self) -> Vec<String> {
                    vec![$(self.$field),+]
                }
            }
        )+

        /// Every view: the relations it reads and their columns as the `.decl` names them.
        pub const VIEWS: &[(&[&str], &[&str])] = &[$(
            (<$name as View>::RELATIONS, <$name as View>::COLUMNS)
        ),+];
    };
}

/// The positions of view `V`'s `fields` in a row of its relation, for rows read as symbols where
/// a `V` per row would cost too much: `const [F, S, V]: [usize; 3] = columns::<Visible, 3>([..])`.
/// A field `V` lacks fails to compile; a reordered `.decl` moves the view's fields (the view
/// check in `tests/it/docs.rs` holds them to it), and the positions with them.
pub const fn columns<V: View, const N: usize>(fields: [&str; N]) -> [usize; N] {
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        out[i] = position(V::FIELDS, fields[i]);
        i += 1;
    }
    out
}

/// The position of `field` in `fields`; a missing one panics (at compile time in a constant).
const fn position(fields: &[&str], field: &str) -> usize {
    let mut i = 0;
    while i < fields.len() {
        if same(fields[i].as_bytes(), field.as_bytes()) {
            return i;
        }
        i += 1;
    }
    panic!("the view has no such field");
}

/// Byte-wise equality, usable in a constant.
const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Model {
    /// The rows of view `V`'s relation (its first, for a view of several).
    pub fn view<V: View>(&self) -> Vec<V> {
        self.view_in(V::RELATIONS[0])
    }

    /// The rows of relation `rel`, one of `V`'s, read as `V`.
    pub fn view_in<V: View>(&self, rel: &str) -> Vec<V> {
        debug_assert!(
            V::RELATIONS.contains(&rel),
            "{rel} is not read by this view"
        );
        self.rows(rel).into_iter().map(V::from_row).collect()
    }
}

/// A tuple of relation `rel` (a proof's, a question's) read as `V`, when it is one of V's
/// relations with V's columns.
pub fn read_as<V: View>(rel: &str, row: &[String]) -> Option<V> {
    (V::RELATIONS.contains(&rel) && row.len() == V::COLUMNS.len()).then(|| V::of(row))
}

/// The rows of relation `rel` of an evaluation of `rules`, read as `V` (one of its relations).
pub fn view_of<V: View>(eval: &Evaluation, rules: &Rules, rel: &str) -> Vec<V> {
    debug_assert!(
        V::RELATIONS.contains(&rel),
        "{rel} is not read by this view"
    );
    eval.rows(rules, rel)
        .unwrap_or_default()
        .into_iter()
        .map(V::from_row)
        .collect()
}

views! {
    /// Target T (a flow, stage binding, application, ...) of kind K, its policy engine mode.
    Target = target(t target, kind kind, mode mode);
    /// Binding B is in force on target T.
    Live = live(b binding, t target);
    /// Binding B on target T at an order.
    Binding = binding(b binding, t target, order order);
    /// Binding B checks group G.
    BindingGroup = binding_group(b binding, g group);
    /// Binding B checks user U.
    BindingUser = binding_user(b binding, u user);
    /// Binding B runs policy P.
    BindingPolicy = binding_policy(b binding, p policy);
    /// Binding B is negated.
    BindingNegate = binding_negate(b binding);
    /// What binding B gives identity I in context C (`gives`: a group or user binding's failure
    /// aside).
    Val = val | gives(b binding, i identity, c context, v value);
    /// Group or user binding B, on a target in mode `all`, fails for identity I in context C.
    AllModeFail = all_mode_fail(b binding, i identity, c context);
    /// What target T decides for identity I in context C.
    Decide = decide(t target, i identity, c context, v value);
    /// Identity I is a member of group G.
    Member = member(i identity, g group);
    /// Identity I is a member of G only through ancestry beyond the cut-off.
    MemberCut = member_cut(i identity, g group);
    /// User U is a direct member of group G.
    DirectMember = direct_member(u user, g group);
    /// Group C's parent P.
    GroupParent = group_parent(c child, p parent);
    /// Binding B on target T is left to run time for identity I in context C, and why.
    OpenBinding = open_binding(t target, i identity, c context, b binding, why why);
    /// Flow-stage binding X of flow F shows stage S at an order.
    Fsb = fsb(x binding, f flow, s stage, order order);
    /// Flow-stage binding X is evaluated when the flow is planned.
    FsbEvaluateOnPlan = fsb_evaluate_on_plan(x binding);
    /// Flow-stage binding X is evaluated again when its stage is run.
    FsbReEvaluatePolicies = fsb_re_evaluate_policies(x binding);
    /// Whether flow F applies to subject S entering as E.
    Applicable = applicable(f flow, e entry, s subject, v value);
    /// Flow F's authentication gate for subject S entering as E.
    Gate = gate(f flow, e entry, s subject, v value);
    /// Flow F's authentication requirement.
    FlowAuthentication = flow_authentication(f flow, gate gate);
    /// The run-time check of stage binding X for subject S entering as E.
    RunResult = run_result(x binding, e entry, s subject, v value);
    /// The identity the run-time check of stage binding X sees.
    RunId = run_id(x binding, e entry, s subject, i identity);
    /// The identity a flow is planned for, for subject S entering as E.
    PlanId = plan_id(e entry, s subject, i identity);
    /// Whether stage binding X is shown to subject S entering as E.
    Visible = visible(x binding, e entry, s subject, v value);
    /// User U is active.
    UserActive = user_active(u user);
    /// A step of expression binding B deciding it for identity I in context C.
    ExprStep = expr_step(b binding, c context, i identity, text text);
    /// A step of expression binding B deciding it for everyone in context C.
    ExprStaticStep = expr_static_step(b binding, c context, text text);
    /// Identity I passes the group or user binding B.
    IdPass = id_pass(b binding, i identity);
    /// What expression binding B gives identity I in context C.
    ExprRaw = expr_raw(b binding, c context, i identity, r value);
    /// What binding B gives everyone in context C.
    Braw = braw(b binding, c context, r value);
    /// Some binding in force on T gives V for identity I in context C (`some_given`: a group or
    /// user binding's failure aside, as the decisions read it).
    SomeGives = some | some_given(t target, i identity, c context, v value);
    /// A part of the check of stage binding X gives V.
    StagePart = stage_part(x binding, e entry, s subject, v value);
    /// The run-time check of stage binding X sees several identities.
    RunSplit = run_split(x binding, e entry, s subject);
    /// A part of whether flow F applies gives V.
    FlowPart = flow_part(f flow, e entry, s subject, v value);
    /// Entitlement E of application A, its name.
    Entitlement = entitlement(e entitlement, app app, name name);
    /// Whether user U holds entitlement E.
    Entitled = entitled(e entitlement, u user, v value);
    /// How flow F is entered by default.
    DefaultEntry = default_entry(f flow, e entry);
    /// A side of device D's check for user U.
    DeviceSide = device_side(d device, u user, side side, v value);
    /// Whether user U is offered source S to connect.
    SourceOffered = source_offered(s source, u user, v value);
    /// Whether user U may log in on device D.
    DeviceAccess = device_access(d device, u user, v value);
    /// Device D is in access group G.
    DeviceInGroup = device_in_group(d device, g group);
    /// Provider P is served by an outpost.
    OutpostProvider = outpost_provider(p provider);
    /// User U is told by notification rule R (a direct member of its group).
    RuleRecipient = rule_recipient(r rule, u user);
    /// Whether notification rule R fires for an event of action A whose user is U.
    RuleFires = rule_fires(r rule, a action, u user, v value);
    /// Notification rule R tells the event's user.
    RuleTellsEventUser = rule_tells_event_user(r rule);
    /// Whether notification rule R fires for an event of action A without a user.
    AnonymousEventFires = anonymous_event_fires(r rule, a action, v value);
    /// A binding B of flow F left to run time for subject S entering as E, and why.
    Deferred = deferred(f flow, e entry, s subject, b binding, why why);
    /// Notification rule R.
    NotificationRule = notification_rule(r rule, name name, severity severity);
    /// User U is a superuser.
    Superuser = superuser(u user);
    /// User U is a superuser through a membership that is not cut off.
    SuperuserSure = superuser_sure(u user);
    /// Whether user U is a superuser depends on ancestry beyond the cut-off.
    SuperuserUnknown = superuser_unknown(u user);
    /// User U, its username and name.
    User = user(u pk, username username, name name);
    /// Group G, its name.
    Group = group(g pk, name name);
    /// Policy P, its name and type.
    Policy = policy(p pk, name name, type kind);
    /// Flow F, its slug, name and designation.
    Flow = flow(f pk, slug slug, name name, designation designation);
    /// Stage S, its name and kind.
    Stage = stage(s pk, name name, kind kind);
    /// Object X's label.
    Label = label(x object, l label);
    /// Source S starts a login (or an enrollment) in flow F.
    SourceFlow = source_authentication_flow | source_enrollment_flow (s source, f flow);
    /// Binding B is named where an answer says why target T decided V for identity I in context C.
    NamedBy = named_by(t target, i identity, c context, v value, b binding);
    /// Users log in through flow F, named by a brand of domain D or picked by slug.
    LoginFlow = login_flow(f flow, via via, d domain);
    /// How many users notification rule R tells.
    RuleRecipients = rule_recipients(r rule, n count);
    /// Event action A.
    EventAction = event_action(a action);
    /// An event of action A may fire notification rule R.
    ActionNotifies = action_notifies(a action, r rule);
    /// Flow F has an MFA validation stage.
    FlowHasMfa = flow_has_mfa(f flow);
    /// The login flow F of application A, and how it was picked.
    AppLoginFlow = app_login_flow(a app, f flow, via via);
    /// How many users meet MFA as V on application A's login path.
    LoginMfaUsers = login_mfa_users(a app, v value, n count);
    /// Application A.
    Application = application(a app, slug slug, name name);
    /// RAC endpoint E may be launched through application A too.
    EndpointForeignApplication = endpoint_foreign_application(e endpoint, a app);
    /// Provider P.
    Provider = provider(p provider, name name, kind kind);
    /// Provider P accepts an MFA code appended to the password.
    ProviderMfaSupport = provider_mfa_support(p provider);
    /// Stage binding X of P's bind flow shows a stage the outpost cannot answer.
    UnsolvableStage = unsolvable_stage(p provider, x binding);
    /// A part of whether user U can bind to provider P.
    BindPart = bind_part(p provider, u user, part part, v value);
    /// The flow F logging out of application A runs, and how it was picked.
    AppInvalidationFlow = app_invalidation_flow(a app, f flow, via via);
    /// Notification rule R sends through transport T.
    NotificationTransport = notification_transport(r rule, t transport);
    /// Transport T sends once.
    TransportSendOnce = transport_send_once(t transport);
    /// The brand the request reaches.
    RequestBrand = request_brand(b brand);
    /// The flow the request's brand starts for designation D, and how it was picked.
    HostFlow = host_flow(d designation, f flow, via via);
    /// How many users get V from a device, source or RAC endpoint (its pk).
    UsersCount = device_users | source_users | endpoint_users (_ object, v value, n count);
    /// Device D.
    Device = device(d pk, name name);
    /// Source S.
    Source = source(s pk, slug slug, name name);
    /// RAC endpoint E of provider P.
    RacEndpoint = rac_endpoint(e pk, name name, provider provider);
    /// A part of a journey about one object of the target, for user U (per class).
    PartIn = endpoint_part_in | bind_part_in (_ target, o object, part part, u user, v value);
    /// A part of a journey the same for every user.
    PartAll = endpoint_part_all | bind_part_all (_ target, part part, v value);
    /// A journey's answer for user U.
    JourneyAnswer = endpoint_access | bind_access (_ target, u user, v value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_reads_back_as_it_is_written() {
        for t in [Tri::Yes, Tri::No, Tri::Unknown] {
            assert_eq!(Tri::read(t.yes_no()), t);
            assert_eq!(Tri::read(t.visibility()), t);
            assert_eq!(Tri::read(t.decision()), t);
            assert_eq!(Tri::from_code(t.code()), t);
        }
        assert_eq!(Tri::read("maybe"), Tri::Unknown);
        for t in [Tri::Yes, Tri::No, Tri::Unknown] {
            assert_eq!(Tri::from_openness(t.openness()), t);
        }
        assert!(Tri::Yes.openness() > Tri::Unknown.openness());
        assert!(Tri::Unknown.openness() > Tri::No.openness());
    }
}
