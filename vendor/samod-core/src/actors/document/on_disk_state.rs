use std::collections::{BTreeSet, HashMap, HashSet};

use automerge::Automerge;

use crate::{
    DocumentId, StorageKey,
    actors::document::DocActorResult,
    io::{IoTaskId, StorageResult},
};

mod compaction_hash;
pub use compaction_hash::CompactionHash;

#[derive(Debug)]
pub(super) struct OnDiskState {
    last_saved_heads: Option<Vec<automerge::ChangeHash>>,
    on_disk: HashSet<StorageKey>,
    compaction: Option<Compaction>,
    deletions: HashSet<StorageKey>,
    /// Each running put's key and number, numbered in the order they were
    /// issued (PATCHES.md, 8).
    running_puts: HashMap<IoTaskId, (StorageKey, u64)>,
    running_deletes: HashMap<IoTaskId, StorageKey>,
    /// The numbers of the puts still running.
    running_numbers: BTreeSet<u64>,
    /// How many puts have been issued.
    puts_issued: u64,
    /// The size of the newest snapshot (PATCHES.md, 11).
    snapshot_bytes: usize,
    /// Incremental chunks written or loaded since that snapshot.
    incremental_bytes: usize,
    incremental_count: usize,
}

/// Incremental chunks allowed before compaction is considered; samod 0.16
/// compacted whenever there were more than this.
const MAX_INCREMENTALS: usize = 10;

/// Compaction waits until the incremental chunks add up to this fraction of
/// the snapshot's size (PATCHES.md, 11).
const COMPACT_AT_FRACTION: usize = 4;

#[derive(Debug)]
struct Compaction {
    task: IoTaskId,
    supercedes: HashSet<StorageKey>,
}

impl OnDiskState {
    pub(super) fn new() -> Self {
        Self {
            last_saved_heads: None,
            on_disk: HashSet::new(),
            compaction: None,
            deletions: HashSet::new(),
            running_deletes: HashMap::new(),
            running_puts: HashMap::new(),
            running_numbers: BTreeSet::new(),
            puts_issued: 0,
            snapshot_bytes: 0,
            incremental_bytes: 0,
            incremental_count: 0,
        }
    }

    /// Add keys that we know are now on disk
    pub(super) fn add_keys<I: Iterator<Item = StorageKey>>(&mut self, contents: I) {
        self.on_disk.extend(contents);
    }

    /// About what the document takes in storage: its newest snapshot and
    /// the incremental changes written or loaded since (PATCHES.md, 15).
    pub(super) fn stored_bytes(&self) -> usize {
        self.snapshot_bytes + self.incremental_bytes
    }

    /// What a load found on disk: it need not be saved again, and its
    /// sizes decide the next compaction (PATCHES.md, 11).
    pub(super) fn loaded(
        &mut self,
        heads: Vec<automerge::ChangeHash>,
        snapshots: impl Iterator<Item = usize>,
        incrementals: impl Iterator<Item = usize>,
    ) {
        self.last_saved_heads = Some(heads);
        self.snapshot_bytes = snapshots.sum();
        for bytes in incrementals {
            self.incremental_bytes += bytes;
            self.incremental_count += 1;
        }
    }

    pub(super) fn save_new_changes(
        &mut self,
        out: &mut DocActorResult,
        doc_id: &DocumentId,
        doc: &Automerge,
    ) {
        let new_changes = doc.get_changes(self.last_saved_heads.as_ref().unwrap_or(&Vec::new()));

        // A snapshot rewrites the whole document: compacting after a fixed
        // number of changes, as samod 0.16 does, costs O(size) per few
        // changes and grows quadratically with a document's history. Waiting
        // until the incremental chunks are a fraction of the snapshot keeps
        // the bytes written per change constant (PATCHES.md, 11).
        let new_bytes: usize = new_changes.iter().map(|c| c.raw_bytes().len()).sum();
        let incremental_count = self.incremental_count + new_changes.len();
        let incremental_bytes = self.incremental_bytes + new_bytes;
        let eligible_for_compaction = incremental_count > MAX_INCREMENTALS
            && incremental_bytes.saturating_mul(COMPACT_AT_FRACTION) >= self.snapshot_bytes;
        if self.compaction.is_none() && eligible_for_compaction {
            tracing::debug!(
                num_changes = new_changes.len(),
                num_on_disk = self.on_disk.len(),
                "compacting changes"
            );
            let hash = CompactionHash::new(&doc.get_heads());
            let key = StorageKey::snapshot_path(doc_id, &hash);
            let snapshot = doc.save();
            self.snapshot_bytes = snapshot.len();
            self.incremental_bytes = 0;
            self.incremental_count = 0;
            let put_id = out.put(key.clone(), snapshot);
            let mut supercedes = self.on_disk.clone();
            // Make sure that we don't delete the compaction we're producing
            // somehow One way this can happen is if a previous process got
            // killed after writing the compacted chunk but before deleting the
            // incremental changes.
            supercedes.remove(&key);
            self.compaction = Some(Compaction {
                task: put_id,
                supercedes,
            });
            self.start_put(put_id, key);
        } else {
            for change in new_changes {
                let key = StorageKey::incremental_path(doc_id, change.hash());
                let put_id = out.put(key.clone(), change.raw_bytes().to_vec());
                self.incremental_bytes += change.raw_bytes().len();
                self.incremental_count += 1;
                self.start_put(put_id, key);
            }
        }

        for deletion in self.deletions.drain() {
            let delete_id = out.delete(deletion.clone());
            self.running_deletes.insert(delete_id, deletion);
        }

        self.last_saved_heads = Some(doc.get_heads());
    }

