/* SPDX-License-Identifier: MIT */
/* The on-call commands (coredumpctl for Go services): ls, show, extract,
 * top, debug. They read the writers' index, and the manifests of bundles it does
 * not know; foreign and corrupt files are listed as such, never fatal. */
#pragma once

#include <stddef.h>

int oncall_ls(int argc, char **argv);
int oncall_show(int argc, char **argv);
int oncall_extract(int argc, char **argv);
int oncall_top(int argc, char **argv);
/* Unpacks a bundle's core and executable and opens them in dlv core. */
int oncall_debug(int argc, char **argv);

/* A bundle's summary from its own manifest (and name), for bundles the
 * index does not know. Returns 0, or <0 with the message saying why. */
struct index_entry;
int bundle_summary_read(int dirfd, const char *name, struct index_entry *e);

/* ls and top read a store's bundles (DIR is s3://...) through this, when
 * set: crashbox-ship sets it, crashbox runs crashbox-ship for those. Rows
 * are type 'B' entries whose name is the object's key under the prefix. */
extern int (*oncall_remote)(const char *where, struct index_entry **v, size_t *n);
