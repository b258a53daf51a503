/* SPDX-License-Identifier: MIT */
/* The per-service policy: an INI-style file of [sections] and key = value
 * lines. The parser is pure (it reads a buffer), strict (unknown sections
 * and keys are errors) and transactional (a bad file changes nothing). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "strlist.h"
#include "units.h"

enum forward_target {
    FORWARD_CHILD, /* kill(child, sig), as tini does by default */
    FORWARD_GROUP, /* kill(-child_pgid, sig), as tini -g does */
};

/* What a process started by crashbox gets from crashbox's own environment. */
struct env_rules {
    struct strlist keep;  /* name patterns that pass; empty list: none */
    struct strlist unset; /* name patterns removed even when kept */
    struct strlist set;   /* NAME=VALUE, added or replacing */
};

#define POLICY_UNSET (UINT64_MAX - 1) /* an rlimit left as inherited */

enum restart_mode { RESTART_NEVER, RESTART_ON_CRASH, RESTART_ALWAYS };

struct policy {
    /* [service] */
    char *service_name; /* owned; NULL: the command's basename */
    /* [bundle] */
    char *bundle_dir;      /* owned; NULL: no bundles */
    char *fallback_dir;    /* owned; NULL: none */
    uint64_t bundle_mode;  /* file mode of bundles, 0640 */
    char *bundle_group;    /* owned: group name or number for bundles, NULL: ours */
    uint64_t bundle_max_size; /* cap on the sum of a bundle's members */
    /* [retention] */
    uint64_t max_bundles;       /* per service */
    uint64_t max_total_bundles; /* the whole directory */
    uint64_t max_total_size;
    uint64_t keep_free;         /* bytes left free on the filesystem */
    uint64_t max_age_ms;
    uint64_t rate_limit_burst;  /* full bundles per service and fingerprint per window */
    uint64_t rate_limit_window_ms;
    /* [signals] */
    enum forward_target forward_to;
    uint64_t grace_period_ms;     /* SIGTERM/SIGINT -> SIGKILL of the group */
    uint64_t descendant_grace_ms; /* orphans left by the child: TERM -> KILL */
    /* [stderr] */
    uint64_t tail_size;        /* bytes of stderr kept at the end of a crash report */
    uint64_t log_tail_size;    /* bytes of ordinary logs kept (at most tail_size) */
    uint64_t report_head_size; /* bytes kept from a crash report's start */
    uint64_t drain_timeout_ms; /* how long to relay after the child is gone */
    bool keep_reading_without_reader; /* reader_gone = keep: the service never sees EPIPE */
    /* [restart] */
    enum restart_mode restart_mode;
    uint64_t restart_min_delay_ms;
    uint64_t restart_max_delay_ms;
    uint64_t restart_burst;     /* at most this many restarts... */
    uint64_t restart_window_ms; /* ...within this window */
    /* [sandbox] */
    char *sandbox_user;   /* owned: name or uid; NULL: keep */
    char *sandbox_group;  /* owned: name or gid; NULL: the user's */
    bool set_supplementary_groups; /* the key was given ("none" clears) */
    struct strlist supplementary_groups;
    bool set_capabilities;         /* the key was given ("none" drops all) */
    struct intlist capabilities;   /* kept (numbers): bounding, permitted, effective, inheritable */
    struct intlist ambient_capabilities;
    bool no_new_privs;
    uint64_t rlimit_core, rlimit_nofile, rlimit_nproc, rlimit_as; /* POLICY_UNSET: keep */
    struct strlist seccomp_deny;   /* syscall names */
    bool seccomp_deny_kill;        /* kill the process instead of EPERM */
    bool self_sandbox;             /* crashbox confines itself once the service runs */
    /* [memory] */
    struct intlist watermarks;     /* percents of the limit, 1 to 99, at most 8 */
    uint64_t watermark_hysteresis; /* percent below a watermark that re-arms it */
    uint64_t watermark_interval_ms; /* at most one snapshot per watermark per interval */
    bool keep_memory_high;         /* keep dropped snapshots as memory-high bundles */
    bool memory_poll;              /* poll usage where no threshold can be registered */
    /* [hooks] */
    struct strlist on_crash;  /* command run after a bundle is written */
    uint64_t hook_timeout_ms;
    /* [ship] */
    char *ship_to;          /* owned; s3://BUCKET[/PREFIX], NULL: off */
    char *ship_endpoint;    /* owned; NULL: the environment's */
    bool ship_delete_after; /* delete a bundle once the store has it */
    /* [kubernetes] */
    char *termination_log;  /* owned; NULL: off */
    /* [metrics] */
    char *metrics_textfile; /* owned; NULL: off */
    /* [capture] */
    bool exit_hook;               /* snapshot at exit_group via seccomp notify */
    bool go_shim;                 /* give the service the shim's crash and control fds */
    struct intlist crash_signals; /* signal numbers of HUP INT PIPE TERM: deaths by these that are crashes */
    uint64_t snapshot_budget_ms;  /* the longest a dying service is held */
    struct intlist normal_exit_codes; /* exits that are not crashes, 0 to 255 */
    struct strlist redact;        /* more secret-name patterns for environ */
    /* [core] */
    bool core_dump;               /* write an ELF core of a crash into the bundle */
    uint64_t core_max_size;       /* of the uncompressed core */
    uint64_t core_budget_ms;      /* the longest the service is held for its core */
    bool core_include_exe;        /* the executable goes in too (and its text stays out) */
    /* [environment], [watcher_environment] */
    struct env_rules env;
    struct env_rules watcher_env;
};

/* True when an exit with this code is a normal end, not a crash. */
bool policy_is_normal_exit(const struct policy *p, int code);
/* The signals that only end a process (HUP, INT, PIPE, TERM): a death by
 * one is a stop unless the policy lists it in crash_signals. */
bool signal_only_ends(int sig);
/* True when a death by sig counts as a crash under this policy. */
bool policy_is_crash_signal(const struct policy *p, int sig);

/* Fills p with the built-in defaults. Returns 0 or -ENOMEM. */
int policy_init_defaults(struct policy *p);
void policy_free(struct policy *p);

/* Parses buf (len bytes, need not be NUL-terminated) named file in
 * diagnostics. On success replaces *p and returns 0; otherwise leaves *p
 * untouched, adds every error to d and returns -EINVAL (or -ENOMEM). */
int policy_parse(const char *file, const char *buf, size_t len, struct policy *p,
                 struct diags *d);

/* Reads and parses a policy file (at most POLICY_MAX_BYTES). */
#define POLICY_MAX_BYTES (1024 * 1024)
int policy_load(const char *path, struct policy *p, struct diags *d);

/* Writes the normalized policy: every key, canonical units, in table order.
 * policy_parse() of the output gives the same policy. */
void policy_dump(const struct policy *p, FILE *f);