    fn start_put(&mut self, put_id: IoTaskId, key: StorageKey) {
        self.puts_issued += 1;
        self.running_puts.insert(put_id, (key, self.puts_issued));
        self.running_numbers.insert(self.puts_issued);
    }

    /// How many puts have been issued so far: everything in the document
    /// now is on disk once `saved_through()` reaches this number.
    pub(super) fn puts_issued(&self) -> u64 {
        self.puts_issued
    }

    /// Every put up to this number has completed.
    pub(super) fn saved_through(&self) -> u64 {
        match self.running_numbers.first() {
            Some(first) => first - 1,
            None => self.puts_issued,
        }
    }

    /// No put or delete is running (PATCHES.md, 14).
    pub(super) fn is_idle(&self) -> bool {
        self.running_puts.is_empty() && self.running_deletes.is_empty()
    }

    pub(super) fn is_flushed(&self) -> bool {
        self.running_puts.is_empty()
    }

    pub(super) fn has_task(&self, task_id: IoTaskId) -> bool {
        self.running_puts.contains_key(&task_id) || self.running_deletes.contains_key(&task_id)
    }

    pub(super) fn task_complete(&mut self, task_id: IoTaskId, result: StorageResult) {
        match result {
            StorageResult::Put => {
                if let Some((compaction_key, number)) = self.running_puts.remove(&task_id) {
                    self.running_numbers.remove(&number);
                    tracing::debug!(key=%compaction_key, "compaction put completed for key");
                    self.mark_put_complete(task_id, compaction_key);
                } else {
                    panic!("put complete for unknown task id: {:?}", task_id);
                }
            }
            StorageResult::Delete => {
                if let Some(deletion_key) = self.running_deletes.remove(&task_id) {
                    self.mark_delete_complete(deletion_key);
                } else {
                    panic!("delete complete for unknown task id: {:?}", task_id);
                }
            }
            _ => panic!("unexpected storage result"),
        }
    }

    fn mark_put_complete(&mut self, task_id: IoTaskId, key: StorageKey) {
        if let Some(compaction) = &mut self.compaction
            && compaction.task == task_id
        {
            tracing::debug!("compacted chunk saved, deleting superceded data");
            // We're marking these as deleted before we get confirmation that they
            // are deleted. This is okay, worst case we end up with some extra data
            // on disk which gets cleared up on next boot.
            for key in &compaction.supercedes {
                self.on_disk.remove(key);
            }
            self.deletions
                .extend(std::mem::take(&mut compaction.supercedes));
            self.compaction = None;
        }
        self.on_disk.insert(key);
    }

    fn mark_delete_complete(&mut self, key: StorageKey) {
        // Probably this has already been removed in the handling of the compaction completion, but
        // we might as well be robust
        self.on_disk.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use automerge::{ROOT, transaction::Transactable};

    use super::*;

    fn change(doc: &mut Automerge, key: &str, value: impl Into<automerge::ScalarValue>) {
        doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, key, value.into()))
            .unwrap();
    }

    /// Saves and completes every put; returns whether it wrote a snapshot.
    fn save(state: &mut OnDiskState, doc_id: &DocumentId, doc: &Automerge) -> bool {
        let mut out = DocActorResult::new();
        state.save_new_changes(&mut out, doc_id, doc);
        let compacted = state.compaction.is_some();
        for task in out.io_tasks {
            if state.running_puts.contains_key(&task.task_id) {
                state.task_complete(task.task_id, StorageResult::Put);
            }
        }
        compacted
    }

    #[test]
    fn a_small_document_is_compacted_every_few_changes_as_before() {
        let doc_id = DocumentId::new(&mut rand::rng());
        let (mut state, mut doc) = (OnDiskState::new(), Automerge::new());
        let compactions: Vec<usize> = (0..40)
            .filter(|i| {
                change(&mut doc, "n", *i as i64);
                save(&mut state, &doc_id, &doc)
            })
            .collect();
        assert_eq!(compactions[0], MAX_INCREMENTALS, "{compactions:?}");
        assert!(compactions.len() >= 3, "{compactions:?}");
    }

    #[test]
    fn a_large_document_is_rewritten_only_once_its_changes_add_up() {
        let doc_id = DocumentId::new(&mut rand::rng());
        let (mut state, mut doc) = (OnDiskState::new(), Automerge::new());
        // 100 KB that do not compress.
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let blob: String = (0..100_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'a' + (seed % 26) as u8)
            })
            .collect();
        change(&mut doc, "blob", blob);
        let mut i = 0;
        while !save(&mut state, &doc_id, &doc) {
            i += 1;
            change(&mut doc, "n", i);
        }
        let snapshot = state.snapshot_bytes;
        assert!(snapshot > 50_000, "{snapshot}");
        // samod 0.16 wrote the whole document again every 11 changes.
        let mut since = 0;
        loop {
            i += 1;
            since += 1;
            change(&mut doc, "n", i);
            let before = state.incremental_bytes;
            if save(&mut state, &doc_id, &doc) {
                assert!(before * COMPACT_AT_FRACTION < snapshot);
                assert!(since > 100, "compacted after {since} small changes");
                break;
            }
            assert!(state.incremental_bytes * COMPACT_AT_FRACTION < snapshot + 1_000);
        }
    }

    #[test]
    fn what_was_loaded_is_not_saved_again() {
        let doc_id = DocumentId::new(&mut rand::rng());
        let mut doc = Automerge::new();
        for i in 0..30 {
            change(&mut doc, "n", i);
        }
        let mut state = OnDiskState::new();
        state.loaded(
            doc.get_heads(),
            [doc.save().len()].into_iter(),
            std::iter::empty(),
        );
        let mut out = DocActorResult::new();
        state.save_new_changes(&mut out, &doc_id, &doc);
        assert!(out.io_tasks.is_empty(), "{} writes", out.io_tasks.len());
    }
}
