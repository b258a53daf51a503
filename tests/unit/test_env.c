#include <criterion/criterion.h>
#include <string.h>

#include "envbuild.h"

static char *base[] = {"PATH=/bin", "GOGC=off", "GOMEMLIMIT=30GiB", "GODEBUG=x=1",
                       "GOMAXPROCS=4", "GOTRACEBACK=crash", "SECRET_TOKEN=abc",
                       "CRASHBOX_POLICY=/p", "PATH=/second", "junk", "=empty", NULL};

static size_t count(char **env)
{
    size_t n = 0;
    while (env[n])
        n++;
    return n;
}

Test(env, service_keeps_go_tuning_by_default)
{
    struct policy p;
    policy_init_defaults(&p);
    char **env;
    cr_assert_eq(env_build(base, &p.env, &env), 0);
    cr_assert_str_eq(env_get(env, "GOGC"), "off");
    cr_assert_str_eq(env_get(env, "GOMEMLIMIT"), "30GiB");
    cr_assert_str_eq(env_get(env, "PATH"), "/bin", "the first of duplicate names wins");
    cr_assert_null(env_get(env, "CRASHBOX_POLICY"), "crashbox's own settings stay with it");
    cr_assert_eq(count(env), 7);
    env_free(env);
    policy_free(&p);
}

Test(env, watchers_lose_go_runtime_tuning)
{
    struct policy p;
    policy_init_defaults(&p);
    char **env;
    cr_assert_eq(env_build(base, &p.watcher_env, &env), 0);
    const char *stripped[] = {"GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS", "GOTRACEBACK"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_null(env_get(env, stripped[i]), "%s leaked to a watcher", stripped[i]);
    cr_assert_str_eq(env_get(env, "PATH"), "/bin");
    cr_assert_str_eq(env_get(env, "SECRET_TOKEN"), "abc");
    env_free(env);
    policy_free(&p);
}

Test(env, keep_unset_and_set_compose)
{
    struct env_rules r = {0};
    strlist_parse("PATH GO*", &r.keep);
    strlist_parse("GOMEM*", &r.unset);
    strlist_parse("GOGC=100 NEW=a=b", &r.set);
    char **env;
    cr_assert_eq(env_build(base, &r, &env), 0);
    cr_assert_str_eq(env_get(env, "GOGC"), "100", "set replaces a kept value");
    cr_assert_null(env_get(env, "GOMEMLIMIT"));
    cr_assert_null(env_get(env, "SECRET_TOKEN"), "not in keep");
    cr_assert_str_eq(env_get(env, "NEW"), "a=b");
    cr_assert_str_eq(env_get(env, "GODEBUG"), "x=1");
    /* PATH GOGC GODEBUG GOMAXPROCS GOTRACEBACK NEW */
    cr_assert_eq(count(env), 6);
    env_free(env);
    strlist_free(&r.keep);
    strlist_free(&r.unset);
    strlist_free(&r.set);
}

Test(env, empty_keep_passes_nothing)
{
    struct env_rules r = {0};
    char **env;
    cr_assert_eq(env_build(base, &r, &env), 0);
    cr_assert_eq(count(env), 0);
    env_free(env);
}
