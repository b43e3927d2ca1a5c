// membarrier(2), the global expedited form: one process makes every running thread of every
// registered process execute a full memory barrier. It lets a fast path that runs millions of
// times drop its fence (a compiler barrier stays) while the rare side that needs the ordering
// pays for it: a sleeper that flags itself and must then see what a waker published
// (sync/wait.hpp, the asymmetric protocol).
//
// What the kernel guarantees (membarrier(2), MEMBARRIER_CMD_GLOBAL_EXPEDITED): when
// global_barrier() returns, every thread of a registered process that was running has passed
// through a full memory barrier at some point between the call's entry and its return, and
// the caller has fences at entry and at return. A thread that was not running gets the same
// from the scheduler (a context switch is a full barrier). So for the purposes of ordering,
// each such thread behaves as if it had run a seq_cst fence at a point P inside the call.
#pragma once

#include "conduit/sys/syscall.hpp"

namespace conduit::sys {

/// Whether this kernel offers MEMBARRIER_CMD_GLOBAL_EXPEDITED and its registration (asked
/// once per process; MEMBARRIER_CMD_QUERY).
[[nodiscard]] bool has_global_membarrier() noexcept;

/// Registers this process for MEMBARRIER_CMD_GLOBAL_EXPEDITED, so that global_barrier() calls
/// in any process reach its threads. Once per process (a forked child registers afresh: the
/// registration belongs to the address space, and a cached "done" from the parent does not
/// count). Errors as membarrier(2): EINVAL when the kernel lacks the command, EPERM where a
/// seccomp filter forbids it.
[[nodiscard]] SysResult<void> register_for_global_membarrier() noexcept;

/// A full memory barrier on every running thread of every registered process (see the top).
/// Costs one system call and an interrupt per CPU running such a thread (~0.5 us on a 2-CPU VM).
[[nodiscard]] SysResult<void> global_barrier() noexcept;

}  // namespace conduit::sys
