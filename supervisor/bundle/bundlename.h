/* SPDX-License-Identifier: MIT */
/* A bundle's file name, both ways. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* "<service>-<yyyymmddThhmmssZ>-<host>-<pid>-<kind>.tar.zst" */
void bundle_name(char *out, size_t cap, const char *service, time_t t, const char *host, const char *pid,
                 const char *kind);

/* The fields of a bundle file name; false if it is not one of ours. */
struct bundle_name_parts {
    char service[80];
    time_t time;
    char host[64];
    int pid;
    char kind[24];
};
bool bundle_name_parse(const char *name, struct bundle_name_parts *out);
