#pragma once
// The Process pipe ends that exist in this process. A child forked for one Process closes the
// others' (PRC-13): otherwise it would keep a copy of a not-yet-started sibling's child end
// alive, and that sibling's death would not be end-of-file for the parent.
#include <sys/types.h>

namespace procspec::detail {

// Remembers fd (with its inode, so a recycled fd number is never mistaken for it).
void pending_pipe_add(int fd);
void pending_pipe_remove(int fd);
// In a freshly forked child of `parent`: closes every fd the parent remembered except `keep`.
void pending_pipes_close_all_except(int keep, pid_t parent) noexcept;

}  // namespace procspec::detail
