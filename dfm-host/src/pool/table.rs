//! The pool's tasks by id.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes the pool's own ids: sequential numbers, never chosen by a
/// client, so a multiply spreads them well enough and SipHash's defence
/// against chosen keys buys nothing (it cost a tenth of the pool's time).
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Values by id, for ids handed out in increasing order and mostly
/// removed in about the order they came (a pool's tasks).
///
/// Values live in a deque at `id - first`. A pool dispatches its queue in
/// order, so its lookups walk memory in order too, which the CPU's
/// prefetcher follows; a hash table would scatter each one, and a long
/// queue would turn each into a cache miss. Holes left by removed values
/// are dropped from the front. A value that stays while many after it
/// come and go (a long task) would keep them all: once the holes far
/// outnumber the values, the oldest values move to a map, `older`.
pub(super) struct Table<T> {
    first: u64,
    recent: VecDeque<Option<T>>,
    /// Values in `recent`.
    in_recent: usize,
    /// Values moved out of `recent`; all their ids are below `first`.
    older: HashMap<u64, T, BuildHasherDefault<IdHasher>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            first: 0,
            recent: VecDeque::new(),
            in_recent: 0,
            older: HashMap::default(),
        }
    }
}

/// Holes allowed in `recent` beyond three per value, before values move
/// to `older`.
const SLACK: usize = 1024;

impl<T> Table<T> {
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.in_recent == 0 && self.older.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.in_recent + self.older.len()
    }

    pub fn get(&self, id: &u64) -> Option<&T> {
        match id.checked_sub(self.first) {
            Some(i) => self.recent.get(usize::try_from(i).ok()?)?.as_ref(),
            None => self.older.get(id),
        }
    }

    pub fn get_mut(&mut self, id: &u64) -> Option<&mut T> {
        match id.checked_sub(self.first) {
            Some(i) => self.recent.get_mut(usize::try_from(i).ok()?)?.as_mut(),
            None => self.older.get_mut(id),
        }
    }

    /// Adds `value` under `id`, which must be above every id added so far
    /// (a smaller one goes to `older`).
    pub fn insert(&mut self, id: u64, value: T) {
        if self.recent.is_empty() {
            self.first = id;
        }
        let Some(i) = id
            .checked_sub(self.first)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i >= self.recent.len())
        else {
            self.older.insert(id, value);
            return;
        };
        while self.recent.len() < i {
            self.recent.push_back(None);
        }
        self.recent.push_back(Some(value));
        self.in_recent += 1;
    }

    pub fn remove(&mut self, id: &u64) -> Option<T> {
        let Some(i) = id.checked_sub(self.first) else {
            return self.older.remove(id);
        };
        let value = self.recent.get_mut(usize::try_from(i).ok()?)?.take()?;
        self.in_recent -= 1;
        self.trim();
        Some(value)
    }

    /// Drops the holes at the front, and moves the oldest values to
    /// `older` while holes far outnumber values. Each value moves at most
    /// once, each hole is dropped once: amortised O(1) per call.
    fn trim(&mut self) {
        loop {
            match self.recent.front() {
                Some(None) => {}
                Some(Some(_)) if self.recent.len() > 4 * self.in_recent + SLACK => {
                    if let Some(Some(value)) = self.recent.pop_front() {
                        self.older.insert(self.first, value);
                        self.in_recent -= 1;
                    }
                    self.first += 1;
                    continue;
                }
                _ => return,
            }
            self.recent.pop_front();
            self.first += 1;
        }
    }

    /// Every value with its id, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        let first = self.first;
        self.recent
            .iter()
            .zip(first..)
            .filter_map(|(value, id)| Some((id, value.as_ref()?)))
            .chain(self.older.iter().map(|(id, value)| (*id, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn sequential_ids_spread_over_a_hash_tables_buckets() {
        use std::collections::BTreeSet;
        use std::hash::BuildHasher;
        let build = BuildHasherDefault::<IdHasher>::default();
        let hashes: Vec<u64> = (1..=4096u64).map(|id| build.hash_one(id)).collect();
        // hashbrown picks a bucket from the low bits and a tag from the
        // top 7: both must vary with the id.
        let buckets: BTreeSet<u64> = hashes.iter().map(|h| h & 4095).collect();
        assert_eq!(buckets.len(), 4096, "ids share buckets");
        let tags: BTreeSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert_eq!(tags.len(), 128, "ids share tags");
    }

    /// Checks `table` holds exactly what `model` does.
    fn same(table: &Table<u64>, model: &BTreeMap<u64, u64>) {
        assert_eq!(table.len(), model.len());
        assert_eq!(table.is_empty(), model.is_empty());
        for (id, value) in model {
            assert_eq!(table.get(id), Some(value), "id {id}");
        }
        let mut listed: Vec<(u64, u64)> = table.iter().map(|(id, v)| (id, *v)).collect();
        listed.sort_unstable();
        let expected: Vec<(u64, u64)> = model.iter().map(|(id, v)| (*id, *v)).collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn values_come_back_by_id_whatever_the_order_of_removal() {
        let mut table = Table::default();
        let mut model = BTreeMap::new();
        // Ids with gaps (the pool shares its counter with slots), removed
        // out of order, some never.
        for id in (5..2000u64).step_by(3) {
            table.insert(id, id * 10);
            model.insert(id, id * 10);
        }
        for id in (5..2000u64).step_by(3).filter(|id| id % 7 != 0) {
            assert_eq!(table.remove(&id), model.remove(&id));
        }
        same(&table, &model);
        assert_eq!(table.remove(&1), None);
        assert_eq!(table.remove(&5000), None);
        assert_eq!(table.get(&u64::MAX), None);
        if let Some(v) = table.get_mut(&7) {
            *v = 1;
            model.insert(7, 1);
        }
        same(&table, &model);
        for id in model.keys().copied().collect::<Vec<_>>() {
            assert_eq!(table.remove(&id), model.remove(&id));
        }
        same(&table, &model);
        // Empty again: the next ids start a fresh deque.
        table.insert(9000, 1);
        model.insert(9000, 1);
        same(&table, &model);
    }

    #[test]
    fn a_value_that_stays_does_not_keep_the_holes_behind_it() {
        let mut table = Table::default();
        table.insert(1, 1);
        // A million come and go, eight at a time, while the first stays.
        const N: u64 = 1_000_000;
        for id in 2..N {
            table.insert(id, id);
            if id >= 10 {
                assert_eq!(table.remove(&(id - 8)), Some(id - 8));
            }
            assert!(
                table.recent.len() <= 4 * table.in_recent + SLACK + 1,
                "{} places for {} values",
                table.recent.len(),
                table.in_recent
            );
        }
        let mut model = BTreeMap::from([(1, 1)]);
        model.extend((N - 8..N).map(|id| (id, id)));
        same(&table, &model);
        assert_eq!(table.remove(&1), Some(1));
        model.remove(&1);
        same(&table, &model);
    }
}
