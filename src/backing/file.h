/* Backing files: private, nameless, sparse.
 *
 * A backing file is created with O_TMPFILE, so it never has a name in the
 * directory: no other user can open it, nothing planted in the directory
 * can redirect it, and it disappears with the last reference even after
 * SIGKILL. Where the filesystem lacks O_TMPFILE it is created 0600 with an
 * unpredictable name, O_EXCL|O_NOFOLLOW, and unlinked at once. */
#ifndef FSMEM_BACKING_FILE_H
#define FSMEM_BACKING_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Returns an fd sized to len bytes (sparse), or -errno. */
int file_create(const char *dir, uint64_t len);

/* Reserves disk blocks for [off, off+len): 0 or an errno value. */
int file_reserve(int fd, uint64_t off, uint64_t len);

/* Gives [off, off+len) back to the filesystem; it then reads as zero.
 * 0 or an errno value. */
int file_punch(int fd, uint64_t off, uint64_t len);

/* Makes [off, off+len) read as zero and keeps its disk blocks reserved
 * (the kernel drops the cached pages). 0 or an errno value. */
int file_zero(int fd, uint64_t off, uint64_t len);

/* Disk bytes the file holds now. */
uint64_t file_disk_bytes(int fd);

#endif
