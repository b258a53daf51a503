/* SPDX-License-Identifier: MIT */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "names.h"
#include "shipconf.h"
#include "sigtable.h"
#include "util.h"

enum value_type {
    V_STRING, V_PATH, V_NAME, V_S3URL, V_URL, V_SIZE, V_DURATION, V_BOOL, V_FORWARD, V_PATTERNS, V_ASSIGNMENTS,
    V_EXIT_CODES, V_MODE, V_COUNT, V_RESTART, V_IDNAME, V_GROUPS, V_CAPS, V_SYSCALLS, V_RLIMIT,
    V_DENY_ACTION, V_READER_GONE, V_COMMAND, V_PERCENTS, V_SIGNALS,
};

struct key_def {
    const char *section;
    const char *key;
    enum value_type type;
    size_t offset;
    uint64_t min, max; /* for sizes and durations */
    size_t flag;       /* V_GROUPS, V_CAPS: offset of the "key was given" bool */
};

#define FIELD(f) offsetof(struct policy, f)

/* The declarative key table: order here is the order of the normalized dump. */
static const struct key_def keys[] = {
    {"service", "name", V_NAME, FIELD(service_name), 0, 0, 0},
    {"bundle", "directory", V_PATH, FIELD(bundle_dir), 0, 0, 0},
    {"bundle", "fallback_directory", V_PATH, FIELD(fallback_dir), 0, 0, 0},
    {"bundle", "mode", V_MODE, FIELD(bundle_mode), 0, 0777, 0},
    {"bundle", "group", V_NAME, FIELD(bundle_group), 0, 0, 0},
    {"bundle", "max_size", V_SIZE, FIELD(bundle_max_size), 64ULL << 10, 4ULL << 30, 0},
    {"retention", "max_bundles", V_COUNT, FIELD(max_bundles), 1, 1000000, 0},
    {"retention", "max_total_bundles", V_COUNT, FIELD(max_total_bundles), 1, 10000000, 0},
    {"retention", "max_total_size", V_SIZE, FIELD(max_total_size), 1ULL << 20, 1ULL << 50, 0},
    {"retention", "keep_free", V_SIZE, FIELD(keep_free), 0, 1ULL << 50, 0},
    {"retention", "max_age", V_DURATION, FIELD(max_age_ms), 60000, 3650ULL * 86400000, 0},
    {"retention", "rate_limit_burst", V_COUNT, FIELD(rate_limit_burst), 1, 1000000, 0},
    {"retention", "rate_limit_window", V_DURATION, FIELD(rate_limit_window_ms), 1000, 365ULL * 86400000, 0},
    {"signals", "forward_to", V_FORWARD, FIELD(forward_to), 0, 0, 0},
    {"signals", "grace_period", V_DURATION, FIELD(grace_period_ms), 0, 24ULL * 3600 * 1000, 0},
    {"signals", "descendant_grace", V_DURATION, FIELD(descendant_grace_ms), 0, 3600ULL * 1000, 0},
    {"stderr", "tail_size", V_SIZE, FIELD(tail_size), 64ULL << 10, 1ULL << 30, 0},
    {"stderr", "log_tail_size", V_SIZE, FIELD(log_tail_size), 4ULL << 10, 1ULL << 30, 0},
    {"stderr", "report_head_size", V_SIZE, FIELD(report_head_size), 4ULL << 10, 1ULL << 30, 0},
    {"stderr", "drain_timeout", V_DURATION, FIELD(drain_timeout_ms), 0, 3600ULL * 1000, 0},
    {"stderr", "reader_gone", V_READER_GONE, FIELD(keep_reading_without_reader), 0, 0, 0},
    {"restart", "mode", V_RESTART, FIELD(restart_mode), 0, 0, 0},
    {"restart", "min_delay", V_DURATION, FIELD(restart_min_delay_ms), 0, 3600000, 0},
    {"restart", "max_delay", V_DURATION, FIELD(restart_max_delay_ms), 0, 86400000, 0},
    {"restart", "burst", V_COUNT, FIELD(restart_burst), 1, 64, 0},
    {"restart", "window", V_DURATION, FIELD(restart_window_ms), 1000, 86400000, 0},
    {"sandbox", "user", V_IDNAME, FIELD(sandbox_user), 0, 0, 0},
    {"sandbox", "group", V_IDNAME, FIELD(sandbox_group), 0, 0, 0},
    {"sandbox", "supplementary_groups", V_GROUPS, FIELD(supplementary_groups), 0, 0,
     FIELD(set_supplementary_groups)},
    {"sandbox", "capabilities", V_CAPS, FIELD(capabilities), 0, 0, FIELD(set_capabilities)},
    {"sandbox", "ambient_capabilities", V_CAPS, FIELD(ambient_capabilities), 0, 0, 0},
    {"sandbox", "no_new_privs", V_BOOL, FIELD(no_new_privs), 0, 0, 0},
    {"sandbox", "rlimit_core", V_RLIMIT, FIELD(rlimit_core), 0, 0, 0},
    {"sandbox", "rlimit_nofile", V_RLIMIT, FIELD(rlimit_nofile), 0, 0, 0},
    {"sandbox", "rlimit_nproc", V_RLIMIT, FIELD(rlimit_nproc), 0, 0, 0},
    {"sandbox", "rlimit_as", V_RLIMIT, FIELD(rlimit_as), 0, 0, 0},
    {"sandbox", "seccomp_deny", V_SYSCALLS, FIELD(seccomp_deny), 0, 0, 0},
    {"sandbox", "seccomp_deny_action", V_DENY_ACTION, FIELD(seccomp_deny_kill), 0, 0, 0},
    {"sandbox", "self_sandbox", V_BOOL, FIELD(self_sandbox), 0, 0, 0},
    {"memory", "watermarks", V_PERCENTS, FIELD(watermarks), 0, 0, 0},
    {"memory", "hysteresis", V_COUNT, FIELD(watermark_hysteresis), 0, 50, 0},
    {"memory", "snapshot_interval", V_DURATION, FIELD(watermark_interval_ms), 0, 3600000, 0},
    {"memory", "keep_memory_high", V_BOOL, FIELD(keep_memory_high), 0, 0, 0},
    {"memory", "poll", V_BOOL, FIELD(memory_poll), 0, 0, 0},
    {"hooks", "on_crash", V_COMMAND, FIELD(on_crash), 0, 0, 0},
    {"hooks", "timeout", V_DURATION, FIELD(hook_timeout_ms), 100, 3600000, 0},
    {"ship", "to", V_S3URL, FIELD(ship_to), 0, 0, 0},
    {"ship", "endpoint", V_URL, FIELD(ship_endpoint), 0, 0, 0},
    {"ship", "delete_after", V_BOOL, FIELD(ship_delete_after), 0, 0, 0},
    {"kubernetes", "termination_log", V_PATH, FIELD(termination_log), 0, 0, 0},
    {"metrics", "textfile", V_PATH, FIELD(metrics_textfile), 0, 0, 0},
    {"capture", "exit_hook", V_BOOL, FIELD(exit_hook), 0, 0, 0},
    {"capture", "go_shim", V_BOOL, FIELD(go_shim), 0, 0, 0},
    {"capture", "crash_signals", V_SIGNALS, FIELD(crash_signals), 0, 0, 0},
    {"capture", "snapshot_budget", V_DURATION, FIELD(snapshot_budget_ms), 10, 60000, 0},
    {"capture", "normal_exit_codes", V_EXIT_CODES, FIELD(normal_exit_codes), 0, 0, 0},
    {"capture", "redact", V_PATTERNS, FIELD(redact), 0, 0, 0},
    {"core", "dump", V_BOOL, FIELD(core_dump), 0, 0, 0},
    {"core", "max_size", V_SIZE, FIELD(core_max_size), 1ULL << 20, 1ULL << 40, 0},
    {"core", "budget", V_DURATION, FIELD(core_budget_ms), 100, 3600000, 0},
    {"core", "include_executable", V_BOOL, FIELD(core_include_exe), 0, 0, 0},
    {"environment", "keep", V_PATTERNS, FIELD(env.keep), 0, 0, 0},
    {"environment", "unset", V_PATTERNS, FIELD(env.unset), 0, 0, 0},
    {"environment", "set", V_ASSIGNMENTS, FIELD(env.set), 0, 0, 0},
    {"watcher_environment", "keep", V_PATTERNS, FIELD(watcher_env.keep), 0, 0, 0},
    {"watcher_environment", "unset", V_PATTERNS, FIELD(watcher_env.unset), 0, 0, 0},
    {"watcher_environment", "set", V_ASSIGNMENTS, FIELD(watcher_env.set), 0, 0, 0},
};

