//! Giving freed memory back to the system.
//!
//! glibc's allocator returns memory only from the top of its heaps: pages freed in the
//! middle (the tasks of connections that went idle and were parked, in between the ones
//! still alive) stay in the process's RSS until `malloc_trim`, which releases every free
//! page of every arena. HAProxy calls it for the same reason when it flushes its pools.

/// Releases the allocator's free pages to the system (glibc; nothing elsewhere). Costs a
/// walk of the heap: called at most once a second, after many connections were parked.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // a C function of glibc
pub fn trim() {
    // SAFETY: malloc_trim takes a size and touches only the allocator's own state, under
    // the allocator's locks; it has no precondition on the caller.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Releases the allocator's free pages to the system (glibc; nothing elsewhere).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() {}
