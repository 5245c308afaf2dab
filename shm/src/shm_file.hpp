// The files of the shared-memory objects in /dev/shm (rings and the objects beside them), as this
// library names, compares and removes them. Private to shm/.
#pragma once

#include <string>

namespace shmio::shm::detail {

// The file of the shared-memory object `obj` (an object name, not a ring's name).
std::string shm_path(const std::string& obj);
// Whether the name `obj` no longer names the object open on `fd`: removed, or made anew under it
// (false if `fd` cannot be looked at).
bool name_moved(const std::string& obj, int fd) noexcept;
// Removes the object `obj` if it is still the one open on `fd`, never one that replaced it under
// the same name. (A replacement between the check and the unlink is still possible: the window
// is two system calls; callers that must close it hold a lock every remover takes.)
void remove_if_same(const std::string& obj, int fd) noexcept;

}  // namespace shmio::shm::detail
