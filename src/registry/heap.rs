//! How many heap bytes an answer holds, for the cache's bound in bytes
//! (`cache_max_bytes`, see [`crate::resilience::cache`]).
//!
//! Counted honestly rather than exactly: each allocation's capacity plus the allocator's own
//! header and rounding ([`ALLOCATION_OVERHEAD`], glibc malloc's 16 bytes on 64-bit). The
//! value's inline size is counted by whoever holds it.

use std::sync::Arc;

use chrono::NaiveDate;

/// The allocator's bookkeeping per allocation (glibc malloc: an 8-byte header, 16-byte
/// alignment, so 16 bytes on average).
pub const ALLOCATION_OVERHEAD: usize = 16;

/// The heap bytes a value owns beyond its inline size.
pub trait HeapSize {
    fn heap_size(&self) -> usize;
}

/// One allocation of `bytes` (none for zero bytes).
pub fn allocation(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        bytes + ALLOCATION_OVERHEAD
    }
}

impl HeapSize for String {
    fn heap_size(&self) -> usize {
        allocation(self.capacity())
    }
}

impl HeapSize for Box<str> {
    fn heap_size(&self) -> usize {
        allocation(self.len())
    }
}

/// A shared string counts once per holder: in the cache, strings are shared only among the
/// few values of a code table, whose cost is not per entry.
impl HeapSize for Arc<str> {
    fn heap_size(&self) -> usize {
        0
    }
}

impl<T: HeapSize> HeapSize for Option<T> {
    fn heap_size(&self) -> usize {
        self.as_ref().map_or(0, T::heap_size)
    }
}

impl<T: HeapSize> HeapSize for Vec<T> {
    fn heap_size(&self) -> usize {
        allocation(self.capacity() * size_of::<T>()) + self.iter().map(T::heap_size).sum::<usize>()
    }
}

impl<T: HeapSize> HeapSize for Box<[T]> {
    fn heap_size(&self) -> usize {
        allocation(self.len() * size_of::<T>()) + self.iter().map(T::heap_size).sum::<usize>()
    }
}

/// Types that own no heap memory.
macro_rules! inline_only {
    ($($t:ty),*) => {$(
        impl HeapSize for $t {
            fn heap_size(&self) -> usize {
                0
            }
        }
    )*};
}

inline_only!(bool, u8, u16, u32, u64, NaiveDate);
pub(crate) use inline_only;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_capacity_and_the_allocators_header() {
        assert_eq!(String::new().heap_size(), 0);
        assert_eq!(String::with_capacity(40).heap_size(), 56);
        let v: Vec<Option<String>> = vec![Some("abc".into()), None];
        assert_eq!(v.heap_size(), 2 * 24 + 16 + 3 + 16);
        assert_eq!(Box::<str>::from("").heap_size(), 0);
    }
}
