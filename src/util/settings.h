/* FSMEM_* settings: parsed and checked in one place.
 *
 * The library reads them from the environment at start-up; the launcher
 * reads the same variables with its options taking precedence, and checks
 * them before it execs anything. Every rejected value produces exactly one
 * line on stderr, "fsmem: LABEL=VALUE: reason", where LABEL is the variable
 * (or the launcher option) that carried the value. */
#ifndef FSMEM_UTIL_SETTINGS_H
#define FSMEM_UTIL_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#define SETTINGS_MAX_DIRS 16
#define SETTINGS_PATH_MAX 4096

/* Default FSMEM_SIZE when none is given: 1 TiB of address space, sparse. */
#define SETTINGS_DEFAULT_SIZE (UINT64_C(1) << 40)
/* Smallest accepted FSMEM_SIZE (one backing chunk is 64 MiB). */
#define SETTINGS_MIN_SIZE (UINT64_C(64) << 20)

enum setting_id { SET_DIR, SET_SIZE, SET_RAM, SET_STATS, SET_PAGING, SET_COUNT };

/* Variable names, indexed by enum setting_id: "FSMEM_DIR", ... */
extern const char *const settings_var[SET_COUNT];

enum stats_mode { STATS_OFF, STATS_STDERR, STATS_FILE };

/* How a fault on a file page reads from disk (docs/DESIGN.md, "Paging"):
 * the aligned 2 MiB around it (passes over the data, the default), the
 * page alone (scattered access), or either, chosen from how the program
 * uses the blocks it reads back. */
enum paging_mode { PAGING_PASSES, PAGING_RANDOM, PAGING_AUTO };

struct settings {
    /* Backing directories, as absolute or relative paths, never empty. */
    unsigned ndirs;
    const char *dirs[SETTINGS_MAX_DIRS]; /* point into dir_storage */
    char dir_storage[SETTINGS_PATH_MAX];
    bool dir_given;         /* FSMEM_DIR was set (else the default) */

    uint64_t size;          /* FSMEM_SIZE in bytes, after the disk clamp */
    bool size_given;

    bool ram_auto;          /* FSMEM_RAM=auto (the default) */
    uint64_t ram;           /* bytes when !ram_auto */

    enum paging_mode paging;

    enum stats_mode stats;
    char stats_path[SETTINGS_PATH_MAX]; /* when stats == STATS_FILE */
};

/* Parses and checks every setting.
 *   values[i]: the text for setting i, or NULL when unset (default applies)
 *   labels[i]: the name to print in messages ("FSMEM_DIR" or "--dir");
 *              NULL means settings_var[i]
 *   warn:      print warnings (e.g. a directory on tmpfs) to stderr
 * On success fills *s and returns 0. On the first bad value prints one line
 * to stderr and returns -1. Uses no malloc and no stdio. */
int settings_parse(struct settings *s, const char *const values[SET_COUNT],
                   const char *const labels[SET_COUNT], bool warn);

/* Same, with values from the environment (getenv). */
int settings_from_env(struct settings *s, bool warn);

/* "12G" -> bytes. Accepts digits with an optional K, M, G or T suffix
 * (case-insensitive, optionally followed by "B" or "iB"); binary units.
 * Returns 0, or -1 with *why set to a short reason. */
int settings_parse_bytes(const char *text, uint64_t *out, const char **why);

#endif
