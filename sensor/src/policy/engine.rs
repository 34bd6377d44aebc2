//! The policy engine: loads rule files, indexes compiled rules by record type and operation,
//! and decides per flat record whether it is dropped, passed or alerted.

use std::path::Path;

use sysflow_model::flat::FlatRecord;
use sysflow_model::{RecordType, SysFlow};

use super::compile::{Compiler, Problem};
use super::error::{DiagKind, Diagnostic, PolicyError};
use super::eval::{proc_only, Cond, Scratch, Test};
use super::items::{Collector, Defs};
use super::load::{load_file, parse_text, policy_files, Sources};
use super::rule::Rule;

/// What the engine does with records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Only records matching a rule go on (the original's default).
    #[default]
    Alert,
    /// Every record not dropped goes on; matches annotate it.
    Enrich,
    /// Only filters/drops are evaluated; every other record goes on.
    Filter,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "alert" => Ok(Mode::Alert),
            "enrich" => Ok(Mode::Enrich),
            "filter" => Ok(Mode::Filter),
            o => Err(format!(
                "unknown mode '{o}': expected alert, enrich or filter"
            )),
        }
    }
}

/// The outcome for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A filter/drop matched: the record is discarded in every mode.
    Drop,
    /// No rule matched.
    Pass,
    /// At least one rule matched (see [`Matches`]).
    Alert,
}

/// Options for loading.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    pub mode: Mode,
    /// Unknown field names are errors instead of skipping their rules with a warning.
    pub strict: bool,
}

/// Counts for `sensor policy check`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub rules: usize,
    pub disabled_rules: usize,
    pub macros: usize,
    pub lists: usize,
    pub filters: usize,
    pub skipped_rules: usize,
}

/// Matched rules of one record, in declaration order, plus the worker's scratch space.
/// Reuse one per worker: `process` clears it.
#[derive(Debug, Default)]
pub struct Matches {
    rules: Vec<u32>,
    scratch: Scratch,
}

impl Matches {
    pub fn new() -> Self {
        Self::default()
    }
    /// Indices into [`PolicyEngine::rules`].
    pub fn indices(&self) -> &[u32] {
        &self.rules
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
    pub fn len(&self) -> usize {
        self.rules.len()
    }
    /// The matched rules.
    pub fn iter<'e>(&'e self, engine: &'e PolicyEngine) -> impl Iterator<Item = &'e Rule> + 'e {
        self.rules.iter().map(move |&i| &engine.rules[i as usize])
    }
}

/// A compiled rule or filter with what a record must have to possibly match it.
#[derive(Debug)]
struct Compiled {
    cond: Cond,
    /// One of these op flags must be set (0: no requirement).
    ops: u32,
}

/// The compiled policy. `Send + Sync`: share it between workers in an `Arc`.
#[derive(Debug)]
pub struct PolicyEngine {
    mode: Mode,
    rules: Vec<Rule>,
    conds: Vec<Compiled>,
    filters: Vec<Compiled>,
    /// Per record type (index = `RecordType as usize`), the enabled rules that can match it.
    rules_by_type: [Vec<u32>; 12],
    filters_by_type: [Vec<u32>; 12],
    /// Memo slots of shared sub-conditions ([`Cond::Memo`]).
    memo_slots: usize,
    /// Per-process memo slots ([`Cond::ProcMemo`]).
    proc_slots: usize,
    summary: Summary,
}

const ALL_TYPES: u16 = (1 << 12) - 1;