static void *field_ptr(struct policy *p, const struct key_def *k) { return (char *)p + k->offset; }
static const void *field_cptr(const struct policy *p, const struct key_def *k)
{
    return (const char *)p + k->offset;
}

int policy_init_defaults(struct policy *p)
{
    *p = (struct policy){
        .forward_to = FORWARD_CHILD,
        .grace_period_ms = 10000,
        .descendant_grace_ms = 2000,
        .tail_size = 8ULL << 20,
        .log_tail_size = 256ULL << 10,
        .report_head_size = 1ULL << 20,
        .drain_timeout_ms = 2000,
        .exit_hook = true,
        .self_sandbox = true,
        .hook_timeout_ms = 30000,
        .watermark_hysteresis = 5,
        .watermark_interval_ms = 10000,
        .memory_poll = true,
        .rlimit_core = POLICY_UNSET,
        .rlimit_nofile = POLICY_UNSET,
        .rlimit_nproc = POLICY_UNSET,
        .rlimit_as = POLICY_UNSET,
        .restart_mode = RESTART_NEVER,
        .restart_min_delay_ms = 1000,
        .restart_max_delay_ms = 30000,
        .restart_burst = 5,
        .restart_window_ms = 60000,
        .bundle_mode = 0640,
        .bundle_max_size = 64ULL << 20,
        .max_bundles = 20,
        .max_total_bundles = 200,
        .max_total_size = 1ULL << 30,
        .keep_free = 256ULL << 20,
        .max_age_ms = 30ULL * 86400000,
        .rate_limit_burst = 5,
        .rate_limit_window_ms = 600000,
        .snapshot_budget_ms = 2000,
        .core_max_size = 4ULL << 30,
        .core_budget_ms = 30000,
        .core_include_exe = true,
    };
    /* The service keeps everything, GOGC and GOMEMLIMIT included: that is
     * the service's own choice. crashbox's own variables stay with it. */
    static const char *const watcher_unset[] = {"GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS",
                                                "GOTRACEBACK", "CRASHBOX_*"};
    p->termination_log = strdup("/dev/termination-log");
    int r = p->termination_log ? intlist_append(&p->normal_exit_codes, 0) : -ENOMEM;
    static const int watermarks[] = {80, 90, 95};
    for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(watermarks); i++)
        r = intlist_append(&p->watermarks, watermarks[i]);
    if (r >= 0)
        r = strlist_append(&p->env.keep, "*");
    if (r >= 0)
        r = strlist_append(&p->env.unset, "CRASHBOX_*");
    if (r >= 0)
        r = strlist_append(&p->watcher_env.keep, "*");
    for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(watcher_unset); i++)
        r = strlist_append(&p->watcher_env.unset, watcher_unset[i]);
    if (r < 0) {
        policy_free(p);
        return r;
    }
    return 0;
}

