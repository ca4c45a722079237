//! The command line, for any store: `powercut::cli::main::<YourStore>()` gives your own binary
//! every subcommand (gate, replay, explore, scenario) with every flag. The shipped `powercut`
//! binary is the same function over the stores this crate ships, chosen with `--store`
//! ([`main_multi`]), plus the kill-test.
//!
//! Exit codes everywhere: 0 nothing violated, 1 a violation, 2 bad usage or bad input.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::store::{DamageRule, DiskAssumptions, Store};

pub mod explore;
pub mod gate;
pub mod killtest;
pub mod replay;
pub mod scenario;

/// Crash-consistency testing for storage engines on a simulated disk.
#[derive(Parser, Debug)]
#[command(version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Reruns one seeded run exactly and prints its trace hash.
    Replay(replay::Args),
    /// Runs scenario files.
    Scenario(scenario::Args),
    /// Tries every crash point of a workload or scenario with every distinct post-crash disk.
    Explore(explore::Args),
    /// The durability gate: sweeps seeds over crash policies and fault classes within a budget.
    Gate(gate::Args),
    /// Kills the store in a child process with SIGKILL on a real disk and checks each recovery.
    KillTest(killtest::Args),
    /// One child process of the kill-test (started by `kill-test`, not by hand).
    #[command(hide = true)]
    KillTestChild(killtest::ChildArgs),
}

/// How this binary is invoked, for the replay lines and scenario commands it prints.
pub type Ctx = crate::swarm::Invocation;

/// Flags every running subcommand shares: the store's configuration and the disk's promises.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunFlags {
    /// Fix configuration fields over what each seed draws (a JSON object of the store's config
    /// fields, e.g. '{"wal":false}').
    #[arg(long, value_parser = parse_config)]
    pub config: Option<serde_json::Value>,
    /// Override the store's declared sector atomicity (true: a sector being written holds old or
    /// new bytes, never garbage).
    #[arg(long)]
    pub atomic_sectors: Option<bool>,
    /// Override the store's declared metadata ordering (true: creates, renames, removes and
    /// set_lens reach the disk in issue order, as on ext4 and XFS).
    #[arg(long)]
    pub ordered_metadata: Option<bool>,
    /// Override the store's declared damage rule (strict, rollback, unchecked).
    #[arg(long, value_parser = parse_damage_rule)]
    pub damage_rule: Option<DamageRule>,
}

impl RunFlags {
    /// The disk assumptions these flags fix over `S`'s own (for its default configuration), or
    /// `None` when they fix nothing.
    pub fn assumptions<S: Store>(&self) -> Option<DiskAssumptions> {
        if self.atomic_sectors.is_none()
            && self.damage_rule.is_none()
            && self.ordered_metadata.is_none()
        {
            return None;
        }
        let mut a = S::assumptions(&S::Config::default());
        if let Some(v) = self.atomic_sectors {
            a.atomic_sectors = v;
        }
        if let Some(d) = self.damage_rule {
            a.damage = d;
        }
        if let Some(v) = self.ordered_metadata {
            a.ordered_metadata = v;
        }
        Some(a)
    }
}

/// The flags that fix `a` (for replay lines).
pub fn assumption_flags(a: &DiskAssumptions) -> String {
    format!(
        " --atomic-sectors {} --damage-rule {} --ordered-metadata {}",
        a.atomic_sectors,
        a.damage.name(),
        a.ordered_metadata
    )
}

fn parse_config(text: &str) -> Result<serde_json::Value, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("--config is not JSON: {e}"))?;
    if !v.is_object() {
        return Err("--config must be a JSON object of configuration fields".into());
    }
    Ok(v)
}

fn parse_damage_rule(name: &str) -> Result<DamageRule, String> {
    match name {
        "strict" => Ok(DamageRule::Strict),
        "rollback" => Ok(DamageRule::Rollback),
        "unchecked" => Ok(DamageRule::Unchecked),
        _ => Err(format!(
            "unknown damage rule {name:?} (strict, rollback, unchecked)"
        )),
    }
}

/// The whole CLI for store `S`, reading the process's arguments: the `main` of a user's binary.
pub fn main<S: Store + 'static>() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let program = program_name(&args);
    ExitCode::from(main_with::<S, _, _>(
        args,
        &Ctx {
            program,
            store: None,
        },
    ))
}

/// The binary's name as a user types it (its file name).
fn program_name(args: &[OsString]) -> String {
    args.first()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "powercut".to_string())
}

