//! [`DiskImage`]: a frozen post-crash disk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use xxhash_rust::xxh3::xxh3_64;

/// A frozen post-crash disk: what a reboot would bring back. Cheap to hash and compare.
///
/// File bytes are shared (`Arc`) with the simulator and with other images, so building an image
/// copies only the files a crash changed.
/// Cloning an image is O(1): the contents sit behind one `Arc`.
#[derive(Clone, Debug)]
pub struct DiskImage {
    inner: Arc<Inner>,
}

#[derive(Clone, Debug)]
struct Inner {
    /// Every file, sorted by path (in `Path` order), each path once. A sorted vector rather
    /// than a map: a crash image is built in path order already (see [`Sorted`]), and
    /// inserting into a map would compare paths component by component all over again.
    files: Vec<(PathBuf, Arc<Vec<u8>>)>,
    /// Every directory but the root, so empty directories survive a round trip; sorted, each once.
    dirs: Vec<PathBuf>,
    hash: OnceLock<u64>,
}

/// Paths and files listed in `Path` order, each path once, as [`DiskImage::from_sorted`] takes
/// them.
pub(crate) struct Sorted {
    pub files: Vec<(PathBuf, Arc<Vec<u8>>)>,
    pub dirs: Vec<PathBuf>,
}

impl PartialEq for DiskImage {
    fn eq(&self, other: &DiskImage) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
            || (self.inner.dirs == other.inner.dirs && self.inner.files == other.inner.files)
    }
}

impl Eq for DiskImage {}

impl DiskImage {
    fn new(files: BTreeMap<PathBuf, Arc<Vec<u8>>>, dirs: BTreeSet<PathBuf>) -> DiskImage {
        DiskImage::from_sorted(Sorted {
            files: files.into_iter().collect(),
            dirs: dirs.into_iter().collect(),
        })
    }

    /// An image of lists already in `Path` order with no path twice (the caller keeps that
    /// promise; nothing here sorts or checks).
    pub(crate) fn from_sorted(sorted: Sorted) -> DiskImage {
        debug_assert!(sorted.files.is_sorted_by(|a, b| a.0 < b.0));
        debug_assert!(sorted.dirs.is_sorted_by(|a, b| a < b));
        DiskImage {
            inner: Arc::new(Inner {
                files: sorted.files,
                dirs: sorted.dirs,
                hash: OnceLock::new(),
            }),
        }
    }

    /// An image holding the given files (and their parent directories), for tests and scenarios.
    pub fn from_files<P: AsRef<Path>>(files: impl IntoIterator<Item = (P, Vec<u8>)>) -> DiskImage {
        let mut map = BTreeMap::new();
        let mut dirs = BTreeSet::new();
        for (path, bytes) in files {
            let path = path.as_ref().to_path_buf();
            let mut parent = path.parent();
            while let Some(p) = parent {
                if !p.as_os_str().is_empty() {
                    dirs.insert(p.to_path_buf());
                }
                parent = p.parent();
            }
            map.insert(path, Arc::new(bytes));
        }
        DiskImage::new(map, dirs)
    }

    /// A digest of the image's names and bytes; equal images have equal hashes.
    pub fn content_hash(&self) -> u64 {
        self.content_hash_with(|bytes| xxh3_64(bytes))
    }

    /// [`DiskImage::content_hash`], taking each file's digest (`xxh3_64` of its bytes) from
    /// `file_hash`, which may remember the digests of buffers shared by many images (the
    /// enumeration of one crash point builds thousands of images that share most files).
    pub(crate) fn content_hash_with(&self, mut file_hash: impl FnMut(&Arc<Vec<u8>>) -> u64) -> u64 {
        let inner = &*self.inner;
        *inner.hash.get_or_init(|| {
            // The stream is laid out in one buffer and hashed at once: xxh3 gives the same
            // digest however its input is cut, and one call costs far less than the several
            // per file that streaming it took.
            let mut b = Vec::with_capacity(
                inner.dirs.len() * 32 + inner.files.len() * 48 + HASH_STREAM_SLACK,
            );
            for dir in &inner.dirs {
                b.push(b'D');
                put_path(&mut b, dir);
            }
            for (path, bytes) in &inner.files {
                b.push(b'F');
                put_path(&mut b, path);
                b.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                b.extend_from_slice(&file_hash(bytes).to_le_bytes());
            }
            xxh3_64(&b)
        })
    }

    /// The files in the image, path -> bytes, sorted by path.
    pub fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        self.inner
            .files
            .iter()
            .map(|(p, b)| (p.clone(), b.as_ref().clone()))
            .collect()
    }

    /// The bytes of one file, without copying them.
    pub fn file(&self, path: impl AsRef<Path>) -> Option<&[u8]> {
        let files = &self.inner.files;
        let i = files
            .binary_search_by(|(p, _)| p.as_path().cmp(path.as_ref()))
            .ok()?;
        Some(files[i].1.as_slice())
    }

    /// The paths of the files, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.inner.files.iter().map(|(p, _)| p.as_path())
    }

    /// The directories (the root excluded), sorted.
    pub fn dir_paths(&self) -> impl Iterator<Item = &Path> {
        self.inner.dirs.iter().map(PathBuf::as_path)
    }

    /// Total bytes of all files.
    pub fn total_bytes(&self) -> u64 {
        self.inner.files.iter().map(|(_, b)| b.len() as u64).sum()
    }

    pub(crate) fn file_bytes(&self) -> impl Iterator<Item = (&Path, &Arc<Vec<u8>>)> {
        self.inner.files.iter().map(|(p, b)| (p.as_path(), b))
    }

    pub(crate) fn file_bytes_mut(&mut self) -> impl Iterator<Item = (&Path, &mut Arc<Vec<u8>>)> {
        let inner = Arc::make_mut(&mut self.inner);
        inner.hash = OnceLock::new();
        inner.files.iter_mut().map(|(p, b)| (p.as_path(), b))
    }
}

/// Room for the path bytes beyond the per-entry estimate of a content hash's stream.
const HASH_STREAM_SLACK: usize = 64;

/// A path in a content hash's stream: its length, then its text.
fn put_path(b: &mut Vec<u8>, path: &Path) {
    let s = path.to_string_lossy();
    b.extend_from_slice(&(s.len() as u64).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::Xxh3;

    /// The content hash as it was first written: streamed piece by piece.
    fn streamed(image: &DiskImage) -> u64 {
        let mut h = Xxh3::new();
        let path = |h: &mut Xxh3, path: &Path| {
            let s = path.to_string_lossy();
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        for dir in image.dir_paths() {
            h.update(b"D");
            path(&mut h, dir);
        }
        for (p, bytes) in image.file_bytes() {
            h.update(b"F");
            path(&mut h, p);
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(&xxh3_64(bytes).to_le_bytes());
        }
        h.digest()
    }

    #[test]
    fn the_content_hash_is_the_streamed_digest() {
        let long_name = "n".repeat(300);
        let many: Vec<(String, Vec<u8>)> = (0..40)
            .map(|i| (format!("d{}/f{i}", i % 3), vec![i as u8; i * 7]))
            .collect();
        let images = [
            DiskImage::from_files(Vec::<(&str, Vec<u8>)>::new()),
            DiskImage::from_files([("a", b"x".to_vec())]),
            DiskImage::from_files([
                ("a/b/c", vec![1; 5000]),
                (long_name.as_str(), Vec::new()),
                ("é", b"y".to_vec()),
            ]),
            DiskImage::from_files(many),
        ];
        for image in &images {
            assert_eq!(image.content_hash(), streamed(image));
        }
    }
}