static void env_rules_free(struct env_rules *e)
{
    strlist_free(&e->keep);
    strlist_free(&e->unset);
    strlist_free(&e->set);
}

void policy_free(struct policy *p)
{
    free(p->service_name);
    strlist_free(&p->on_crash);
    intlist_free(&p->watermarks);
    free(p->termination_log);
    free(p->metrics_textfile);
    free(p->ship_to);
    free(p->ship_endpoint);
    free(p->sandbox_user);
    free(p->sandbox_group);
    strlist_free(&p->supplementary_groups);
    intlist_free(&p->capabilities);
    intlist_free(&p->ambient_capabilities);
    strlist_free(&p->seccomp_deny);
    free(p->bundle_dir);
    free(p->fallback_dir);
    free(p->bundle_group);
    intlist_free(&p->normal_exit_codes);
    intlist_free(&p->crash_signals);
    strlist_free(&p->redact);
    env_rules_free(&p->env);
    env_rules_free(&p->watcher_env);
    *p = (struct policy){0};
}

static bool env_name_char(char c, bool pattern)
{
    return isalnum((unsigned char)c) || c == '_' || (pattern && (c == '*' || c == '?'));
}

static bool valid_env_name(const char *s, size_t len, bool pattern)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!env_name_char(s[i], pattern))
            return false;
    return true;
}

