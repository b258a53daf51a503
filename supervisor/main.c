/* SPDX-License-Identifier: MIT */
/* crashbox: a crash-handling supervisor for Go services in containers.
 * main() parses the command line and dispatches; only it decides to exit. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "envbuild.h"
#include "exitstatus.h"
#include "goparse.h"
#include "json.h"
#include "log.h"
#include "names.h"
#include "oncall.h"
#include "policy.h"
#include "shipexec.h"
#include "supervise.h"
#include "util.h"

#define PARSE_MAX_INPUT (4ULL << 30)

#ifndef CRASHBOX_VERSION
#define CRASHBOX_VERSION "0.1.0"
#endif

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: crashbox [-p POLICY] [-d BUNDLE_DIR] [-v] -- CMD [ARG...]\n"
            "       crashbox check POLICY...\n"
            "       crashbox parse [FILE|-]\n"
            "       crashbox ls [--json] [--service S] [--kind K] [--since T] [--until T]\n"
            "                   [--fingerprint F] [DIR]\n"
            "       crashbox show [--json] [-d DIR] BUNDLE|NAME-PREFIX\n"
            "       crashbox extract BUNDLE [DIR]\n"
            "       crashbox debug BUNDLE [DIR]\n"
            "       crashbox top [--json] [filters as ls] [DIR]\n"
            "\n"
            "Runs CMD as a supervised child: forwards signals, reaps zombies, relays\n"
            "its stderr and exits with its status (128+N for a death by signal N).\n"
            "\n"
            "  -p, --policy FILE      per-service policy (env CRASHBOX_POLICY)\n"
            "  -d, --bundle-dir DIR   where crash bundles go (env CRASHBOX_BUNDLE_DIR)\n"
            "  -v, --verbose          debug messages on stderr\n"
            "  -h, --help             this text\n"
            "  -V, --version          the version\n"
            "\n"
            "Exit codes of crashbox itself: %d usage, %d invalid policy, %d system failure;\n"
            "%d command not executable, %d command not found.\n",
            EXIT_CRASHBOX_USAGE, EXIT_CRASHBOX_POLICY, EXIT_CRASHBOX_SYSTEM,
            EXIT_EXEC_NOT_EXECUTABLE, EXIT_EXEC_NOT_FOUND);
}

/* fds 0-2 must exist: otherwise the first pipe we make would become the
 * service's stdin or our own log channel. */
static int ensure_std_fds(void)
{
    /* One poll says which are closed (POLLNVAL), where a fcntl each would. */
    struct pollfd p[3] = {{.fd = 0}, {.fd = 1}, {.fd = 2}};
    if (poll(p, 3, 0) < 0)
        return -errno;
    for (int fd = 0; fd <= 2; fd++) {
        if (!(p[fd].revents & POLLNVAL))
            continue;
        int n = open("/dev/null", O_RDWR);
        if (n < 0)
            return -errno;
        if (n != fd)
            return -EBADFD;
    }
    return 0;
}

/* What a start resolves before the service exists, resolved here too, so a
 * policy that checks is one that starts. */
static bool policy_names_resolve(const char *file, const struct policy *p)
{
    struct policy_ids ids;
    char err[300];
    if (policy_resolve_ids(p, "", &ids, err, sizeof err) < 0) {
        fprintf(stderr, "%s: [sandbox] %s\n", file, err);
        return false;
    }
    return true;
}

static int cmd_check(int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "crashbox check: no policy file given\n");
        return EXIT_CRASHBOX_USAGE;
    }
    int bad = 0;
    for (int i = 0; i < argc; i++) {
        struct policy p;
        if (policy_init_defaults(&p) < 0)
            return EXIT_CRASHBOX_SYSTEM;
        struct diags d = {0};
        if (policy_load(argv[i], &p, &d) < 0) {
            diags_print(&d, stderr);
            if (!d.n)
                fprintf(stderr, "%s: cannot load\n", argv[i]);
            bad = 1;
        } else if (!policy_names_resolve(argv[i], &p)) {
            bad = 1;
        } else {
            if (argc > 1)
                printf("# %s\n", argv[i]);
            policy_dump(&p, stdout);
        }
        diags_free(&d);
        policy_free(&p);
    }
    fflush(stdout);
    return bad ? EXIT_CRASHBOX_POLICY : 0;
}

/* Prints the Go crash found in FILE (or stdin) as the manifest's "crash"
 * object; "null" and exit 1 when there is none. */
