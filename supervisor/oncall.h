/* SPDX-License-Identifier: MIT */
/* The on-call commands (coredumpctl for Go services): ls, show, extract,
 * top. They read the writers' index, and the manifests of bundles it does
 * not know; foreign and corrupt files are listed as such, never fatal. */
#pragma once

int oncall_ls(int argc, char **argv);
int oncall_show(int argc, char **argv);
int oncall_extract(int argc, char **argv);
int oncall_top(int argc, char **argv);

/* A bundle's summary from its own manifest (and name), for bundles the
 * index does not know. Returns 0, or <0 with the message saying why. */
struct index_entry;
int bundle_summary_read(int dirfd, const char *name, struct index_entry *e);
