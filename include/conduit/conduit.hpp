// conduit: every public header. Include this, or the one header of the concept you use.
#pragma once

#include "conduit/core/error.hpp"
#include "conduit/core/name.hpp"
#include "conduit/core/namespace.hpp"
#include "conduit/core/process.hpp"
#include "conduit/msg/message.hpp"
#include "conduit/shm/offset_ptr.hpp"
#include "conduit/shm/segment.hpp"
#include "conduit/shm/segment_layout.hpp"
#include "conduit/shm/shared.hpp"
#include "conduit/shm/shared_memory.hpp"
#include "conduit/sys/clock.hpp"
#include "conduit/sys/fd.hpp"
#include "conduit/sys/file.hpp"
#include "conduit/sys/futex.hpp"
#include "conduit/sys/mapping.hpp"
#include "conduit/sys/syscall.hpp"
