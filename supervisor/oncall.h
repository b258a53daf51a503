/* SPDX-License-Identifier: MIT */
/* The on-call commands (coredumpctl for Go services): ls, show, extract,
 * top, debug. They read the writers' index, and the manifests of bundles it does
 * not know; foreign and corrupt files are listed as such, never fatal. */
#pragma once

int oncall_ls(int argc, char **argv);
int oncall_show(int argc, char **argv);
int oncall_extract(int argc, char **argv);
int oncall_top(int argc, char **argv);
/* Unpacks a bundle's core and executable and opens them in dlv core. */
int oncall_debug(int argc, char **argv);
