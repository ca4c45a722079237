//! The `powercut` command line: subcommands and their exit codes.
//!
//! Exit codes everywhere: 0 nothing violated, 1 a violation, 2 bad usage or bad input.

use std::ffi::OsString;

use clap::{Parser, Subcommand};

pub mod explore;
pub mod gate;
pub mod killtest;
pub mod replay;
pub mod scenario;

/// Crash-consistency testing for storage engines on a simulated disk.
#[derive(Parser, Debug)]
#[command(name = "powercut", version)]
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

/// Parses `args` (program name first), runs the command and returns the exit code.
pub fn main_with<I, T>(args: I) -> u8
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
        Command::Replay(a) => replay::run(&a),
        Command::Scenario(a) => scenario::run(&a),
        Command::Explore(a) => explore::run(&a),
        Command::Gate(a) => gate::run(&a),
        Command::KillTest(a) => killtest::run(&a),
        Command::KillTestChild(a) => killtest::run_child_command(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("powercut: {e:#}");
            2
        }
    }
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