static bool valid_exit_code(const char *s)
{
    if (!*s || strlen(s) > 3)
        return false;
    for (const char *c = s; *c; c++)
        if (!isdigit((unsigned char)*c))
            return false;
    return atoi(s) <= 255 && (s[0] != '0' || s[1] == '\0');
}

bool policy_is_normal_exit(const struct policy *p, int code)
{
    return intlist_has(&p->normal_exit_codes, code);
}

bool signal_only_ends(int sig)
{
    return sig == SIGHUP || sig == SIGINT || sig == SIGPIPE || sig == SIGTERM;
}

bool policy_is_crash_signal(const struct policy *p, int sig)
{
    return !signal_only_ends(sig) || intlist_has(&p->crash_signals, sig);
}

/* The keys whose value is one of two words: false, true. */
static const char *const *two_words(enum value_type t)
{
    static const char *const deny[] = {"eperm", "kill"}, *const reader[] = {"pass", "keep"};
    return t == V_READER_GONE ? reader : deny;
}

/* A value's parser: checks v and stores it into the policy. Returns NULL
 * on success, or a message describing what is wrong (static, or detail). */
typedef const char *value_parser(struct policy *p, const struct key_def *k, const char *v, char *detail,
                                 size_t dlen);

static const char *store_string(void *dst, const char *v)
{
    char *copy = NULL;
    if (*v && !(copy = strdup(v)))
        return "out of memory";
    free(*(char **)dst);
    *(char **)dst = copy;
    return NULL;
}