static int cmd_parse(int argc, char **argv)
{
    const char *path = argc > 0 ? argv[0] : "-";
    _cleanup_close_ int fd = strcmp(path, "-") == 0 ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                                                    : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        fprintf(stderr, "crashbox parse: %s: %s\n", path, strerror(errno));
        return EXIT_CRASHBOX_USAGE;
    }
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = read_fd_all(fd, PARSE_MAX_INPUT, &buf, &len);
    if (r < 0) {
        fprintf(stderr, "crashbox parse: %s: %s\n", path,
                r == -EFBIG ? "larger than 4 GiB" : strerror(-r));
        return EXIT_CRASHBOX_USAGE;
    }
    struct go_crash c;
    r = goparse_crash(buf, len, &c);
    if (r <= 0) {
        go_crash_free(&c);
        if (r < 0)
            return EXIT_CRASHBOX_SYSTEM;
        printf("null\n");
        return 1;
    }
    struct json j;
    json_init(&j, true);
    go_crash_to_json(&c, NULL, &j);
    go_crash_free(&c);
    if (json_failed(&j)) {
        json_free(&j);
        return EXIT_CRASHBOX_SYSTEM;
    }
    printf("%s\n", j.buf);
    json_free(&j);
    return 0;
}

static void policy_freep(struct policy *p) { policy_free(p); }
static void envp_freep(char ***e) { env_free(*e); }

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'},
        {"bundle-dir", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0},
    };
    const char *policy_path = getenv("CRASHBOX_POLICY");
    const char *bundle_dir = getenv("CRASHBOX_BUNDLE_DIR");
    int c;
    /* '+': options end at the first word of the command. */
    while ((c = getopt_long(argc, argv, "+p:d:vhV", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            policy_path = optarg;
            break;
        case 'd':
            bundle_dir = optarg;
            break;
        case 'v':
            log_set_level(LOG_DEBUG);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
#if defined(__SANITIZE_ADDRESS__)
            printf("crashbox %s (built with sanitizers)\n", CRASHBOX_VERSION);
#else
            printf("crashbox %s\n", CRASHBOX_VERSION);
#endif
            return 0;
        default:
            usage(stderr);
            return EXIT_CRASHBOX_USAGE;
        }
    }
    if (optind >= argc) {
        log_error("no command given (crashbox [OPTIONS] -- CMD [ARG...])");
        return EXIT_CRASHBOX_USAGE;
    }
    if (ensure_std_fds() < 0)
        return EXIT_CRASHBOX_SYSTEM;

    __attribute__((cleanup(policy_freep))) struct policy pol = {0};
    if (policy_init_defaults(&pol) < 0)
        return EXIT_CRASHBOX_SYSTEM;
    if (policy_path && *policy_path) {
        struct diags d = {0};
        int r = policy_load(policy_path, &pol, &d);
        if (r < 0) {
            diags_print(&d, stderr);
            diags_free(&d);
            log_error("invalid policy %s: not starting the service", policy_path);
            return EXIT_CRASHBOX_POLICY;
        }
        diags_free(&d);
    }
    if (bundle_dir && *bundle_dir) {
        free(pol.bundle_dir);
        pol.bundle_dir = strdup(bundle_dir);
    }

    __attribute__((cleanup(envp_freep))) char **envp = NULL;
    int r = env_build(environ, &pol.env, &envp);
    if (r < 0) {
        log_error("cannot build the service's environment: %s", strerror(-r));
        return EXIT_CRASHBOX_SYSTEM;
    }
    int sfd = signals_take_over();
    if (sfd < 0) {
        log_error("cannot take over signals: %s", strerror(-sfd));
        return EXIT_CRASHBOX_SYSTEM;
    }
    struct service_run run = {
        .argv = argv + optind,
        .envp = envp,
        .policy = &pol,
        .signal_fd = sfd,
    };
    int code = supervise(&run);
    close(sfd);
    return code;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "parse") == 0)
        return cmd_parse(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "ship") == 0)
        return ship_exec(argc - 1, argv + 1);
    /* ls, top and show of a store (s3://...) run in crashbox-ship, which has libcurl. */
    bool remote = argc >= 2 && (!strcmp(argv[1], "ls") || !strcmp(argv[1], "top") || !strcmp(argv[1], "show"));
    for (int i = 2; remote && i < argc; i++)
        if (strncmp(argv[i], "s3://", 5) == 0)
            return ship_exec(argc - 1, argv + 1);
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } oncall[] = {{"ls", oncall_ls}, {"show", oncall_show}, {"extract", oncall_extract}, {"top", oncall_top},
                  {"debug", oncall_debug}};
    for (size_t i = 0; argc >= 2 && i < ARRAY_SIZE(oncall); i++)
        if (strcmp(argv[1], oncall[i].name) == 0)
            return oncall[i].fn(argc - 1, argv + 1);
    return cmd_run(argc, argv);
}
