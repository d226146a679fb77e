/* Messages to the user without stdio or malloc.
 *
 * Everything here formats into a caller-supplied buffer and writes with
 * write(2), so it is safe on the allocator's slow paths, in constructors
 * that run before libc is ready, and in a child between fork and exec. */
#ifndef FSMEM_UTIL_MSG_H
#define FSMEM_UTIL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A bounded line being built; overflow truncates silently. */
struct msgbuf {
    char buf[512];
    size_t len;
};

void msg_init(struct msgbuf *m);
void msg_str(struct msgbuf *m, const char *s);
void msg_u64(struct msgbuf *m, uint64_t v);
void msg_hex(struct msgbuf *m, uintptr_t v);
/* Bytes as a short human figure: 512, 3.5K, 12.0M, 1.0G, 2.0T (binary units). */
void msg_bytes(struct msgbuf *m, uint64_t v);
/* Short text for an errno value, or NULL if unknown (own table: strerror
 * may allocate). msg_errno appends the text, or "error N". */
const char *msg_errno_text(int err);
void msg_errno(struct msgbuf *m, int err);
/* Writes the line (adding "\n") to fd; retries on EINTR, ignores errors. */
void msg_write(int fd, struct msgbuf *m);

/* Whether this process should print notices: warnings about the setup
 * that every process of a job would repeat (a directory on tmpfs, a heap
 * cut down by ulimit). FSMEM_WARN_PID, which the launcher sets to the pid
 * of the program it starts, leaves them to that process alone; unset,
 * every process prints them. Errors are always printed. */
bool msg_notice_here(void);

/* One-line diagnostics on stderr, each prefixed "fsmem: ". */
void msg_warn(const char *a, const char *b, const char *c);
/* Heap misuse: "fsmem: <what> <address>" then abort(), so a core is possible. */
_Noreturn void msg_fatal_ptr(const char *what, const void *p);
/* Unrecoverable internal or setup error: message, then _exit(status). */
_Noreturn void msg_die(int status, const char *a, const char *b, const char *c);

#endif
