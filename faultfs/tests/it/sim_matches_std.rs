//! Without faults SimFs behaves like the real disk: the same random operations on SimFs and on
//! StdFs in a temporary directory show the same results, names, lengths and bytes after every step.

use std::io;
use std::path::Path;

use faultfs::{Fs, SimFs, StdFs};
use proptest::prelude::*;

const FILES: [&str; 5] = ["a", "b", "c", "d/x", "d/y"];

#[derive(Clone, Debug)]
enum Op {
    Create(usize),
    Write(usize, u64, Vec<u8>),
    SetLen(usize, u64),
    Sync(usize),
    Read(usize, u64, usize),
    Rename(usize, usize),
    Remove(usize),
    MakeDir,
    SyncDir,
}

fn op() -> impl Strategy<Value = Op> {
    let file = 0..FILES.len();
    prop_oneof![
        file.clone().prop_map(Op::Create),
        (
            file.clone(),
            0..64u64,
            prop::collection::vec(any::<u8>(), 0..32)
        )
            .prop_map(|(f, o, d)| Op::Write(f, o, d)),
        (file.clone(), 0..96u64).prop_map(|(f, l)| Op::SetLen(f, l)),
        file.clone().prop_map(Op::Sync),
        (file.clone(), 0..64u64, 0..32usize).prop_map(|(f, o, l)| Op::Read(f, o, l)),
        (file.clone(), file.clone()).prop_map(|(a, b)| Op::Rename(a, b)),
        file.prop_map(Op::Remove),
        Just(Op::MakeDir),
        Just(Op::SyncDir),
    ]
}

/// Runs one op and returns what it showed: Ok with any bytes read, or the error kind.
fn apply(fs: &dyn Fs, op: &Op) -> Result<Vec<u8>, io::ErrorKind> {
    let path = |i: usize| Path::new(FILES[i]);
    let result = (|| -> io::Result<Vec<u8>> {
        match op {
            Op::Create(f) => fs.create(path(*f)).map(|_| Vec::new()),
            Op::Write(f, offset, data) => fs
                .open(path(*f))?
                .write_at(*offset, data)
                .map(|_| Vec::new()),
            Op::SetLen(f, len) => fs.open(path(*f))?.set_len(*len).map(|_| Vec::new()),
            Op::Sync(f) => fs.open(path(*f))?.sync().map(|_| Vec::new()),
            Op::Read(f, offset, len) => {
                let mut buf = vec![0; *len];
                fs.open(path(*f))?.read_exact_at(*offset, &mut buf)?;
                Ok(buf)
            }
            Op::Rename(a, b) => fs.rename(path(*a), path(*b)).map(|_| Vec::new()),
            Op::Remove(f) => fs.remove(path(*f)).map(|_| Vec::new()),
            Op::MakeDir => fs.create_dir_all(Path::new("d")).map(|_| Vec::new()),
            Op::SyncDir => fs.sync_dir(Path::new("")).map(|_| Vec::new()),
        }
    })();
    result.map_err(|e| e.kind())
}

/// Names, lengths and bytes of everything visible.
fn snapshot(fs: &dyn Fs) -> Vec<(String, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    for dir in ["", "d"] {
        let Ok(names) = fs.list(Path::new(dir)) else {
            continue;
        };
        for name in names {
            let path = Path::new(dir).join(&name);
            let bytes = fs.open(&path).ok().map(|f| {
                let mut buf = vec![0; f.len().unwrap() as usize];
                f.read_exact_at(0, &mut buf).unwrap();
                buf
            });
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::util::seeds(64) as u32))]

    #[test]
    fn sim_and_std_show_the_same_after_every_step(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let real = StdFs::new(dir.path()).unwrap();
        let sim = SimFs::new();
        for (i, op) in ops.iter().enumerate() {
            let want = apply(&real, op);
            let got = apply(&sim, op);
            prop_assert_eq!(&got, &want, "step {} {:?}", i, op);
            prop_assert_eq!(snapshot(&sim), snapshot(&real), "after step {} {:?}", i, op);
        }
    }
}
