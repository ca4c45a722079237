//! `lsm-cli`: drive the engine on a real directory from the shell.
//!
//! ```text
//! lsm-cli --dir D fill 1000 2000      put keys 1000..=2000 (value "value<k>")
//! lsm-cli --dir D get 1500            print the value or "not found"
//! lsm-cli --dir D scan 1000 1010      print keys 1000..=1010 that exist
//! lsm-cli --dir D del 1500
//! lsm-cli --dir D flush | compact | close
//! ```
//!
//! Several commands may follow one another in one run. Each run opens the directory (recovering
//! it) and closes it cleanly at the end, so a later run finds the data.

use std::ops::Bound;
use std::process::ExitCode;
use std::sync::Arc;

use engine::{Db, Options, WriteBatch, WriteOptions};
use faultfs::StdFs;

const USAGE: &str = "usage: lsm-cli --dir DIR COMMAND [COMMAND...]
commands:
  fill FROM TO     put keys FROM..=TO
  get KEY          print the value of KEY
  scan FROM TO     print every key in FROM..=TO
  del KEY          delete KEY
  flush            flush memtables to SSTs
  compact          compact until nothing is left to do
  close            close the database (also done at the end of every run)";

#[derive(Debug)]
enum Command {
    Fill(u64, u64),
    Get(u64),
    Scan(u64, u64),
    Del(u64),
    Flush,
    Compact,
    Close,
}

fn number(arg: Option<&String>, what: &str, cmd: &str) -> Result<u64, String> {
    let arg = arg.ok_or_else(|| format!("`{cmd}` needs {what}"))?;
    arg.parse()
        .map_err(|_| format!("`{cmd}`: {what} must be a non-negative integer, got `{arg}`"))
}

fn parse(args: &[String]) -> Result<(String, Vec<Command>), String> {
    let mut dir = None;
    let mut commands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let cmd = args[i].as_str();
        let mut next = || {
            i += 1;
            args.get(i)
        };
        commands.push(match cmd {
            "--dir" => {
                dir = Some(next().ok_or("`--dir` needs a directory")?.clone());
                i += 1;
                continue;
            }
            "fill" => Command::Fill(number(next(), "FROM", cmd)?, number(next(), "TO", cmd)?),
            "get" => Command::Get(number(next(), "KEY", cmd)?),
            "scan" => Command::Scan(number(next(), "FROM", cmd)?, number(next(), "TO", cmd)?),
            "del" => Command::Del(number(next(), "KEY", cmd)?),
            "flush" => Command::Flush,
            "compact" => Command::Compact,
            "close" => Command::Close,
            "-h" | "--help" | "help" => return Err(String::new()),
            other => return Err(format!("unknown command `{other}`")),
        });
        i += 1;
    }
    let dir = dir.ok_or("missing `--dir DIR`")?;
    if commands.is_empty() {
        return Err("no command given".into());
    }
    Ok((dir, commands))
}

fn run(dir: &str, commands: &[Command]) -> Result<(), engine::Error> {
    let fs = StdFs::new(dir).map_err(|source| engine::Error::Io {
        context: format!("opening directory {dir}"),
        source,
    })?;
    let db = Db::open(Arc::new(fs), ".", Options::default())?;
    let wo = WriteOptions::default();
    for command in commands {
        match *command {
            Command::Fill(from, to) => {
                let mut batch = WriteBatch::new();
                for k in from..=to {
                    batch.put(k.to_string(), format!("value{k}"));
                    if batch.len() == 1000 {
                        db.write(&batch, wo)?;
                        batch = WriteBatch::new();
                    }
                }
                db.write(&batch, wo)?;
                println!(
                    "filled {}..={} ({} keys)",
                    from,
                    to,
                    (to + 1).saturating_sub(from)
                );
            }
            Command::Get(k) => match db.get(k.to_string().as_bytes())? {
                Some(v) => println!("{k}={}", String::from_utf8_lossy(&v)),
                None => println!("{k} not found"),
            },
            Command::Scan(from, to) => {
                // Keys compare as strings; keep only those numerically in range.
                for (key, v) in db.scan(Bound::Unbounded, Bound::Unbounded)? {
                    let text = String::from_utf8_lossy(&key);
                    if text.parse::<u64>().is_ok_and(|n| (from..=to).contains(&n)) {
                        println!("{text}={}", String::from_utf8_lossy(&v));
                    }
                }
            }
            Command::Del(k) => {
                db.delete(k.to_string().as_bytes(), wo)?;
                println!("deleted {k}");
            }
            Command::Flush => {
                db.flush()?;
                println!("flushed; files per level {:?}", db.level_file_counts());
            }
            Command::Compact => {
                db.force_compact()?;
                println!("compacted; files per level {:?}", db.level_file_counts());
            }
            Command::Close => {
                db.close()?;
                println!("closed");
                return Ok(());
            }
        }
    }
    db.close()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, commands) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("lsm-cli: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&dir, &commands) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lsm-cli: {e}");
            ExitCode::FAILURE
        }
    }
}