static const char *parse_string(struct policy *p, const struct key_def *k, const char *v, char *detail,
                                size_t dlen)
{
    (void)detail, (void)dlen;
    if (k->type == V_PATH && *v && v[0] != '/')
        return "must be an absolute path";
    struct s3_target t;
    if (k->type == V_S3URL && *v && s3_target_parse(v, &t) < 0)
        return "must be s3://BUCKET[/PREFIX] (bucket: 3-63 of a-z 0-9 . -)";
    if (k->type == V_URL && *v && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return "must be an http:// or https:// URL";
    if (k->type == V_NAME || k->type == V_IDNAME) {
        if (strlen(v) > 64)
            return "must be at most 64 characters";
        for (const char *c = v; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
                return k->type == V_IDNAME ? "must be a name from /etc/passwd or /etc/group, or a number"
                                           : "may hold only letters, digits, '-', '_' and '.'";
        if (k->type == V_NAME && v[0] == '.')
            return "must not start with '.'";
    }
    return store_string(field_ptr(p, k), v);
}

static const char *parse_size_or_duration(struct policy *p, const struct key_def *k, const char *v, char *detail,
                                          size_t dlen)
{
    uint64_t x;
    int r = k->type == V_SIZE ? parse_size(v, &x) : parse_duration(v, &x);
    if (r == -ERANGE)
        return "value too large";
    if (r < 0)
        return k->type == V_SIZE ? "invalid size (examples: 8MiB, 512K, 65536)"
                                 : "invalid duration (examples: 10s, 500ms, 1m30s)";
    if (x < k->min || x > k->max) {
        char lo[32], hi[32];
        if (k->type == V_SIZE) {
            format_size(k->min, lo, sizeof lo);
            format_size(k->max, hi, sizeof hi);
        } else {
            format_duration(k->min, lo, sizeof lo);
            format_duration(k->max, hi, sizeof hi);
        }
        snprintf(detail, dlen, "out of range: must be between %s and %s", lo, hi);
        return detail;
    }
    *(uint64_t *)field_ptr(p, k) = x;
    return NULL;
}

static const char *parse_rlimit(struct policy *p, const struct key_def *k, const char *v, char *detail,
                                size_t dlen)
{
    (void)detail, (void)dlen;
    uint64_t *dst = field_ptr(p, k), x;
    if (!*v)
        x = POLICY_UNSET;
    else if (strcmp(v, "unlimited") == 0)
        x = UINT64_MAX; /* RLIM_INFINITY */
    else if (parse_size(v, &x) < 0 || x >= POLICY_UNSET)
        return "invalid limit (a number, a size such as 4GiB, or unlimited)";
    *dst = x;
    return NULL;
}

static const char *parse_two_words(struct policy *p, const struct key_def *k, const char *v, char *detail,
                                   size_t dlen)
{
    const char *const *w = two_words(k->type);
    if (strcmp(v, w[0]) != 0 && strcmp(v, w[1]) != 0) {
        snprintf(detail, dlen, "must be '%s' or '%s'", w[0], w[1]);
        return detail;
    }
    *(bool *)field_ptr(p, k) = strcmp(v, w[1]) == 0;
    return NULL;
}

static const char *parse_number(struct policy *p, const struct key_def *k, const char *v, char *detail,
                                size_t dlen)
{
    bool mode = k->type == V_MODE;
    const char *invalid = mode ? "invalid mode (an octal number such as 0640)" : "invalid count (a whole number)";
    if (!*v || *v == '-' || *v == '+')
        return invalid;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, mode ? 8 : 10);
    if (*end || errno)
        return invalid;
    if (x < k->min || x > k->max) {
        snprintf(detail, dlen, mode ? "out of range: at most %llo" : "out of range: %llu to %llu",
                 mode ? (unsigned long long)k->max : (unsigned long long)k->min, (unsigned long long)k->max);
        return detail;
    }
    *(uint64_t *)field_ptr(p, k) = x;
    return NULL;
}

static const char *parse_bool_value(struct policy *p, const struct key_def *k, const char *v, char *detail,
                                    size_t dlen)
{
    (void)detail, (void)dlen;
    return parse_bool(v, (bool *)field_ptr(p, k)) < 0 ? "invalid boolean (use yes or no)" : NULL;
}

/* The words of a one-of key, in the order of its enum. */
static const char *const *choices(enum value_type t, const char **all)
{
    static const char *const restart[] = {"never", "on-crash", "always", NULL};
    static const char *const forward[] = {"child", "group", NULL};
    *all = t == V_RESTART ? "must be 'never', 'on-crash' or 'always'" : "must be 'child' or 'group'";
    return t == V_RESTART ? restart : forward;
}

static const char *parse_choice(struct policy *p, const struct key_def *k, const char *v, char *detail,
                                size_t dlen)
{
    (void)detail, (void)dlen;
    const char *all;
    const char *const *w = choices(k->type, &all);
    for (int i = 0; w[i]; i++) {
        if (strcmp(v, w[i]) == 0) {
            if (k->type == V_RESTART)
                *(enum restart_mode *)field_ptr(p, k) = (enum restart_mode)i;
            else
                *(enum forward_target *)field_ptr(p, k) = (enum forward_target)i;
            return NULL;
        }
    }
    return all;
}

/* The list keys stored as numbers, resolved here once (struct intlist). */
static bool numeric_list(enum value_type t)
{
    return t == V_SIGNALS || t == V_PERCENTS || t == V_EXIT_CODES || t == V_CAPS;
}

/* A list item's check: NULL if item is good, else the message, in detail.
 * For a numeric list, *num is its value. */
static const char *check_item(const struct key_def *k, const char *it, size_t index, int *num, char *detail,
                              size_t dlen)
{
    const char *eq = strchr(it, '=');
    bool ok = true;
    switch (k->type) {
    case V_SIGNALS:
        *num = signal_from_name(it);
        if (!(ok = *num > 0 && signal_only_ends(*num)))
            snprintf(detail, dlen, "'%s' is not one of the signals that only end a process "
                     "(HUP INT PIPE TERM); any other death by a signal is a crash already", it);
        break;
    case V_CAPS:
        if (!(ok = sandbox_capability_known(it, num)))
            snprintf(detail, dlen, "unknown capability '%s' (e.g. CAP_NET_BIND_SERVICE)", it);
        break;
    case V_SYSCALLS:
        if (!(ok = sandbox_syscall_known(it)))
            snprintf(detail, dlen, "unknown system call '%s' on this architecture", it);
        break;
    case V_GROUPS:
        if (!(ok = strlen(it) <= 64))
            snprintf(detail, dlen, "'%s' is not a group name or number", it);
        break;
    case V_PERCENTS: {
        char *e;
        long x = strtol(it, &e, 10);
        *num = (int)x;
        if (!(ok = !*e && x >= 1 && x <= 99 && index < 8))
            snprintf(detail, dlen, "'%s' is not a percent of the limit (1 to 99, at most 8)", it);
        break;
    }
    case V_PATTERNS:
        if (!(ok = valid_env_name(it, strlen(it), true)))
            snprintf(detail, dlen, "'%s' is not a variable name pattern (letters, digits, _, * and ?)", it);
        break;
    case V_EXIT_CODES:
        if ((ok = valid_exit_code(it)))
            *num = atoi(it);
        else
            snprintf(detail, dlen, "'%s' is not an exit code (0 to 255)", it);
        break;
    case V_ASSIGNMENTS:
        if (!(ok = eq && valid_env_name(it, (size_t)(eq - it), false)))
            snprintf(detail, dlen, "'%s' is not of the form NAME=VALUE", it);
        break;
    default:
        break; /* V_COMMAND: any words */
    }
    return ok ? NULL : detail;
}

/* Every list key: the words, each checked, stored whole or not at all. */
static const char *parse_list(struct policy *p, const struct key_def *k, const char *v, char *detail, size_t dlen)
{
    bool none_clears = k->type == V_GROUPS || k->type == V_CAPS || k->type == V_SYSCALLS;
    struct strlist l;
    int r = strlist_parse(none_clears && strcmp(v, "none") == 0 ? "" : v, &l);
    if (r < 0)
        return r == -ENOMEM ? "out of memory" : "unterminated quote";
    struct intlist nums = {0};
    for (size_t i = 0; i < l.n; i++) {
        int num = 0;
        const char *bad = check_item(k, l.items[i], i, &num, detail, dlen);
        if (!bad && numeric_list(k->type) && intlist_append(&nums, num) < 0)
            bad = "out of memory";
        if (bad) {
            strlist_free(&l);
            intlist_free(&nums);
            return bad;
        }
    }
    if (numeric_list(k->type)) {
        strlist_free(&l);
        struct intlist *dst = field_ptr(p, k);
        intlist_free(dst);
        *dst = nums;
    } else {
        struct strlist *dst = field_ptr(p, k);
        strlist_free(dst);
        *dst = l;
    }
    if (k->flag)
        *(bool *)((char *)p + k->flag) = *v != '\0';
    return NULL;
}

static value_parser *const parsers[] = {
    [V_STRING] = parse_string,         [V_PATH] = parse_string,       [V_NAME] = parse_string,
    [V_S3URL] = parse_string,          [V_URL] = parse_string,        [V_IDNAME] = parse_string,
    [V_SIZE] = parse_size_or_duration, [V_DURATION] = parse_size_or_duration,
    [V_RLIMIT] = parse_rlimit,         [V_DENY_ACTION] = parse_two_words, [V_READER_GONE] = parse_two_words,
    [V_MODE] = parse_number,           [V_COUNT] = parse_number,      [V_BOOL] = parse_bool_value,
    [V_RESTART] = parse_choice,        [V_FORWARD] = parse_choice,
    [V_SIGNALS] = parse_list,          [V_GROUPS] = parse_list,       [V_CAPS] = parse_list,
    [V_SYSCALLS] = parse_list,         [V_PERCENTS] = parse_list,     [V_COMMAND] = parse_list,
    [V_PATTERNS] = parse_list,         [V_ASSIGNMENTS] = parse_list,  [V_EXIT_CODES] = parse_list,
};

static const char *set_value(struct policy *p, const struct key_def *k, const char *v, char *detail, size_t dlen)
{
    if ((size_t)k->type >= ARRAY_SIZE(parsers) || !parsers[k->type])
        return "internal error: unknown type";
    return parsers[k->type](p, k, v, detail, dlen);
}

static bool is_section(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (strlen(keys[i].section) == len && strncmp(keys[i].section, name, len) == 0)
            return true;
    return false;
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

int policy_parse(const char *file, const char *buf, size_t len, struct policy *out, struct diags *d)
{
    struct policy p;
    int r = policy_init_defaults(&p);
    if (r < 0)
        return r;
    size_t errors_before = d->n + d->dropped;
    unsigned seen_line[ARRAY_SIZE(keys)] = {0};
    char section[64] = "";
    bool section_known = false, section_valid = false;
    struct {
        char name[64];
        unsigned line;
    } sections[16];
    size_t nsections = 0;

    const char *pos = buf, *end = buf + len;
    for (unsigned lineno = 1; pos < end; lineno++) {
        const char *eol = memchr(pos, '\n', (size_t)(end - pos));
        const char *ls = pos, *le = eol ? eol : end;
        pos = eol ? eol + 1 : end;
        if (memchr(ls, '\0', (size_t)(le - ls))) {
            diags_add(d, file, lineno, "binary data (NUL byte) in a policy file");
            continue;
        }
        trim(&ls, &le);
        if (ls == le || *ls == '#' || *ls == ';')
            continue;
        size_t ll = (size_t)(le - ls);
        if (ll > 4096) {
            diags_add(d, file, lineno, "line too long (%zu bytes, at most 4096)", ll);
            continue;
        }
        if (*ls == '[') {
            section_known = section_valid = false;
            if (le[-1] != ']') {
                diags_add(d, file, lineno, "section header must end with ']'");
                continue;
            }
            const char *ns = ls + 1, *ne = le - 1;
            trim(&ns, &ne);
            size_t nl = (size_t)(ne - ns);
            if (!is_section(ns, nl)) {
                diags_add(d, file, lineno, "unknown section [%.*s]", (int)(nl > 64 ? 64 : nl), ns);
                section_known = true; /* its keys are not reported one by one */
                continue;
            }
            memcpy(section, ns, nl);
            section[nl] = '\0';
            section_known = section_valid = true;
            for (size_t i = 0; i < nsections; i++)
                if (strcmp(sections[i].name, section) == 0) {
                    diags_add(d, file, lineno, "duplicate section [%s] (first at line %u)", section,
                              sections[i].line);
                }
            if (nsections < ARRAY_SIZE(sections)) {
                snprintf(sections[nsections].name, sizeof sections[nsections].name, "%s", section);
                sections[nsections++].line = lineno;
            }
            continue;
        }
        const char *eq = memchr(ls, '=', ll);
        if (!eq) {
            diags_add(d, file, lineno, "expected 'key = value' or '[section]'");
            continue;
        }
        const char *ks = ls, *ke = eq, *vs = eq + 1, *ve = le;
        trim(&ks, &ke);
        trim(&vs, &ve);
        size_t kl = (size_t)(ke - ks);
        if (!section_known) {
            diags_add(d, file, lineno, "key '%.*s' outside of any section", (int)(kl > 64 ? 64 : kl), ks);
            continue;
        }
        if (!section_valid)
            continue;
        const struct key_def *k = NULL;
        size_t ki = 0;
        for (; ki < ARRAY_SIZE(keys); ki++)
            if (strcmp(keys[ki].section, section) == 0 && strlen(keys[ki].key) == kl &&
                strncmp(keys[ki].key, ks, kl) == 0) {
                k = &keys[ki];
                break;
            }
        if (!k) {
            diags_add(d, file, lineno, "unknown key '%.*s' in [%s]", (int)(kl > 64 ? 64 : kl), ks,
                      section);
            continue;
        }
        if (seen_line[ki]) {
            diags_add(d, file, lineno, "duplicate key '%s' (first set at line %u)", k->key, seen_line[ki]);
            continue;
        }
        seen_line[ki] = lineno;
        char value[4097], detail[256];
        memcpy(value, vs, (size_t)(ve - vs));
        value[ve - vs] = '\0';
        const char *err = set_value(&p, k, value, detail, sizeof detail);
        if (err)
            diags_add(d, file, lineno, "%s: %s", k->key, err);
    }

    /* Checks across keys, reported at the line of the second one. */
    if (p.ambient_capabilities.n && !p.set_capabilities) {
        unsigned line = 0;
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
            if (!strcmp(keys[i].key, "ambient_capabilities"))
                line = seen_line[i];
        diags_add(d, file, line, "ambient_capabilities: needs capabilities (the kept set) too");
    }
    if (p.restart_min_delay_ms > p.restart_max_delay_ms) {
        unsigned line = 0;
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
            if (!strcmp(keys[i].section, "restart") && seen_line[i] > line)
                line = seen_line[i];
        diags_add(d, file, line, "min_delay: longer than max_delay");
    }
    if (d->n + d->dropped != errors_before) {
        policy_free(&p);
        return -EINVAL;
    }
    policy_free(out);
    *out = p;
    return 0;
}

int policy_load(const char *path, struct policy *p, struct diags *d)
{
    /* O_NONBLOCK: a FIFO planted where the policy should be must not hang us. */
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int r = -errno;
        diags_add(d, path, 0, "cannot open: %s", strerror(-r));
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        diags_add(d, path, 0, "not a regular file");
        return -EINVAL;
    }
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = read_fd_all(fd, POLICY_MAX_BYTES, &buf, &len);
    if (r == -EFBIG) {
        diags_add(d, path, 0, "too large (at most %d bytes)", POLICY_MAX_BYTES);
        return r;
    }
    if (r < 0) {
        diags_add(d, path, 0, "cannot read: %s", strerror(-r));
        return r;
    }
    return policy_parse(path, buf, len, p, d);
}

static void dump_value(const struct policy *p, const struct key_def *k, FILE *f)
{
    const void *v = field_cptr(p, k);
    char buf[64];
    switch (k->type) {
    case V_STRING:
    case V_PATH:
    case V_S3URL:
    case V_URL:
    case V_NAME: {
        const char *s = *(char *const *)v;
        fprintf(f, "%s =%s%s\n", k->key, s ? " " : "", s ? s : "");
        return;
    }
    case V_SIZE:
        format_size(*(const uint64_t *)v, buf, sizeof buf);
        break;
    case V_DURATION:
        format_duration(*(const uint64_t *)v, buf, sizeof buf);
        break;
    case V_BOOL:
        snprintf(buf, sizeof buf, "%s", *(const bool *)v ? "yes" : "no");
        break;
    case V_MODE:
        snprintf(buf, sizeof buf, "%04llo", (unsigned long long)*(const uint64_t *)v);
        break;
    case V_IDNAME: {
        const char *str = *(char *const *)v;
        fprintf(f, "%s =%s%s\n", k->key, str ? " " : "", str ? str : "");
        return;
    }
    case V_RLIMIT: {
        uint64_t x = *(const uint64_t *)v;
        if (x == POLICY_UNSET) {
            fprintf(f, "%s =\n", k->key);
            return;
        }
        if (x == UINT64_MAX)
            snprintf(buf, sizeof buf, "unlimited");
        else
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)x);
        break;
    }
    case V_DENY_ACTION:
    case V_READER_GONE:
        snprintf(buf, sizeof buf, "%s", two_words(k->type)[*(const bool *)v]);
        break;
    case V_COUNT:
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)*(const uint64_t *)v);
        break;
    case V_FORWARD:
        snprintf(buf, sizeof buf, "%s", *(const enum forward_target *)v == FORWARD_GROUP ? "group" : "child");
        break;
    case V_RESTART: {
        static const char *const modes[] = {"never", "on-crash", "always"};
        snprintf(buf, sizeof buf, "%s", modes[*(const enum restart_mode *)v]);
        break;
    }
    case V_EXIT_CODES:
    case V_PERCENTS:
    case V_SIGNALS:
    case V_CAPS: {
        const struct intlist *l = v;
        if (k->flag && *(const bool *)((const char *)p + k->flag) && l->n == 0) {
            fprintf(f, "%s = none\n", k->key);
            return;
        }
        fprintf(f, "%s =", k->key);
        for (size_t i = 0; i < l->n; i++) {
            if (k->type == V_SIGNALS)
                snprintf(buf, sizeof buf, "%s", signal_name(l->v[i]));
            else if (k->type == V_CAPS)
                sandbox_capability_name(l->v[i], buf, sizeof buf);
            else
                snprintf(buf, sizeof buf, "%d", l->v[i]);
            fprintf(f, " %s", buf);
        }
        fputc('\n', f);
        return;
    }
    case V_PATTERNS:
    case V_ASSIGNMENTS:
    case V_COMMAND:
    case V_GROUPS:
    case V_SYSCALLS: {
        const struct strlist *l = v;
        if (k->flag && *(const bool *)((const char *)p + k->flag) && l->n == 0) {
            fprintf(f, "%s = none\n", k->key);
            return;
        }
        size_t need = strlist_format(l, NULL, 0) + 1;
        _cleanup_free_ char *s = malloc(need);
        if (!s)
            return;
        strlist_format(l, s, need);
        fprintf(f, "%s =%s%s\n", k->key, *s ? " " : "", s);
        return;
    }
    }
    fprintf(f, "%s = %s\n", k->key, buf);
}

void policy_dump(const struct policy *p, FILE *f)
{
    const char *section = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (!section || strcmp(section, keys[i].section) != 0) {
            fprintf(f, "%s[%s]\n", section ? "\n" : "", keys[i].section);
            section = keys[i].section;
        }
        dump_value(p, &keys[i], f);
    }
}