impl PolicyEngine {
    /// Loads a policy file or directory (recursively, `.yaml`/`.yml`, lexical order).
    /// Returns the engine and the warnings (skipped rules, tolerated input, …).
    pub fn load(path: &Path, mode: Mode) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        Self::load_with(
            path,
            LoadOptions {
                mode,
                strict: false,
            },
        )
    }

    /// [`PolicyEngine::load`] with options.
    pub fn load_with(
        path: &Path,
        opts: LoadOptions,
    ) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        let files = policy_files(path)?;
        let mut sources = Sources::default();
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        let mut roots = Vec::new();
        for f in &files {
            match load_file(&mut sources, f, &mut warnings)? {
                Ok(n) => roots.push(n),
                Err(d) => {
                    errors.push(d);
                    roots.push(None);
                }
            }
        }
        Self::build(sources, roots, errors, warnings, opts)
    }

    /// Compiles policy text (one in-memory file named `name`), for tests and tools.
    pub fn from_str(
        name: &str,
        text: &str,
        opts: LoadOptions,
    ) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        let mut sources = Sources::default();
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        let root = match parse_text(&mut sources, Path::new(name).into(), text, &mut warnings) {
            Ok(n) => n,
            Err(d) => {
                errors.push(d);
                None
            }
        };
        Self::build(sources, vec![root], errors, warnings, opts)
    }

    fn build(
        sources: Sources,
        roots: Vec<Option<super::load::Node>>,
        mut errors: Vec<Diagnostic>,
        mut warnings: Vec<Diagnostic>,
        opts: LoadOptions,
    ) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        let mut defs = Defs::default();
        {
            let mut c = Collector {
                sources: &sources,
                defs: &mut defs,
                errors: &mut errors,
                warnings: &mut warnings,
            };
            for r in &roots {
                c.file(r.as_ref());
            }
        }
        let mut comp = Compiler::new(&sources, &defs);
        errors.extend(comp.macro_syntax_errors());
        let mut summary = Summary {
            files: defs.files,
            macros: defs.macros.len(),
            lists: defs.lists.len(),
            skipped_rules: defs.skipped.len(),
            ..Summary::default()
        };
        let skip = |p: Problem,
                    what: &str,
                    errors: &mut Vec<Diagnostic>,
                    warnings: &mut Vec<Diagnostic>| match p {
            Problem::Fatal(d) => errors.push(d),
            Problem::Skip(d) if opts.strict && d.kind == DiagKind::UnknownField => errors.push(d),
            Problem::Skip(mut d) => {
                d.message = format!("{what} skipped: {}", d.message);
                warnings.push(d);
            }
        };
        let mut rules = Vec::new();
        let mut conds = Vec::new();
        let mut rules_by_type: [Vec<u32>; 12] = Default::default();
        for r in &defs.rules {
            let what = format!("rule '{}'", r.name);
            let mut cond = match comp.condition(&r.cond) {
                Ok(c) => c,
                Err(p) => {
                    skip(p, &what, &mut errors, &mut warnings);
                    summary.skipped_rules += 1;
                    continue;
                }
            };
            match comp.exceptions(&r.exceptions) {
                Ok(Some(ex)) => cond = Cond::And(vec![cond, ex].into()),
                Ok(None) => {}
                Err(p) => {
                    skip(p, &what, &mut errors, &mut warnings);
                    summary.skipped_rules += 1;
                    continue;
                }
            }
            let mut types = ALL_TYPES;
            if !r.prefilter.is_empty() {
                let mut mask = 0u16;
                for (p, m) in &r.prefilter {
                    match RecordType::ALL.iter().find(|t| t.code() == p.trim()) {
                        Some(t) => mask |= 1 << (*t as u16),
                        None => errors.push(sources.diag(
                            DiagKind::Item,
                            *m,
                            format!("unknown record type '{p}' in prefilter"),
                            Some("expected PE, PF, NF, FF, FE, NE or KE".into()),
                        )),
                    }
                }
                types &= mask;
            }
            if !r.enabled {
                summary.disabled_rules += 1;
                continue;
            }
            let (t, ops) = requirement(&cond);
            types &= t;
            let idx = rules.len() as u32;
            for (i, list) in rules_by_type.iter_mut().enumerate() {
                if types & (1 << i) != 0 {
                    list.push(idx);
                }
            }
            rules.push(Rule {
                name: r.name.clone(),
                desc: r.desc.clone(),
                output: r.output.clone(),
                priority: r.priority,
                tags: r.tags.clone(),
                actions: r.actions.clone(),
                origin: format!("{}:{}", sources.loc(r.mark).file.display(), r.mark.line),
            });
            conds.push(Compiled { cond, ops });
        }
        summary.rules = rules.len();
        let mut filters = Vec::new();
        let mut filters_by_type: [Vec<u32>; 12] = Default::default();
        for f in &defs.filters {
            let cond = match comp.condition(&f.cond) {
                Ok(c) => c,
                Err(p) => {
                    skip(
                        p,
                        &format!("filter '{}'", f.name),
                        &mut errors,
                        &mut warnings,
                    );
                    continue;
                }
            };
            if !f.enabled {
                continue;
            }
            let (types, ops) = requirement(&cond);
            let idx = filters.len() as u32;
            for (i, list) in filters_by_type.iter_mut().enumerate() {
                if types & (1 << i) != 0 {
                    list.push(idx);
                }
            }
            filters.push(Compiled { cond, ops });
        }
        summary.filters = filters.len();
        let (memo_slots, proc_slots) = optimize(&mut conds, &mut filters, comp.memo_slots());
        warnings.append(&mut comp.warnings);
        if !errors.is_empty() {
            return Err(PolicyError::Invalid(errors));
        }
        let engine = PolicyEngine {
            mode: opts.mode,
            rules,
            conds,
            filters,
            rules_by_type,
            filters_by_type,
            memo_slots,
            proc_slots,
            summary,
        };
        Ok((engine, warnings))
    }

    /// What each enabled rule needs from an event source, in declaration order: the record
    /// types it can match (bit `1 << RecordType as u16`) and the op flags one of which it
    /// requires (0 = none). Conservative: a condition the analysis cannot narrow counts as
    /// matching every type.
    pub fn requirements(&self) -> Vec<(u16, u32)> {
        let mut types = vec![0u16; self.rules.len()];
        for (t, list) in self.rules_by_type.iter().enumerate() {
            for &i in list {
                types[i as usize] |= 1 << t;
            }
        }
        types
            .into_iter()
            .zip(self.conds.iter().map(|c| c.ops))
            .collect()
    }

    /// The enabled rules in declaration order ([`Matches`] indexes into this).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Whether a record with this verdict goes on in the engine's mode.
    pub fn forwards(&self, v: Verdict) -> bool {
        match v {
            Verdict::Drop => false,
            Verdict::Alert => true,
            Verdict::Pass => self.mode != Mode::Alert,
        }
    }

    /// Evaluates filters, then (unless in filter mode) every rule that can match the
    /// record's type and operation. Fills `m` with the matched rules in declaration order.
    pub fn process(&self, r: &FlatRecord, m: &mut Matches) -> Verdict {
        m.rules.clear();
        m.scratch.next_record(r, self.memo_slots, self.proc_slots);
        let t = r.rec.record_type() as usize;
        let ops = rec_opflags(&r.rec);
        for &i in &self.filters_by_type[t] {
            let f = &self.filters[i as usize];
            if f.ops != 0 && ops & f.ops == 0 {
                continue;
            }
            if f.cond.eval(r, &mut m.scratch) {
                return Verdict::Drop;
            }
        }
        if self.mode == Mode::Filter {
            return Verdict::Pass;
        }
        for &i in &self.rules_by_type[t] {
            let c = &self.conds[i as usize];
            if c.ops != 0 && ops & c.ops == 0 {
                continue;
            }
            if c.cond.eval(r, &mut m.scratch) {
                m.rules.push(i);
            }
        }
        if m.rules.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Alert
        }
    }

    /// Processes a batch on `threads` threads (scoped), keeping input order.
    pub fn process_batch(&self, recs: &[FlatRecord], threads: usize) -> BatchResult {
        let threads = threads.max(1).min(recs.len().max(1));
        let chunk = recs.len().div_ceil(threads).max(1);
        let parts: Vec<BatchResult> = std::thread::scope(|s| {
            let hs: Vec<_> = recs
                .chunks(chunk)
                .map(|c| {
                    s.spawn(move || {
                        let mut m = Matches::new();
                        let mut out = BatchResult::with_capacity(c.len());
                        for r in c {
                            let v = self.process(r, &mut m);
                            out.push(v, m.indices());
                        }
                        out
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut all = BatchResult::with_capacity(recs.len());
        for p in parts {
            all.append(p);
        }
        all
    }
}

/// Verdicts and matched rule indices of a batch, in input order, without a per-record
/// allocation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchResult {
    pub verdicts: Vec<Verdict>,
    ends: Vec<u32>,
    rules: Vec<u32>,
}

impl BatchResult {
    fn with_capacity(n: usize) -> Self {
        BatchResult {
            verdicts: Vec::with_capacity(n),
            ends: Vec::with_capacity(n),
            rules: Vec::new(),
        }
    }
    fn push(&mut self, v: Verdict, rules: &[u32]) {
        self.verdicts.push(v);
        self.rules.extend_from_slice(rules);
        self.ends.push(self.rules.len() as u32);
    }
    fn append(&mut self, o: BatchResult) {
        let base = self.rules.len() as u32;
        self.verdicts.extend(o.verdicts);
        self.ends.extend(o.ends.iter().map(|e| e + base));
        self.rules.extend(o.rules);
    }
    /// Matched rule indices of record `i`.
    pub fn matches(&self, i: usize) -> &[u32] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.rules[start..self.ends[i] as usize]
    }
    pub fn len(&self) -> usize {
        self.verdicts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
    }
}

/// Op flags of an event or flow (0 for other records).
fn rec_opflags(r: &SysFlow) -> u32 {
    match r {
        SysFlow::ProcessEvent(x) => x.op_flags.0,
        SysFlow::NetworkFlow(x) => x.op_flags.0,
        SysFlow::FileFlow(x) => x.op_flags.0,
        SysFlow::FileEvent(x) => x.op_flags.0,
        SysFlow::NetworkEvent(x) => x.op_flags.0,
        SysFlow::ProcessFlow(x) => x.op_flags.0,
        _ => 0,
    }
}

/// What a record must be for `c` to possibly hold: a set of record types (bit per
/// `RecordType`) and op flags of which one must be set (0 = no requirement). Derived from
/// `sf.type = X`, `sf.type in (...)`, `sf.opflags = X`/`in (...)` under and/or; `not` gives up.
fn requirement(c: &Cond) -> (u16, u32) {
    match c {
        Cond::Const(false) => (0, 0),
        Cond::Const(true) | Cond::Not(_) | Cond::Pair(..) => (ALL_TYPES, 0),
        Cond::Type(mask) => (*mask & ALL_TYPES, 0),
        Cond::Memo(_, c) | Cond::ProcMemo(_, c) => requirement(c),
        Cond::Test(f, t) => match (f.field.name, t) {
            ("sf.type", Test::Eq(l)) => (type_bits([&*l.s]), 0),
            ("sf.type", Test::InList(items)) => (type_bits(items.iter().map(|s| &**s)), 0),
            ("sf.type", Test::InSet(items)) => (type_bits(items.iter().map(|s| &**s)), 0),
            ("sf.opflags", Test::OpMask { any, net, other }) => (ALL_TYPES, any | net | other),
            _ => (ALL_TYPES, 0),
        },
        Cond::And(v) => v
            .iter()
            .map(requirement)
            .fold((ALL_TYPES, 0), |(t, o), (t2, o2)| {
                // Both requirements hold; keep the narrower op-flag requirement.
                let ops = match (o, o2) {
                    (0, x) | (x, 0) => x,
                    (a, b) if b.count_ones() < a.count_ones() => b,
                    (a, _) => a,
                };
                (t & t2, ops)
            }),
        Cond::Or(v) => {
            let reqs: Vec<_> = v.iter().map(requirement).collect();
            let types = reqs.iter().fold(0, |t, r| t | r.0);
            // Only a requirement if every branch has one (branches that never match don't count).
            let live: Vec<_> = reqs.iter().filter(|r| r.0 != 0).collect();
            let ops = if !live.is_empty() && live.iter().all(|r| r.1 != 0) {
                live.iter().fold(0, |o, r| o | r.1)
            } else {
                0
            };
            (types, ops)
        }
    }
}

/// Slot numbering of [`optimize`].
#[derive(Default)]
struct Slots {
    /// Compiler slot → per-record slot / per-process slot (u32::MAX: none yet).
    rec: Vec<u32>,
    proc: Vec<u32>,
    /// Uses of each kept per-record slot.
    rec_uses: Vec<u32>,
    procs: u32,
}

/// Prepares compiled conditions for speed; the results are unchanged (evaluation is pure):
/// - a sub-condition that reads only the process context becomes a per-process memo
///   ([`Cond::ProcMemo`]): in every and/or, such terms are grouped into one, so a rule costs
///   one cache lookup plus its record-level tests;
/// - other shared sub-conditions keep a per-record memo slot when used at least twice and
///   dearer than the lookup;
/// - and/or terms are ordered cheap first (a shared sub-condition costs its share).
///
/// Returns the numbers of per-record and per-process slots.
fn optimize(rules: &mut [Compiled], filters: &mut [Compiled], slots: usize) -> (usize, usize) {
    fn count(c: &Cond, uses: &mut [u32]) {
        match c {
            Cond::Memo(id, inner) => {
                uses[*id as usize] += 1;
                count(inner, uses);
            }
            Cond::And(v) | Cond::Or(v) => v.iter().for_each(|c| count(c, uses)),
            Cond::Not(c) | Cond::ProcMemo(_, c) => count(c, uses),
            _ => {}
        }
    }
    fn take(c: &mut Cond) -> Cond {
        std::mem::replace(c, Cond::Const(false))
    }
    fn new_proc(s: &mut Slots, c: Cond) -> Cond {
        s.procs += 1;
        Cond::ProcMemo(s.procs - 1, Box::new(c))
    }
    /// Memo slots: kept, dropped or turned into per-process slots.
    fn fix(c: &mut Cond, uses: &[u32], s: &mut Slots) {
        match c {
            Cond::Memo(id, inner) => {
                fix(inner, uses, s);
                let k = *id as usize;
                if inner.cost() <= Cond::MEMO_COST {
                    *c = take(inner);
                } else if proc_only(inner) {
                    if s.proc[k] == u32::MAX {
                        s.proc[k] = s.procs;
                        s.procs += 1;
                    }
                    *c = Cond::ProcMemo(s.proc[k], Box::new(take(inner)));
                } else if uses[k] < 2 {
                    *c = take(inner);
                } else {
                    if s.rec[k] == u32::MAX {
                        s.rec[k] = s.rec_uses.len() as u32;
                        s.rec_uses.push(uses[k]);
                    }
                    *id = s.rec[k];
                }
            }
            Cond::And(v) | Cond::Or(v) => v.iter_mut().for_each(|c| fix(c, uses, s)),
            Cond::Not(c) | Cond::ProcMemo(_, c) => fix(c, uses, s),
            _ => {}
        }
    }
    /// Groups the process-only terms of each and/or into one per-process memo.
    fn hoist(c: &mut Cond, s: &mut Slots) {
        if matches!(c, Cond::ProcMemo(..)) {
            return;
        }
        if proc_only(c) {
            if c.cost() > Cond::MEMO_COST {
                let inner = take(c);
                *c = new_proc(s, inner);
            }
            return;
        }
        let and = matches!(c, Cond::And(_));
        match c {
            Cond::And(v) | Cond::Or(v) => {
                let (mut group, mut rest): (Vec<Cond>, Vec<Cond>) = std::mem::take(v)
                    .into_vec()
                    .into_iter()
                    .partition(proc_only);
                rest.iter_mut().for_each(|c| hoist(c, s));
                match group.len() {
                    0 => {}
                    1 => {
                        hoist(&mut group[0], s);
                        rest.push(group.pop().unwrap_or(Cond::Const(and)));
                    }
                    _ => {
                        let g = if and {
                            Cond::And(group.into())
                        } else {
                            Cond::Or(group.into())
                        };
                        rest.push(new_proc(s, g));
                    }
                }
                *v = rest.into();
            }
            Cond::Not(c) | Cond::Memo(_, c) => hoist(c, s),
            _ => {}
        }
    }
    /// Orders and/or terms cheap first.
    fn order(c: &mut Cond, cost: &dyn Fn(u32, u32) -> u32) {
        match c {
            Cond::Memo(_, inner) | Cond::ProcMemo(_, inner) | Cond::Not(inner) => {
                order(inner, cost)
            }
            Cond::And(v) | Cond::Or(v) => {
                v.iter_mut().for_each(|c| order(c, cost));
                v.sort_by_cached_key(|c| c.cost_with(cost));
            }
            _ => {}
        }
    }
    let mut uses = vec![0u32; slots];
    for c in rules.iter().chain(filters.iter()) {
        count(&c.cond, &mut uses);
    }
    let mut s = Slots {
        rec: vec![u32::MAX; slots],
        proc: vec![u32::MAX; slots],
        ..Slots::default()
    };
    for c in rules.iter_mut().chain(filters.iter_mut()) {
        fix(&mut c.cond, &uses, &mut s);
        hoist(&mut c.cond, &mut s);
    }
    let rec_uses = std::mem::take(&mut s.rec_uses);
    let share = |id: u32, c: u32| (c / rec_uses[id as usize]).max(Cond::MEMO_COST);
    for c in rules.iter_mut().chain(filters.iter_mut()) {
        order(&mut c.cond, &share);
    }
    (rec_uses.len(), s.procs as usize)
}

fn type_bits<'a>(codes: impl IntoIterator<Item = &'a str>) -> u16 {
    codes
        .into_iter()
        .filter_map(|c| RecordType::ALL.iter().find(|t| t.code() == c))
        .fold(0, |m, t| m | 1 << (*t as u16))
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<PolicyEngine>();
}