/// Parses `args` (program name first), runs the command on store `S` and returns the exit code.
pub fn main_with<S: Store + 'static, I, T>(args: I, ctx: &Ctx) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Replay(a) => replay::run::<S>(&a, ctx),
        Command::Scenario(a) => scenario::run::<S>(&a, ctx),
        Command::Explore(a) => explore::run::<S>(&a),
        Command::Gate(a) => gate::run::<S>(&a, ctx),
        Command::KillTest(a) => killtest::run::<S>(&a, ctx),
        Command::KillTestChild(a) => killtest::run_child_command::<S>(&a, ctx),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}: {e:#}", ctx.program);
            2
        }
    }
}

/// One store a multi-store binary offers under `--store NAME`.
pub struct Entry {
    pub name: &'static str,
    pub run: fn(Vec<OsString>, &Ctx) -> u8,
}

impl Entry {
    /// The entry of store `S`.
    pub fn of<S: Store + 'static>() -> Entry {
        Entry {
            name: S::name(),
            run: |args, ctx| main_with::<S, _, _>(args, ctx),
        }
    }
}

/// A binary offering several stores: `--store NAME` (anywhere in the arguments; the first
/// entry when absent) picks one, and the rest of the arguments go to its CLI.
pub fn main_multi(entries: &[Entry], args: Vec<OsString>) -> u8 {
    let program = program_name(&args);
    let mut rest = Vec::with_capacity(args.len());
    let mut chosen: Option<String> = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let text = a.to_string_lossy().into_owned();
        if text == "--store" {
            match it.next() {
                Some(v) => chosen = Some(v.to_string_lossy().into_owned()),
                None => {
                    eprintln!("{program}: --store needs a value");
                    return 2;
                }
            }
        } else if let Some(v) = text.strip_prefix("--store=") {
            chosen = Some(v.to_string());
        } else {
            rest.push(a);
        }
    }
    let names: Vec<&str> = entries.iter().map(|e| e.name).collect();
    // `scenario FILE...` without `--store`: each file runs on the store it names.
    if chosen.is_none() && rest.get(1).is_some_and(|a| a == "scenario") {
        return scenario_per_store(entries, &program, &rest);
    }
    let Some(entry) = (match &chosen {
        None => entries.first(),
        Some(name) => entries.iter().find(|e| e.name == name),
    }) else {
        eprintln!(
            "{program}: unknown store {:?} (one of: {})",
            chosen.unwrap_or_default(),
            names.join(", ")
        );
        return 2;
    };
    let store = chosen.filter(|name| Some(name.as_str()) != names.first().copied());
    (entry.run)(rest, &Ctx::named(&program, store))
}

/// Runs each scenario file given to a multi-store binary on the store the file names (the first
/// entry's when it names none); the exit code is the worst of them.
fn scenario_per_store(entries: &[Entry], program: &str, args: &[OsString]) -> u8 {
    let files = &args[2..];
    if files.is_empty() || files.iter().any(|f| f.to_string_lossy().starts_with('-')) {
        // Flags or no files: let the default store's parser answer (usage, or --help).
        return (entries[0].run)(args.to_vec(), &Ctx::named(program, None));
    }
    let mut worst = 0;
    for f in files {
        let named = crate::scenario::Scenario::load(std::path::Path::new(f))
            .ok()
            .and_then(|s| s.store);
        let entry = named
            .as_deref()
            .and_then(|n| entries.iter().find(|e| e.name == n))
            .unwrap_or(&entries[0]);
        let store = (entry.name != entries[0].name).then(|| entry.name.to_string());
        let one = vec![args[0].clone(), args[1].clone(), f.clone()];
        worst = worst.max((entry.run)(one, &Ctx::named(program, store)));
    }
    worst
}

/// The shipped `powercut` binary: the engine (default), the careless store and the buffered
/// store under `--store`.
#[cfg(feature = "engine")]
pub fn shipped_main(args: Vec<OsString>) -> u8 {
    use crate::stores::{CarelessStore, EngineStore, buffered::BufferedStore};
    main_multi(
        &[
            Entry::of::<EngineStore>(),
            Entry::of::<CarelessStore>(),
            Entry::of::<BufferedStore>(),
        ],
        args,
    )
}

/// Parses a crash policy name (`strict`, `keepall`, `torn`, `reorder`).
pub fn parse_policy(name: &str) -> Result<faultfs::CrashPolicy, String> {
    crate::coverage::PolicyKind::parse(name)
        .map(crate::coverage::PolicyKind::policy)
        .ok_or_else(|| format!("unknown policy {name:?} (strict, keepall, torn, reorder)"))
}

/// Parses a fault class name (`bit_flip`, `fsync_report_later`, ...).
pub fn parse_fault(name: &str) -> Result<faultfs::FaultClass, String> {
    crate::swarm::parse_fault_class(name).ok_or_else(|| {
        let all: Vec<String> = crate::swarm::ALL_FAULTS
            .iter()
            .map(|c| crate::swarm::fault_class_name(*c))
            .collect();
        format!("unknown fault class {name:?} (one of: {})", all.join(", "))
    })
}
