// The shmio shared-memory broadcast ring: everything a user includes.
#pragma once

#include "shmio/shm/layout.hpp"           // IWYU pragma: export
#include "shmio/shm/process.hpp"          // IWYU pragma: export
#include "shmio/shm/registry.hpp"         // IWYU pragma: export
#include "shmio/shm/result.hpp"           // IWYU pragma: export
#include "shmio/shm/ring_core.hpp"        // IWYU pragma: export
#include "shmio/shm/ring_notifier.hpp"    // IWYU pragma: export
#include "shmio/shm/ring_reader.hpp"      // IWYU pragma: export
#include "shmio/shm/ring_set_reader.hpp"  // IWYU pragma: export
#include "shmio/shm/ring_writer.hpp"      // IWYU pragma: export
#include "shmio/shm/segment.hpp"          // IWYU pragma: export
