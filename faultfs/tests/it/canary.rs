//! The canary: a careless writer that never syncs must lose data under Strict. If this test
//! ever stops seeing the loss, the simulator has stopped simulating crashes and every other
//! crash test in the workspace proves nothing.

use std::path::Path;

use faultfs::{CrashPolicy, Fs, SimFs};

use crate::util::{content, durable_file};

fn careless_writer(fs: &SimFs) {
    let file = fs.create(Path::new("journal")).unwrap();
    for i in 0..10u64 {
        file.write_at(i * 4, b"rec;").unwrap();
    }
    // No sync of the file, no sync of the directory.
}

#[test]
fn careless_writer_loses_its_data_under_strict() {
    let fs = SimFs::new();
    careless_writer(&fs);
    assert_eq!(content(&fs, "journal").unwrap().len(), 40);
    fs.reboot(CrashPolicy::Strict, 0);
    assert_eq!(
        content(&fs, "journal"),
        None,
        "the careless writer's file survived"
    );
}

#[test]
fn careless_append_to_a_durable_file_loses_the_appends() {
    let fs = SimFs::new();
    durable_file(&fs, "journal", b"");
    let file = fs.open(Path::new("journal")).unwrap();
    file.write_at(0, b"unsynced").unwrap();
    fs.reboot(CrashPolicy::Strict, 0);
    assert_eq!(content(&fs, "journal").unwrap(), b"");
}
